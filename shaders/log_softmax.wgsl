// Log-softmax over the last axis, one invocation per row (like softmax_xent.wgsl).
// Forward: y = x - max - log(sum of exp(x - max)); the max is subtracted first, so no exp overflows.
// With GRAD, x holds the saved output y, and dx = dy - exp(y) * (sum of dy over the row).
// With ROW_MAX, only the row's largest log-probability, max - lse (maxout(log_softmax(x), C) fused, schedule/fuse.ts;
// the largest x - lse is the max's, as x - lse rounds monotonically): one value per row.

#include log_softmax_dims
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if GRAD
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= dims.rows) { return; }
  let C = dims.C;
  let row = r * C;
#if GRAD
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += dy[row + c]; }
  for (var c = 0u; c < C; c++) { out[row + c] = dy[row + c] - exp(x[row + c]) * s; }
#else
  var mx = x[row];
  for (var c = 1u; c < C; c++) { mx = max(mx, x[row + c]); }
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += exp(x[row + c] - mx); }
  let lse = mx + log(s);
#if ROW_MAX
  out[r] = mx - lse;
#else
  for (var c = 0u; c < C; c++) { out[row + c] = x[row + c] - lse; }
#endif
#endif
}
