// Sum over any set of axes. Two shapes of work, chosen by the preprocessor:
//   SERIAL: one invocation per output element sums its reduced elements in order (many outputs, e.g. a bias gradient);
//   otherwise one workgroup per output element: invocations stride over the reduced elements, then combine in
//   workgroup memory, so a long reduction with few outputs (a loss over a batch) is spread over WG invocations.
//   SERIAL with VEC4: each invocation sums four adjacent outputs as one vec4 (the innermost kept dim contiguous and a
//   multiple of 4: a bias gradient's sum over the batch), a quarter of the invocations and one load per four floats.
// The uniform's fields (RD_OUT_COUNT, ...) are generated from REDUCE_PARAMS in src/backends/webgpu/contracts.ts.

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

#include reduce_params
#include half_types
#if VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<T1>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<T2>>;
#else
@group(0) @binding(1) var<storage, read> x: array<T1>;
@group(0) @binding(2) var<storage, read_write> out: array<T2>;
#endif

var<workgroup> partial: array<f32, WG>;

// Flat offset of coordinate `i` of a sub-shape whose dims and strides start at words shapeAt and strideAt.
fn offset(i: u32, rank: u32, shapeAt: u32, strideAt: u32) -> u32 {
  var rem = i;
  var off = 0u;
  for (var d = 0u; d < rank; d++) {
    let dim = rank - 1u - d;
    let size = m(shapeAt + dim);
    off += (rem % size) * m(strideAt + dim);
    rem = rem / size;
  }
  return off;
}

#if VEC4
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG; // outputs 4o .. 4o + 3
  if (4u * o >= m(RD_OUT_COUNT)) { return; }
  let base = offset(4u * o, m(RD_KEPT_RANK), RD_KEPT_SHAPE, RD_KEPT_STRIDES);
  var s = vec4<f32>(0.0);
  if (m(RD_RED_RANK) == 1u) {
    let st = m(RD_RED_STRIDES);
    for (var r = 0u; r < m(RD_RED_COUNT); r++) { s += vec4<f32>(x[(base + r * st) / 4u]); }
  } else {
    for (var r = 0u; r < m(RD_RED_COUNT); r++) { s += vec4<f32>(x[(base + offset(r, m(RD_RED_RANK), RD_RED_SHAPE, RD_RED_STRIDES)) / 4u]); }
  }
  out[o] = vec4<T2>(to_T2(s.x), to_T2(s.y), to_T2(s.z), to_T2(s.w));
}
#elif SERIAL
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= m(RD_OUT_COUNT)) { return; }
  let base = offset(o, m(RD_KEPT_RANK), RD_KEPT_SHAPE, RD_KEPT_STRIDES);
  var s = 0.0;
  if (m(RD_RED_RANK) == 1u) {
    // One reduced dim (the host merges contiguous ones): a plain strided walk, no division per element.
    let st = m(RD_RED_STRIDES);
    for (var r = 0u; r < m(RD_RED_COUNT); r++) { s += f32(x[base + r * st]); }
  } else {
    for (var r = 0u; r < m(RD_RED_COUNT); r++) { s += f32(x[base + offset(r, m(RD_RED_RANK), RD_RED_SHAPE, RD_RED_STRIDES)]); }
  }
  out[o] = to_T2(s);
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  let outCount = m(RD_OUT_COUNT);
  let redCount = m(RD_RED_COUNT);
  var s = 0.0;
  if (o < outCount) {
    let base = offset(o, m(RD_KEPT_RANK), RD_KEPT_SHAPE, RD_KEPT_STRIDES);
    if (m(RD_RED_RANK) == 1u) {
      let st = m(RD_RED_STRIDES);
      for (var r = lid; r < redCount; r += WG) { s += f32(x[base + r * st]); }
    } else {
      for (var r = lid; r < redCount; r += WG) { s += f32(x[base + offset(r, m(RD_RED_RANK), RD_RED_SHAPE, RD_RED_STRIDES)]); }
    }
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid < w) { partial[lid] += partial[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u && o < outCount) { out[o] = to_T2(partial[0]); }
}
#endif
