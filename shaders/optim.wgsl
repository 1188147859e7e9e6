// Fused optimizer updates: one pass over a parameter reads its gradient and rewrites the parameter and its state in
// place, so an update costs one read of g and one read and write of p and of each slot, with nothing in between.
// One switch per update rule (src/graph/optim_ops.ts); RMSprop's optional slots are switches too, so a disabled
// slot has no buffer at all. Every coefficient that changes between steps (learning rate, bias corrections) is
// computed on the host and arrives in the uniform, which the host rewrites only when it changes. So do the
// complements of the decay rates (beta2c = 1 - beta2): 1 - 0.999 in float32 is off by 1.3e-5 relative.

// Each rule's uniform struct (SgdHyper, AdamHyper, ...) is generated from its field list in src/backends/webgpu/contracts.ts.
#include optim_hyper

@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;

#if SGD
// SGD: g' = g + l2·p; v = momentum·v + g'; p -= lr·(nesterov ? g' + momentum·v : v). nesterov is 0.0 or 1.0.
@group(0) @binding(0) var<uniform> h: SgdHyper;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

fn update(i: u32) {
  let gi = g[i] + h.l2 * p[i];
  let vi = h.momentum * v[i] + gi;
  v[i] = vi;
  p[i] -= h.lr * select(vi, gi + h.momentum * vi, h.nesterov != 0.0);
}
#endif

#if ADAM
// Adam, AdamW and NAdam: p = p·decay - (gradCoef·g + momCoef·m) / (sqrt(v) / sqrtBc2 + eps), g with L2 folded in.
@group(0) @binding(0) var<uniform> h: AdamHyper;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

fn update(i: u32) {
  let pi = p[i];
  let gi = g[i] + h.l2 * pi;
  let mi = h.beta1 * m[i] + h.beta1c * gi;
  let vi = h.beta2 * v[i] + h.beta2c * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = pi * h.decay - (h.gradCoef * gi + h.momCoef * mi) / (sqrt(vi) / h.sqrtBc2 + h.eps);
}
#endif

#if RMSPROP
@group(0) @binding(0) var<uniform> h: RmspropHyper;
@group(0) @binding(3) var<storage, read_write> sq: array<f32>;
#if CENTERED
@group(0) @binding(4) var<storage, read_write> avg: array<f32>;
#if MOMENTUM
@group(0) @binding(5) var<storage, read_write> buf: array<f32>;
#endif
#else
#if MOMENTUM
@group(0) @binding(4) var<storage, read_write> buf: array<f32>;
#endif
#endif

fn update(i: u32) {
  let gi = g[i] + h.l2 * p[i];
  let si = h.alpha * sq[i] + h.alphac * gi * gi;
  sq[i] = si;
  var s = si;
#if CENTERED
  let ai = h.alpha * avg[i] + h.alphac * gi;
  avg[i] = ai;
  s -= ai * ai;
#endif
  let d = sqrt(s) + h.eps;
#if MOMENTUM
  let bi = h.momentum * buf[i] + gi / d;
  buf[i] = bi;
  p[i] -= h.lr * bi;
#else
  p[i] -= h.lr * gi / d;
#endif
}
#endif

#if ADAGRAD
@group(0) @binding(0) var<uniform> h: AdagradHyper;
@group(0) @binding(3) var<storage, read_write> state_sum: array<f32>;

fn update(i: u32) {
  let gi = g[i] + h.l2 * p[i];
  let si = state_sum[i] + gi * gi;
  state_sum[i] = si;
  p[i] -= h.clr * gi / (sqrt(si) + h.eps);
}
#endif

#if ADADELTA
@group(0) @binding(0) var<uniform> h: AdadeltaHyper;
@group(0) @binding(3) var<storage, read_write> sq: array<f32>;
@group(0) @binding(4) var<storage, read_write> acc: array<f32>;

fn update(i: u32) {
  let gi = g[i] + h.l2 * p[i];
  let si = h.rho * sq[i] + h.rhoc * gi * gi;
  sq[i] = si;
  let delta = sqrt(acc[i] + h.eps) / sqrt(si + h.eps) * gi;
  acc[i] = h.rho * acc[i] + h.rhoc * delta * delta;
  p[i] -= h.lr * delta;
}
#endif

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= h.n) { return; }
  update(i);
}
