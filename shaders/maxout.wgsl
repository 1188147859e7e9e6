// Maxout over the last axis: output o is the max of the k inputs o*k .. o*k+k-1. One invocation per output; the
// backward invocation owns its whole group, so it writes every input gradient of the group and needs no atomics.
// Ties go to the first index (strict comparison), as in the CPU reference.
// With GRAD: dx = dy at the group's argmax, 0 elsewhere.

#include maxout_dims
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
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= dims.outs) { return; }
  let k = dims.k;
  let base = o * k;
  var best = 0u;
  for (var j = 1u; j < k; j++) {
    if (x[base + j] > x[base + best]) { best = j; }
  }
#if GRAD
  let g = dy[o];
  for (var j = 0u; j < k; j++) { out[base + j] = select(0.0, g, j == best); }
#else
  out[o] = x[base + best];
#endif
}
