// Max and average pooling over NCHW windows (no dilation), forward and backward; the preprocessor picks which
// (MAX: max or average; GRAD: backward). Window (oh, ow) covers rows oh·SH - PH .. + KH - 1 and columns
// ow·SW - PW .. + KW - 1, clipped to the image; padding never wins a max, and counts in an average only with
// COUNT_PAD (PyTorch's count_include_pad). Forward: one invocation per output. Backward: one invocation per input
// pixel, gathering from every window that covers it, so no atomics are needed. Max pooling saves nothing for the
// backward: it recomputes each covering window's first maximum and takes that window's dy if it is this pixel.
// The geometry is override constants (window_geometry.wgsl; DH and DW unused), so its divisions compile to multiplies.
// TILED (max backward, when stride = kernel and there is no padding, as in the usual 2x2 pooling): the windows tile
// the image, so one invocation per window finds its maximum once and writes the whole window (dy at the maximum, 0
// elsewhere), instead of every pixel re-finding its window's maximum: each x is read once instead of KH·KW times.
// Pixels past the last whole window (H or W not a multiple of the kernel) belong to no window and get 0.
// RELU_GRAD (max backward): the gradient of the ReLU whose output x is, applied as it is stored (relu_grad(x, ·):
// zero where x <= 0), so a conv layer's ReLU and pooling backward are one pass over x (schedule/fuse.ts).

#include window_geometry
override COUNT_PAD: bool = true;
override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

// PAIR (max pooling, forward and backward, 2x2 windows with stride 2 and no padding on an image of even H and W: a
// CNN's usual pooling): one invocation per row of windows, reading both image rows as vec2s, one per window, with no
// index arithmetic per window. Fewer, longer invocations and half the loads: lavapipe runs each lane's load as a
// scalar loop, and pays for every invocation's index arithmetic lane by lane.
// QUAD (PAIR where W is a multiple of 4): two windows a load, below.

#include window_total
@group(0) @binding(0) var<uniform> total: Total; // n: the number of invocations (outputs, or pixels for GRAD)
#if QUAD
// PAIR on an image whose width is a multiple of 4: two windows a load (vec4s of two windows' row halves, dy and the
// forward's output as vec2s), half PAIR's loads and stores again.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#if GRAD
@group(0) @binding(2) var<storage, read> dy: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<vec2<f32>>;
#endif
#elif PAIR
@group(0) @binding(1) var<storage, read> x: array<vec2<f32>>;
#if GRAD
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec2<f32>>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif
#else
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
#endif

// The window's rows [r.x, r.y) and columns [r.z, r.w), clipped to the image.
fn window(oh: u32, ow: u32) -> vec4<i32> {
  let h0 = i32(oh * SH) - i32(PH);
  let w0 = i32(ow * SW) - i32(PW);
  return vec4<i32>(max(h0, 0), min(h0 + i32(KH), i32(H)), max(w0, 0), min(w0 + i32(KW), i32(W)));
}

#if PAIR
// The window's first maximum in row-major order (strict >, as argmax below): its index 0 .. 3 and value.
fn pairMax(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  var best = vec2<f32>(0.0, a.x);
  if (a.y > best.y) { best = vec2<f32>(1.0, a.y); }
  if (b.x > best.y) { best = vec2<f32>(2.0, b.x); }
  if (b.y > best.y) { best = vec2<f32>(3.0, b.y); }
  return best;
}

