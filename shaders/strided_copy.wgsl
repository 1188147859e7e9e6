// The copy behind concat, slice and pad. Output coordinate c reads source k at c - offset_k, from the first source
// whose shape contains that coordinate, and is 0 where none does (the padding). Sources are contiguous.
// A concat has one source per input, offset along its axis; a slice has one source at minus its begin; a pad has one
// source at its leading padding. Switches IN2 .. IN7 bind the 2nd .. 7th source.
// The uniform's fields (SC_N, SC_OUT_SHAPE, SC_SOURCES, ...) are generated from STRIDED_COPY_PARAMS in
// src/backends/webgpu/contracts.ts: per source, its offset (i32 bits) and then its shape.

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)
// The rank after merging dims (src/backends/webgpu/shape_ops.ts) and the number of sources, as constants so that the
// loops over them unroll: coord is then indexed by constants and stays in registers.
override RANK: u32 = 6u;
override SOURCES: u32 = 1u;

#include strided_copy_params
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x0: array<f32>;
#if IN2
@group(0) @binding(3) var<storage, read> x1: array<f32>;
#endif
#if IN3
@group(0) @binding(4) var<storage, read> x2: array<f32>;
#endif
#if IN4
@group(0) @binding(5) var<storage, read> x3: array<f32>;
#endif
#if IN5
@group(0) @binding(6) var<storage, read> x4: array<f32>;
#endif
#if IN6
@group(0) @binding(7) var<storage, read> x5: array<f32>;
#endif
#if IN7
@group(0) @binding(8) var<storage, read> x6: array<f32>;
#endif

// Storage buffers cannot be put in an array, so the source is picked by a switch.
fn load(k: u32, j: u32) -> f32 {
  switch k {
#if IN2
    case 1u: { return x1[j]; }
#endif
#if IN3
    case 2u: { return x2[j]; }
#endif
#if IN4
    case 3u: { return x3[j]; }
#endif
#if IN5
    case 4u: { return x4[j]; }
#endif
#if IN6
    case 5u: { return x5[j]; }
#endif
#if IN7
    case 6u: { return x6[j]; }
#endif
    default: { return x0[j]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // 2-D grid: more than 65535 workgroups along x is over the WebGPU limit.
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= m(SC_N)) { return; }
  var coord: array<i32, 6>;
  var rem = i;
  for (var d = 0u; d < RANK; d++) {
    let dim = RANK - 1u - d;
    let size = m(SC_OUT_SHAPE + dim);
    coord[dim] = i32(rem % size);
    rem = rem / size;
  }
  // Each source's offset and whether it holds the coordinate, without early exits (which split the lanes); the first
  // source that holds it is read.
  var v = 0.0;
  var found = false;
  for (var k = 0u; k < SOURCES; k++) {
    let base = SC_SOURCES + SC_SOURCE_WORDS * k;
    var off = 0u;
    var stride = 1u;
    var inside = true;
    for (var d = 0u; d < RANK; d++) {
      let dim = RANK - 1u - d;
      let c = coord[dim] - bitcast<i32>(m(base + dim));
      let size = m(base + SC_SHAPE_IN_SOURCE + dim);
      inside = inside && c >= 0 && c < i32(size);
      off += u32(max(c, 0)) * stride;
      stride *= size;
    }
    if (inside && !found) { v = load(k, off); found = true; }
  }
  out[i] = v;
}
