import { Backend } from './backend.js';
import { UserError } from '../util/errors.js';
import { CpuBackend } from './cpu/cpu_backend.js';
import { WebGpuBackend } from './webgpu/webgpu_backend.js';

export type BackendName = 'cpu' | 'webgpu';

export async function createBackend(name: BackendName): Promise<Backend> {
  if (name === 'cpu') return new CpuBackend();
  if (name === 'webgpu') return WebGpuBackend.create();
  throw new UserError(`unknown backend '${name}' (expected cpu or webgpu)`);
}
export { CpuBackend, WebGpuBackend };
export type { Backend };
