// Softmax cross-entropy with integer labels, one invocation per row; the row max is subtracted before exp.
// Forward: loss_i = log Σ exp(z_ic - max_i) + max_i - z_i,label.   With GRAD, backward: (softmax - onehot) · dy_i.
// A row whose label is the ignore index (when `hasIgnore`) has loss 0 and gradient 0.

#include softmax_xent_dims
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
#if GRAD
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= dims.B) { return; }
  let C = dims.C;
  let row = i * C;
  if (dims.hasIgnore == 1u && labels[i] == bitcast<i32>(dims.ignore)) {
#if GRAD
    for (var c = 0u; c < C; c++) { out[row + c] = 0.0; }
#else
    out[i] = 0.0;
#endif
    return;
  }
  var mx = z[row];
  for (var c = 1u; c < C; c++) { mx = max(mx, z[row + c]); }
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += exp(z[row + c] - mx); }
  let label = u32(labels[i]);
#if GRAD
  let g = dy[i];
  for (var c = 0u; c < C; c++) {
    out[row + c] = (exp(z[row + c] - mx) / s - select(0.0, 1.0, c == label)) * g;
  }
#else
  out[i] = log(s) + mx - z[row + label];
#endif
}
