// im2col: cols[n, (c·KH + i)·KW + j, oh·OW + ow] = x[n, c, oh·SH - PH + i·DH, ow·SW - PW + j·DW], or 0 where that
// pixel lies in the padding. With CHANNEL_MAJOR the batch moves inside: cols[(c·KH + i)·KW + j, n, oh·OW + ow]. One invocation per row of OW column entries (fixed n, c, i, j, oh): the index
// arithmetic is done once per row, and the row is a strided copy of one image row (all zeros if that row is
// padding). Per entry instead, it ran 2.6x slower on lavapipe.
// The geometry is made of override constants: the index arithmetic divides by them, and a division by a constant
// compiles to a multiply and shift, where a division by a uniform is a real division (scalarised on CPU drivers).

#include window_geometry
override C: u32 = 1u;
override NB: u32 = 1u; // batch size, for CHANNEL_MAJOR
override CHANNEL_MAJOR: bool = false;
override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

#include window_total
@group(0) @binding(0) var<uniform> total: Total; // n: the number of column entries (rows · OW)
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG; // one output row (n, c, i, j, oh)
  if (r >= total.n / OW) { return; }
  let oh = r % OH;
  var t = r / OH;
  let j = t % KW;
  t = t / KW;
  let i = t % KH;
  let plane = t / KH; // n·C + c
  let h = i32(oh * SH + i * DH) - i32(PH);
  var base = r * OW;
  if (CHANNEL_MAJOR) { base = (((plane % C) * KH + i) * KW + j) * NB * OH * OW + (plane / C) * OH * OW + oh * OW; }
  if (h < 0 || h >= i32(H)) {
    for (var ow = 0u; ow < OW; ow++) { cols[base + ow] = 0.0; }
    return;
  }
  let src = (plane * H + u32(h)) * W;
  for (var ow = 0u; ow < OW; ow++) {
    let w = i32(ow * SW + j * DW) - i32(PW);
    var v = 0.0;
    if (w >= 0 && w < i32(W)) { v = x[src + u32(w)]; }
    cols[base + ow] = v;
  }
}
