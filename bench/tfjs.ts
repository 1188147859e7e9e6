// TF.js on the same Dawn adapter (WebGPU backend) and its WASM backend, for side-by-side comparisons.
// Loaded only by `--compare tfjs`; the packages are devDependencies.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { gpuApi } from '../src/backends/webgpu/device.js';

export type Tf = typeof import('@tensorflow/tfjs-core');

export async function loadTfjs(backend: 'webgpu' | 'wasm'): Promise<Tf> {
  // TF.js finds WebGPU at navigator.gpu: give it the process's one Dawn instance, the adapter our backend uses.
  if (backend === 'webgpu') {
    const g = globalThis as { navigator?: { gpu?: GPU } };
    g.navigator ??= {};
    g.navigator.gpu ??= await gpuApi();
  }
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  else {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(`${dir}/dist/`);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`bench: TF.js backend '${backend}' failed to initialise`);
  await tf.ready();
  return tf;
}
