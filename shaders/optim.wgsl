// Fused optimizer updates: one pass over a parameter reads its gradient and rewrites the parameter and its state in
// place, so an update costs one read of g and one read and write of p and of each slot, with nothing in between.
// One switch per update rule (src/graph/optim_ops.ts); RMSprop's optional slots are switches too, so a disabled
// slot has no buffer at all. Every coefficient that changes between steps (learning rate, bias corrections) is
// computed on the host and arrives in the uniform, which the host rewrites only when it changes. So do the
// complements of the decay rates (beta2c = 1 - beta2): 1 - 0.999 in float32 is off by 1.3e-5 relative.
//
// Each invocation updates four elements as one vec4: on lavapipe that moved the SGD update of a 784x256 weight from
// 2.5 to 4.5 GB/s (one element per invocation leaves the CPU's SIMD lanes mostly waiting on scalar loads). The
// buffers are bound in whole vec4s (the backend rounds every buffer up to 16 bytes); in the last vec4 the lanes past
// n are written back unchanged (`put`), so a parameter's padding stays as it was.
//
// MULTI: one dispatch updates every parameter of a step. The parameters, each state slot and the gradients are
// arenas, one buffer each with one layout (src/graph/optim_ops.ts, arenaLayout), so one index i reaches the
// parameter, its gradient and its state alike. `table` gives each workgroup its chunk: vec4s inside one parameter,
// which its invocations stride through WG apart (several each: lavapipe runs few, long invocations faster than many
// short ones), and that parameter's end, so the padding between parameters is never touched. Here `h.n` carries the
// step number t instead of a length: GUARD latches it into `latch` where it is still 0 and a gradient of the chunk
// holds a NaN or an infinity (the gradient guard of src/train/trainer.ts, folded into the update). SKIP: a nonzero
// `skip` leaves everything as it was, latch included (dynamic loss scaling skips overflowed steps).

// Each rule's uniform struct (SgdHyper, AdamHyper, ...) is generated from its field list in src/backends/webgpu/contracts.ts.
#include optim_hyper

@group(0) @binding(1) var<storage, read_write> p: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;

/** `next` where the lane holds one of the n elements, else `old`. */
fn put(old: vec4<f32>, next: vec4<f32>, live: vec4<bool>) -> vec4<f32> { return select(old, next, live); }

#if SGD
// SGD: g' = g + l2·p; v = momentum·v + g'; p -= lr·(nesterov ? g' + momentum·v : v). nesterov is 0.0 or 1.0.
@group(0) @binding(0) var<uniform> h: SgdHyper;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;

fn update(i: u32, live: vec4<bool>) {
  let pi = p[i];
  let gi = g[i] + h.l2 * pi;
  let vi = h.momentum * v[i] + gi;
  v[i] = put(v[i], vi, live);
  p[i] = put(pi, pi - h.lr * select(vi, gi + h.momentum * vi, h.nesterov != 0.0), live);
}
#endif

#if ADAM
// Adam, AdamW and NAdam: p = p·decay - (gradCoef·g + momCoef·m) / (sqrt(v) / sqrtBc2 + eps), g with L2 folded in.
@group(0) @binding(0) var<uniform> h: AdamHyper;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;

fn update(i: u32, live: vec4<bool>) {
#if SCALES
  let gradCoef = h.gradCoef * scales[0];
  let momCoef = h.momCoef * scales[1];
  let sqrtBc2 = h.sqrtBc2 * scales[2];
#else
  let gradCoef = h.gradCoef;
  let momCoef = h.momCoef;
  let sqrtBc2 = h.sqrtBc2;
#endif
  let pi = p[i];
  let gi = g[i] + h.l2 * pi;
  let mi = h.beta1 * m[i] + h.beta1c * gi;
  let vi = h.beta2 * v[i] + h.beta2c * gi * gi;
  m[i] = put(m[i], mi, live);
  v[i] = put(v[i], vi, live);
  p[i] = put(pi, pi * h.decay - (gradCoef * gi + momCoef * mi) / (sqrt(vi) / sqrtBc2 + h.eps), live);
}
#endif

