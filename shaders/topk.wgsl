// Top-k indices along the last axis, one invocation per row: k passes, each picking the largest entry that ranks
// below the previous pick in the order (value descending, index ascending), so ties come out lowest index first.

#include topk_dims
override WG: u32;
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= dims.rows) { return; }
  let row = r * dims.C;
  var pv = 0.0;
  var pi = -1;
  for (var j = 0u; j < dims.k; j++) {
    var bv = 0.0;
    var bi = -1;
    for (var c = 0; c < i32(dims.C); c++) {
      let v = x[row + u32(c)];
      let below = pi < 0 || v < pv || (v == pv && c > pi);
      if (below && (bi < 0 || v > bv)) { bv = v; bi = c; }
    }
    out[r * dims.k + j] = bi;
    pv = bv;
    pi = bi;
  }
}
