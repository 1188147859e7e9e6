import { Backend } from './backend.js';
import { UserError } from '../util/errors.js';
import { CpuBackend } from './cpu/cpu_backend.js';
import { WebGpuBackend } from './webgpu/webgpu_backend.js';

export type BackendName = 'cpu' | 'webgpu';

/** `autotune`: measure WebGPU kernel choices before compiling (see WebGpuBackend) [WGTRAIN_AUTOTUNE, else off]. */
export async function createBackend(name: BackendName, o: { autotune?: boolean } = {}): Promise<Backend> {
  if (name === 'cpu') return new CpuBackend();
  if (name === 'webgpu') return WebGpuBackend.create({ autotune: o.autotune });
  throw new UserError(`unknown backend '${name}' (expected cpu or webgpu)`);
}
export { CpuBackend, WebGpuBackend };
export type { Backend };