#if RMSPROP
@group(0) @binding(0) var<uniform> h: RmspropHyper;
@group(0) @binding(3) var<storage, read_write> sq: array<vec4<f32>>;
#if CENTERED
@group(0) @binding(4) var<storage, read_write> avg: array<vec4<f32>>;
#if MOMENTUM
@group(0) @binding(5) var<storage, read_write> buf: array<vec4<f32>>;
#endif
#else
#if MOMENTUM
@group(0) @binding(4) var<storage, read_write> buf: array<vec4<f32>>;
#endif
#endif

fn update(i: u32, live: vec4<bool>) {
  let pi = p[i];
  let gi = g[i] + h.l2 * pi;
  let si = h.alpha * sq[i] + h.alphac * gi * gi;
  sq[i] = put(sq[i], si, live);
  var s = si;
#if CENTERED
  let ai = h.alpha * avg[i] + h.alphac * gi;
  avg[i] = put(avg[i], ai, live);
  s -= ai * ai;
#endif
  let d = sqrt(s) + h.eps;
#if MOMENTUM
  let bi = h.momentum * buf[i] + gi / d;
  buf[i] = put(buf[i], bi, live);
  p[i] = put(pi, pi - h.lr * bi, live);
#else
  p[i] = put(pi, pi - h.lr * gi / d, live);
#endif
}
#endif

#if ADAGRAD
@group(0) @binding(0) var<uniform> h: AdagradHyper;
@group(0) @binding(3) var<storage, read_write> state_sum: array<vec4<f32>>;

fn update(i: u32, live: vec4<bool>) {
  let pi = p[i];
  let gi = g[i] + h.l2 * pi;
  let si = state_sum[i] + gi * gi;
  state_sum[i] = put(state_sum[i], si, live);
#if SCALES
  let clr = h.clr * scales[0];
#else
  let clr = h.clr;
#endif
  p[i] = put(pi, pi - clr * gi / (sqrt(si) + h.eps), live);
}
#endif

#if ADADELTA
@group(0) @binding(0) var<uniform> h: AdadeltaHyper;
@group(0) @binding(3) var<storage, read_write> sq: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> acc: array<vec4<f32>>;

fn update(i: u32, live: vec4<bool>) {
  let pi = p[i];
  let gi = g[i] + h.l2 * pi;
  let si = h.rho * sq[i] + h.rhoc * gi * gi;
  sq[i] = put(sq[i], si, live);
  let ai = acc[i];
  let delta = sqrt(ai + h.eps) / sqrt(si + h.eps) * gi;
  acc[i] = put(ai, h.rho * ai + h.rhoc * delta * delta, live);
  p[i] = put(pi, pi - h.lr * delta, live);
}
#endif

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

#if SKIP
@group(0) @binding(6) var<storage, read> skip: array<f32>;
#endif

#if SCALES
// SCALES (Adam's and Adagrad's rules): the coefficients that depend on the count of steps taken, in the order
// STEP_SCALED lists them (src/graph/optim_ops.ts), are the uniform's times these, which the step computed from a
// count on the device that skipped steps do not advance.
@group(0) @binding(9) var<storage, read> scales: array<f32>;
#endif

#if MULTI
@group(0) @binding(7) var<storage, read> table: array<vec4<u32>>; // chunk's first vec4, its end, the parameter's end element
#if GUARD
@group(0) @binding(8) var<storage, read_write> latch: array<atomic<u32>>;
#endif

// Exponent all ones: NaN or an infinity, tested on the bits since a fast-math compiler may fold x != x away.
fn nonfinite(x: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) == vec4<u32>(0x7f800000u);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= arrayLength(&table)) { return; }
#if SKIP
  if (skip[0] != 0.0) { return; }
#endif
  let e = table[w];
#if GUARD
  var bad = false;
#endif
  for (var i = e.x + lid; i < e.y; i += WG) {
    let live = 4u * i + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(e.z);
#if GUARD
    bad = bad | any(live & nonfinite(g[i]));
#endif
    update(i, live);
  }
#if GUARD
  if (bad) {
    let now = bitcast<u32>(f32(h.n));
    loop {
      let r = atomicCompareExchangeWeak(&latch[0], 0u, now);
      if (r.exchanged || r.old_value != 0u) { break; }
    }
  }
#endif
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG; // the i-th vec4: elements 4i .. 4i+3
  if (4u * i >= h.n) { return; }
#if SKIP
  if (skip[0] != 0.0) { return; }
#endif
  update(i, 4u * i + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(h.n));
}
#endif
