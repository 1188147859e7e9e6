// Layer norm over the last axis, fused: the kernel the scheduler substitutes for the composite layerNorm
// (src/graph/norm.ts) and checks against it. One invocation per row, summing serially: on CPU drivers a workgroup
// barrier is a context switch, and rows are many (batch x time) while the features are a few hundred.
// Both directions recompute the row's mean and (biased, two-pass) variance from x, as the composite does:
//   forward   y  = (x - mean) * rstd * w + b,   rstd = 1 / sqrt(var + eps)
//   GRAD      dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),   g = dy * w,  xhat = (x - mean) * rstd

#include layer_norm_dims
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
// b (forward) or dy (GRAD)
@group(0) @binding(3) var<storage, read> third: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#if XHAT
// The forward in training also writes x̂ = (x - mean) * rstd, which the weight's gradient (a sum of dy * x̂ over rows,
// left to the composite's primitives) reads: src/schedule/fuse.ts, `sides`.
@group(0) @binding(5) var<storage, read_write> xhat: array<f32>;
#endif

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= dims.rows) { return; }
  let C = dims.C;
  let row = r * C;
  let n = f32(C);
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += x[row + c]; }
  let mu = s / n;
  var v = 0.0;
  for (var c = 0u; c < C; c++) { let d = x[row + c] - mu; v += d * d; }
  let rstd = 1.0 / sqrt(v / n + dims.eps);
#if GRAD
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < C; c++) {
    let g = third[row + c] * w[c];
    sg += g;
    sgx += g * (x[row + c] - mu) * rstd;
  }
  let mg = sg / n;
  let mgx = sgx / n;
  for (var c = 0u; c < C; c++) {
    let xhat = (x[row + c] - mu) * rstd;
    out[row + c] = rstd * (third[row + c] * w[c] - mg - xhat * mgx);
  }
#else
  for (var c = 0u; c < C; c++) {
    let h = (x[row + c] - mu) * rstd;
#if XHAT
    xhat[row + c] = h;
#endif
    out[row + c] = h * w[c] + third[c];
  }
#endif
}
