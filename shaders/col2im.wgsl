// col2im, the adjoint of im2col, as a gather: one invocation per image pixel sums every column entry that im2col
// read from it, so no two invocations write the same word and no atomics are needed. Tap (i, j) of output (oh, ow)
// reads pixel (oh·SH - PH + i·DH, ow·SW - PW + j·DW); for a given pixel and tap, that fixes oh and ow, when the
// division by the stride is exact and the result lies inside the output.

struct Geom {
  N: u32, C: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  SH: u32, SW: u32, PH: u32, PW: u32, DH: u32, DW: u32, total: u32, countPad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> g: Geom;
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= g.total) { return; }
  let w = idx % g.W;
  let t = idx / g.W;
  let h = t % g.H;
  let plane = t / g.H; // n·C + c
  let OHW = g.OH * g.OW;
  var s = 0.0;
  for (var i = 0u; i < g.KH; i++) {
    let th = i32(h + g.PH) - i32(i * g.DH);
    if (th < 0) { break; } // th only falls as i grows
    if (u32(th) % g.SH != 0u) { continue; }
    let oh = u32(th) / g.SH;
    if (oh >= g.OH) { continue; }
    let row = (plane * g.KH + i) * g.KW;
    for (var j = 0u; j < g.KW; j++) {
      let tw = i32(w + g.PW) - i32(j * g.DW);
      if (tw < 0) { break; }
      if (u32(tw) % g.SW != 0u) { continue; }
      let ow = u32(tw) / g.SW;
      if (ow >= g.OW) { continue; }
      s += cols[(row + j) * OHW + oh * g.OW + ow];
    }
  }
  out[idx] = s;
}
