// Inverted dropout with a counter-based mask: element i is kept iff hash32(seed, step, i) >= threshold, and a kept
// element is scaled by 1/(1-p). hash32 (shaders/hash32.wgsl) is src/util/rng.ts ported bit
// for bit, so the CPU reference draws the same mask.
// The step comes from a uniform the host rewrites before each run. ADVANCE: the kernel of the dropout_advance effect,
// which does nothing on the device (the counter is host state) but is a launch of the plan like any other.
// hash_probe is a second entry point, used only by the tests, that hashes (a, b, c) triples.

#include dropout_params

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

#include hash32

#if ADVANCE
@compute @workgroup_size(1)
fn main() {
  _ = u.n;
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.n) { return; }
  out[i] = select(0.0, x[i] * u.scale, hash32(u.seed, u.step, i) >= u.threshold);
}
#endif

@group(0) @binding(3) var<storage, read> probe_in: array<u32>;
@group(0) @binding(4) var<storage, read_write> probe_out: array<u32>;

@compute @workgroup_size(64)
fn hash_probe(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&probe_out)) { return; }
  probe_out[i] = hash32(probe_in[3u * i], probe_in[3u * i + 1u], probe_in[3u * i + 2u]);
}
