// SGD with momentum, Nesterov and weight decay, PyTorch's formulation, fused into one pass over the parameter:
// g += wd·p; v = μ·v + g; p -= lr·(nesterov ? g + μ·v : v).
// Hyper-parameters live in a uniform rewritten only when they change, so a schedule costs no pipeline rebuild.

struct Hyper { n: u32, nesterov: u32, lr: f32, momentum: f32, weightDecay: f32 }
@group(0) @binding(0) var<uniform> h: Hyper;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= h.n) { return; }
  let gi = g[i] + h.weightDecay * p[i];
  let vi = h.momentum * v[i] + gi;
  v[i] = vi;
  p[i] -= h.lr * select(vi, gi + h.momentum * vi, h.nesterov != 0u);
}
