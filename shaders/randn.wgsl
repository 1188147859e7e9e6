// Standard normal samples on the counter-based hash: element i is Box-Muller of hash32(seed, step, 2i) and
// hash32(seed, step, 2i + 1), as gaussianAt in src/graph/random.ts. The top 24 bits of each hash make u1 in (0, 1]
// and u2 in [0, 1) exactly in float32, so the two backends differ only by the GPU's float32 log, sqrt and cos.
// The step comes from a uniform the host rewrites before each run (the counter dropout_advance moves on).

#include randn_params
#include hash32

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const TWO_POW_M24: f32 = 5.9604644775390625e-8;
const TWO_PI: f32 = 6.283185307179586;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.n) { return; }
  let u1 = (f32(hash32(u.seed, u.step, 2u * i) >> 8u) + 1.0) * TWO_POW_M24;
  let u2 = f32(hash32(u.seed, u.step, 2u * i + 1u) >> 8u) * TWO_POW_M24;
  out[i] = sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}
