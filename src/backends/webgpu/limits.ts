// Whether a kernel fits the device's limits, checked before its pipeline is made. A compatibility-mode adapter
// (or a small GPU) may offer fewer invocations per workgroup or fewer storage buffers than the kernels use; the
// validation error WebGPU would raise says neither which limit nor which op, so this names both.
import type { Launch } from './launch.js';
import { UserError } from '../../util/errors.js';

export class LimitError extends UserError {
  constructor(readonly limit: string, readonly needed: number, readonly available: number, what: string) {
    super(`webgpu: ${what} needs ${limit} >= ${needed}, and this device offers ${available}`);
    this.name = 'LimitError';
  }
}

/** Throws a LimitError naming the first limit of `limits` that the launch of `code` exceeds. */
export function checkKernelLimits(l: Launch, limits: GPUSupportedLimits, what: string): void {
  const [x, y = 1, z = 1] = l.workgroupSize;
  const storage = l.bindings.filter((b) => b !== null).length;
  const needs: [keyof GPUSupportedLimits, number, string][] = [
    ['maxComputeInvocationsPerWorkgroup', x * y * z, `a ${x}x${y}x${z} workgroup`],
    ['maxComputeWorkgroupSizeX', x, 'its workgroup width'],
    ['maxComputeWorkgroupSizeY', y, 'its workgroup height'],
    ['maxComputeWorkgroupSizeZ', z, 'its workgroup depth'],
    ['maxStorageBuffersPerShaderStage', storage, `${storage} storage buffers`],
  ];
  for (const [limit, needed, why] of needs) {
    const available = limits[limit] as number;
    if (needed > available) throw new LimitError(limit, needed, available, `${what} (shader ${l.shader}: ${why})`);
  }
}
