// col2im, the adjoint of im2col, as a gather: one invocation per image pixel sums every column entry that im2col
// read from it, so no two invocations write the same word and no atomics are needed. Tap (i, j) of output (oh, ow)
// reads pixel (oh·SH - PH + i·DH, ow·SW - PW + j·DW); for a given pixel and tap, that fixes oh and ow, when the
// division by the stride is exact and the result lies inside the output. The geometry is made of override
// constants, so its divisions compile to multiplies (see im2col.wgsl). CHANNEL_MAJOR: the columns are laid out
// [C·KH·KW, NB, OH·OW] rather than [NB, C·KH·KW, OH·OW].

#include window_geometry
override C: u32 = 1u;
override NB: u32 = 1u;
override CHANNEL_MAJOR: bool = false;
override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

#include window_total
@group(0) @binding(0) var<uniform> total: Total; // n: the number of image pixels
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= total.n) { return; }
  let w = idx % W;
  let t = idx / W;
  let h = t % H;
  let plane = t / H; // n·C + c
  var s = 0.0;
  for (var i = 0u; i < KH; i++) {
    let th = i32(h + PH) - i32(i * DH);
    if (th < 0) { break; } // th only falls as i grows
    if (u32(th) % SH != 0u) { continue; }
    let oh = u32(th) / SH;
    if (oh >= OH) { continue; }
    var row = (plane * KH + i) * KW;
    if (CHANNEL_MAJOR) { row = ((plane % C) * KH + i) * KW; }
    for (var j = 0u; j < KW; j++) {
      let tw = i32(w + PW) - i32(j * DW);
      if (tw < 0) { break; }
      if (u32(tw) % SW != 0u) { continue; }
      let ow = u32(tw) / SW;
      if (ow >= OW) { continue; }
      var at = (row + j) * OH * OW + oh * OW + ow;
      if (CHANNEL_MAJOR) { at = ((row + j) * NB + plane / C) * OH * OW + oh * OW + ow; }
      s += cols[at];
    }
  }
  out[idx] = s;
}