#if QUAD
// Windows row r, two windows at a time: image rows 2·oh and 2·oh + 1 as vec4 indices from `top` and `top + W / 4`.
fn quadRow(r: u32) {
  let oh = r % OH;
  let top = ((r / OH) * H + 2u * oh) * (W / 4u);
  let bot = top + W / 4u;
  for (var p = 0u; p < OW / 2u; p++) {
    let t = x[top + p]; let b = x[bot + p];
    let b0 = pairMax(t.xy, b.xy); let b1 = pairMax(t.zw, b.zw);
#if GRAD
    var g = dy[r * (OW / 2u) + p];
#if RELU_GRAD
    g = select(vec2<f32>(0.0), g, vec2<f32>(b0.y, b1.y) > vec2<f32>(0.0));
#endif
    let k0 = u32(b0.x); let k1 = u32(b1.x);
    out[top + p] = vec4<f32>(select(0.0, g.x, k0 == 0u), select(0.0, g.x, k0 == 1u), select(0.0, g.y, k1 == 0u), select(0.0, g.y, k1 == 1u));
    out[bot + p] = vec4<f32>(select(0.0, g.x, k0 == 2u), select(0.0, g.x, k0 == 3u), select(0.0, g.y, k1 == 2u), select(0.0, g.y, k1 == 3u));
#else
    out[r * (OW / 2u) + p] = vec2<f32>(b0.y, b1.y);
#endif
  }
}
#else
// Windows row r: image rows 2·oh and 2·oh + 1 of plane nc, as vec2 indices from `top` and `top + W / 2`.
fn pairRow(r: u32) {
  let oh = r % OH;
  let top = ((r / OH) * H + 2u * oh) * (W / 2u);
  let bot = top + W / 2u;
  for (var ow = 0u; ow < OW; ow++) {
    let best = pairMax(x[top + ow], x[bot + ow]);
#if GRAD
    var g = dy[r * OW + ow];
#if RELU_GRAD
    if (!(best.y > 0.0)) { g = 0.0; }
#endif
    let k = u32(best.x);
    out[top + ow] = vec2<f32>(select(0.0, g, k == 0u), select(0.0, g, k == 1u));
    out[bot + ow] = vec2<f32>(select(0.0, g, k == 2u), select(0.0, g, k == 3u));
#else
    out[r * OW + ow] = best.y;
#endif
  }
}
#endif
#else
#if MAX
// Offset within the plane of the window's first maximum in row-major order (strict >, as in the CPU reference).
fn argmax(plane: u32, r: vec4<i32>) -> u32 {
  var best = u32(r.x) * W + u32(r.z);
  var bv = x[plane + best];
  for (var h = r.x; h < r.y; h++) {
    for (var w = r.z; w < r.w; w++) {
      let p = u32(h) * W + u32(w);
      let v = x[plane + p];
      if (v > bv) { bv = v; best = p; }
    }
  }
  return best;
}
#else
fn count(r: vec4<i32>) -> f32 {
  if (COUNT_PAD) { return f32(KH * KW); }
  return f32((r.y - r.x) * (r.w - r.z));
}
#endif

#if TILED
fn tiledMaxGrad(idx: u32) {
  let CH = (H + KH - 1u) / KH; // cells of KH x KW pixels down and across; the last ones may be partial
  let CW = (W + KW - 1u) / KW;
  let cw = idx % CW;
  let ch = (idx / CW) % CH;
  let nc = idx / (CH * CW);
  let plane = nc * H * W;
  var best = H * W; // no pixel: a cell past the last window is all zeros
  var g = 0.0;
  if (ch < OH && cw < OW) {
    best = argmax(plane, window(ch, cw));
    g = dy[(nc * OH + ch) * OW + cw];
  }
#if RELU_GRAD
  if (best < H * W && !(x[plane + best] > 0.0)) { g = 0.0; }
#endif
  for (var h = ch * KH; h < min(ch * KH + KH, H); h++) {
    for (var w = cw * KW; w < min(cw * KW + KW, W); w++) { out[plane + h * W + w] = select(0.0, g, h * W + w == best); }
  }
}
#endif
#endif

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= total.n) { return; }
#if QUAD
  quadRow(idx);
#elif PAIR
  pairRow(idx);
#else
#if TILED
  tiledMaxGrad(idx);
#else
#if GRAD
  let w = idx % W;
  let h = (idx / W) % H;
  let nc = idx / (H * W);
  // The windows covering (h, w): oh·SH - PH <= h < oh·SH - PH + KH, and likewise for w.
  let lh = i32(h + PH) + 1 - i32(KH);
  let lw = i32(w + PW) + 1 - i32(KW);
  let oh0 = select(0u, (u32(lh) + SH - 1u) / SH, lh > 0);
  let ow0 = select(0u, (u32(lw) + SW - 1u) / SW, lw > 0);
  let oh1 = min((h + PH) / SH + 1u, OH);
  let ow1 = min((w + PW) / SW + 1u, OW);
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    for (var ow = ow0; ow < ow1; ow++) {
      let o = (nc * OH + oh) * OW + ow;
#if MAX
      if (argmax(nc * H * W, window(oh, ow)) == h * W + w) { s += dy[o]; }
#else
      s += dy[o] / count(window(oh, ow));
#endif
    }
  }
#if RELU_GRAD
  if (!(x[idx] > 0.0)) { s = 0.0; }
#endif
  out[idx] = s;
#else
  let ow = idx % OW;
  let oh = (idx / OW) % OH;
  let plane = (idx / (OH * OW)) * H * W;
  let r = window(oh, ow);
#if MAX
  out[idx] = x[plane + argmax(plane, r)];
#else
  var s = 0.0;
  for (var h = r.x; h < r.y; h++) {
    for (var w = r.z; w < r.w; w++) { s += x[plane + u32(h) * W + u32(w)]; }
  }
  out[idx] = s / count(r);
#endif
#endif
#endif
#endif
}
