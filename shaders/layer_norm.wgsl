// Layer norm over the last axis, fused: the kernel the scheduler substitutes for the composite layerNorm
// (src/graph/norm.ts) and checks against it. One invocation per row, summing serially: on CPU drivers a workgroup
// barrier is a context switch, and rows are many (batch x time) while the features are a few hundred.
// Both directions recompute the row's mean and (biased, two-pass) variance from x, as the composite does:
//   forward   y  = (x - mean) * rstd * w + b,   rstd = 1 / sqrt(var + eps)
//   GRAD      dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = dy * w,  xhat = (x - mean) * rstd
//
// VEC4 (features a multiple of 4): every binding is read and written as vec4s, four features a load. On llvmpipe a
// load or store is a loop over the lanes whatever its width, so this takes a quarter of the loops; the sums still add
// one feature at a time in order (add4), as the scalar kernel's do.

#include layer_norm_dims
#if VEC4
alias V = vec4<f32>;
const VW = 4u;
fn add4(s: f32, v: V) -> f32 { return s + v.x + v.y + v.z + v.w; }
#else
alias V = f32;
const VW = 1u;
fn add4(s: f32, v: V) -> f32 { return s + v; }
#endif

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<V>;
// b (forward) or dy (GRAD)
@group(0) @binding(3) var<storage, read> third: array<V>;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
#if XHAT
// The forward in training also writes x̂ = (x - mean) * rstd, which the weight's gradient (a sum of dy * x̂ over rows,
// left to the composite's primitives) reads: src/schedule/fuse.ts, `sides`.
@group(0) @binding(5) var<storage, read_write> xhat: array<V>;
#endif

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= dims.rows) { return; }
  let n = f32(dims.C);
  let C = dims.C / VW; // loads a row
  let row = r * C;
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s = add4(s, x[row + c]); }
  let mu = s / n;
  var v = 0.0;
  for (var c = 0u; c < C; c++) { let d = x[row + c] - V(mu); v = add4(v, d * d); }
  let rstd = 1.0 / sqrt(v / n + dims.eps);
#if GRAD
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < C; c++) {
    let g = third[row + c] * w[c];
    sg = add4(sg, g);
    sgx = add4(sgx, g * (x[row + c] - V(mu)) * rstd);
  }
  let mg = sg / n;
  let mgx = sgx / n;
  for (var c = 0u; c < C; c++) {
    let h = (x[row + c] - V(mu)) * rstd;
    out[row + c] = rstd * (third[row + c] * w[c] - V(mg) - h * mgx);
  }
#else
  for (var c = 0u; c < C; c++) {
    let h = (x[row + c] - V(mu)) * rstd;
#if XHAT
    xhat[row + c] = h;
#endif
    out[row + c] = h * w[c] + third[c];
  }
#endif
}
