// `wgtrain info`: the adapter, the limits the kernels care about, and the features.
import { acquireDevice, adapterName } from '../backends/webgpu/device.js';

const LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
];

export async function info(json: boolean): Promise<void> {
  const ctx = await acquireDevice();
  const limits = Object.fromEntries(LIMITS.map((k) => [k, (ctx.device.limits as unknown as Record<string, number>)[k]]));
  const out = { adapter: adapterName(ctx), ...ctx.adapterInfo, limits, features: ctx.features };
  if (json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(`adapter       ${out.adapter}`);
    console.log(`vendor        ${out.vendor || '-'}\narchitecture  ${out.architecture || '-'}\ndescription   ${out.description || '-'}`);
    console.log('limits');
    for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(36)} ${v}`);
    console.log(`features      ${out.features.join(', ') || '(none)'}`);
  }
  ctx.device.destroy();
}
