// max(1, the number of labels that differ from the ignore index), as one float: the divisor of a sequence loss's
// mean. One workgroup; counts are integers, so the order of the sums does not matter.

#include label_count_dims
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<u32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  var k = 0u;
  for (var i = lid; i < dims.N; i += 64u) { k += select(0u, 1u, labels[i] != bitcast<i32>(dims.ignore)); }
  partial[lid] = k;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w = w / 2u) {
    if (lid < w) { partial[lid] += partial[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = f32(max(partial[0], 1u)); }
}
