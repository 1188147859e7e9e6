// The running-statistics update of batch norm, in place: stat = (1 - m)·stat + m·scale·batch.
// scale is n/(n-1) for the running variance (the unbiased estimate, as PyTorch keeps), 1 for the running mean.
// Momentum 1 assigns (a NaN target must not survive as 0·NaN).

#include running_update_params

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> stat: array<f32>;
@group(0) @binding(2) var<storage, read> batch: array<f32>;

override WG: u32; // the launch's workgroup size (src/backends/webgpu/launch.ts, spread)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.n) { return; }
  let v = u.momentum * u.scale * batch[i];
  stat[i] = select((1.0 - u.momentum) * stat[i] + v, v, u.momentum == 1.0);
}
