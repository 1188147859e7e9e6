// im2col: cols[n, (c·KH + i)·KW + j, oh·OW + ow] = x[n, c, oh·SH - PH + i·DH, ow·SW - PW + j·DW], or 0 where that
// pixel lies in the padding. One invocation per column entry, so neighbouring invocations write neighbouring words.

struct Geom {
  N: u32, C: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  SH: u32, SW: u32, PH: u32, PW: u32, DH: u32, DW: u32, total: u32, countPad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> g: Geom;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= g.total) { return; }
  let ow = idx % g.OW;
  var t = idx / g.OW;
  let oh = t % g.OH;
  t = t / g.OH;
  let j = t % g.KW;
  t = t / g.KW;
  let i = t % g.KH;
  let plane = t / g.KH; // n·C + c
  let h = i32(oh * g.SH + i * g.DH) - i32(g.PH);
  let w = i32(ow * g.SW + j * g.DW) - i32(g.PW);
  var v = 0.0;
  if (h >= 0 && h < i32(g.H) && w >= 0 && w < i32(g.W)) { v = x[(plane * g.H + u32(h)) * g.W + u32(w)]; }
  cols[idx] = v;
}
