// Sum over any set of axes. Two shapes of work, chosen by the preprocessor:
//   SERIAL: one invocation per output element sums its reduced elements in order (many outputs, e.g. a bias gradient);
//   otherwise one workgroup per output element: invocations stride over the reduced elements, then combine in
//   workgroup memory, so a long reduction with few outputs (a loss over a batch) is spread over WG invocations.
// params: [outCount, redCount, keptRank, redRank, keptShape[6], keptStride[6], redShape[6], redStride[6]]

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: array<vec4<u32>, 7>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn m(i: u32) -> u32 { return params[i / 4u][i % 4u]; }

// Flat offset of coordinate `i` of a sub-shape whose dims and strides start at params[shapeAt] and params[strideAt].
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

#if SERIAL
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= m(0u)) { return; }
  let base = offset(o, m(2u), 4u, 10u);
  var s = 0.0;
  if (m(3u) == 1u) {
    // One reduced dim (the host merges contiguous ones): a plain strided walk, no division per element.
    let st = m(22u);
    for (var r = 0u; r < m(1u); r++) { s += x[base + r * st]; }
  } else {
    for (var r = 0u; r < m(1u); r++) { s += x[base + offset(r, m(3u), 16u, 22u)]; }
  }
  out[o] = s;
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  let outCount = m(0u);
  let redCount = m(1u);
  var s = 0.0;
  if (o < outCount) {
    let base = offset(o, m(2u), 4u, 10u);
    if (m(3u) == 1u) {
      let st = m(22u);
      for (var r = lid; r < redCount; r += WG) { s += x[base + r * st]; }
    } else {
      for (var r = lid; r < redCount; r += WG) { s += x[base + offset(r, m(3u), 16u, 22u)]; }
    }
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid < w) { partial[lid] += partial[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u && o < outCount) { out[o] = partial[0]; }
}
#endif
