// Max and average pooling over NCHW windows (no dilation), forward and backward; the preprocessor picks which
// (MAX: max or average; GRAD: backward). Window (oh, ow) covers rows oh·SH - PH .. + KH - 1 and columns
// ow·SW - PW .. + KW - 1, clipped to the image; padding never wins a max, and counts in an average only with
// countPad (PyTorch's count_include_pad). Forward: one invocation per output. Backward: one invocation per input
// pixel, gathering from every window that covers it, so no atomics are needed. Max pooling saves nothing for the
// backward: it recomputes each covering window's first maximum and takes that window's dy if it is this pixel.

struct Geom {
  N: u32, C: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32,
  SH: u32, SW: u32, PH: u32, PW: u32, DH: u32, DW: u32, total: u32, countPad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> g: Geom;
#if GRAD
#if MAX
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

// The window's rows [r.x, r.y) and columns [r.z, r.w), clipped to the image.
fn window(oh: u32, ow: u32) -> vec4<i32> {
  let h0 = i32(oh * g.SH) - i32(g.PH);
  let w0 = i32(ow * g.SW) - i32(g.PW);
  return vec4<i32>(max(h0, 0), min(h0 + i32(g.KH), i32(g.H)), max(w0, 0), min(w0 + i32(g.KW), i32(g.W)));
}

#if MAX
// Offset within the plane of the window's first maximum in row-major order (strict >, as in the CPU reference).
fn argmax(plane: u32, r: vec4<i32>) -> u32 {
  var best = u32(r.x) * g.W + u32(r.z);
  var bv = x[plane + best];
  for (var h = r.x; h < r.y; h++) {
    for (var w = r.z; w < r.w; w++) {
      let p = u32(h) * g.W + u32(w);
      let v = x[plane + p];
      if (v > bv) { bv = v; best = p; }
    }
  }
  return best;
}
#else
fn count(r: vec4<i32>) -> f32 {
  if (g.countPad != 0u) { return f32(g.KH * g.KW); }
  return f32((r.y - r.x) * (r.w - r.z));
}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= g.total) { return; }
  let HW = g.H * g.W;
  let OHW = g.OH * g.OW;
#if GRAD
  let w = idx % g.W;
  let h = (idx / g.W) % g.H;
  let nc = idx / HW;
  // Windows covering row h: oh·SH - PH <= h < oh·SH - PH + KH.
  let lh = i32(h + g.PH) + 1 - i32(g.KH);
  let lw = i32(w + g.PW) + 1 - i32(g.KW);
  let oh0 = select(0u, (u32(lh) + g.SH - 1u) / g.SH, lh > 0);
  let ow0 = select(0u, (u32(lw) + g.SW - 1u) / g.SW, lw > 0);
  let oh1 = min((h + g.PH) / g.SH + 1u, g.OH);
  let ow1 = min((w + g.PW) / g.SW + 1u, g.OW);
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    for (var ow = ow0; ow < ow1; ow++) {
      let o = nc * OHW + oh * g.OW + ow;
#if MAX
      if (argmax(nc * HW, window(oh, ow)) == h * g.W + w) { s += dy[o]; }
#else
      s += dy[o] / count(window(oh, ow));
#endif
    }
  }
  out[idx] = s;
#else
  let ow = idx % g.OW;
  let oh = (idx / g.OW) % g.OH;
  let plane = (idx / OHW) * HW;
  let r = window(oh, ow);
#if MAX
  out[idx] = x[plane + argmax(plane, r)];
#else
  var s = 0.0;
  for (var h = r.x; h < r.y; h++) {
    for (var w = r.z; w < r.w; w++) { s += x[plane + u32(h) * g.W + u32(w)]; }
  }
  out[idx] = s / count(r);
#endif
#endif
}
