// Whether a kernel fits the device's limits, checked before its pipeline is made. A compatibility-mode adapter
// (or a small GPU) may offer fewer invocations per workgroup or fewer storage buffers than the kernels use; the
// validation error WebGPU would raise says neither which limit nor which op, so this names both.
import type { Launch } from './launch.js';

export class LimitError extends Error {
  constructor(readonly limit: string, readonly needed: number, readonly available: number, what: string) {
    super(`webgpu: ${what} needs ${limit} >= ${needed}, and this device offers ${available}`);
    this.name = 'LimitError';
  }
}

/** A buffer larger than one storage binding may be; the same name as LimitError, which the CLI maps to exit code 2. */
export class BufferLimitError extends Error {
  override name = 'LimitError';
}

/** The workgroup size of a shader's `main`, with override constants resolved from the launch or their defaults. */
export function workgroupSize(code: string, constants: Record<string, number> = {}): number[] {
  const m = /@workgroup_size\(([^)]*)\)\s*fn\s+main\s*\(/.exec(code);
  if (!m) throw new Error('webgpu: shader has no @workgroup_size on fn main');
  return m[1].split(',').map((d) => d.trim()).filter(Boolean).map((d) => {
    const literal = /^(\d+)u?$/.exec(d);
    if (literal) return Number(literal[1]);
    if (d in constants) return constants[d];
    const def = new RegExp(`override\\s+${d}\\s*:\\s*\\w+\\s*=\\s*(\\d+)u?\\s*;`).exec(code);
    if (!def) throw new Error(`webgpu: workgroup size '${d}' is neither a literal nor an override with a default or a constant`);
    return Number(def[1]);
  });
}

/** Throws a LimitError naming the first limit of `limits` that the launch of `code` exceeds. */
export function checkKernelLimits(l: Launch, code: string, limits: GPUSupportedLimits, what: string): void {
  const [x, y = 1, z = 1] = workgroupSize(code, l.constants);
  const needs: [keyof GPUSupportedLimits, number, string][] = [
    ['maxComputeInvocationsPerWorkgroup', x * y * z, `a ${x}x${y}x${z} workgroup`],
    ['maxComputeWorkgroupSizeX', x, 'its workgroup width'],
    ['maxComputeWorkgroupSizeY', y, 'its workgroup height'],
    ['maxComputeWorkgroupSizeZ', z, 'its workgroup depth'],
    ['maxStorageBuffersPerShaderStage', l.bindings.length, `${l.bindings.length} storage buffers`],
  ];
  for (const [limit, needed, why] of needs) {
    const available = limits[limit] as number;
    if (needed > available) throw new LimitError(limit, needed, available, `${what} (shader ${l.shader}: ${why})`);
  }
}
