// Softmax over the last axis, one invocation per row, with an optional mask (see src/graph/attention.ts):
//   CAUSAL: row r is query q = r % Tq of a [..., Tq, C] block and sees keys k <= q + C - Tq;
//   LENGTHS: row r belongs to batch index b = r / perBatch and sees keys k < lengths[b].
// Masked entries are 0 and are left out of the max and the normaliser; a row that sees no key is all zeros.

#include softmax_dims
override WG: u32;
override CAUSAL: u32 = 0u;
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if LENGTHS
@group(0) @binding(2) var<storage, read> lengths: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= dims.rows) { return; }
  let C = dims.C;
  let row = r * C;
  var end = C;
  if (CAUSAL == 1u) { end = min(end, r % dims.Tq + C - dims.Tq + 1u); }
#if LENGTHS
  end = min(end, u32(max(lengths[r / dims.perBatch], 0)));
#endif
  for (var c = end; c < C; c++) { out[row + c] = 0.0; }
  if (end == 0u) { return; }
  var mx = x[row];
  for (var c = 1u; c < end; c++) { mx = max(mx, x[row + c]); }
  var s = 0.0;
  for (var c = 0u; c < end; c++) { s += exp(x[row + c] - mx); }
  let inv = 1.0 / s;
  for (var c = 0u; c < end; c++) { out[row + c] = exp(x[row + c] - mx) * inv; }
}
