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
  // dist/tfjs-bundle.cjs sits beside dist/cli.js (scripts/build.mjs builds both).
  const bundle = './tfjs-bundle.cjs';
  const mod = (await import(/* @vite-ignore */ bundle)) as { default: { tf: Tf; setWasmPaths: (p: string) => void } };
  const { tf, setWasmPaths } = mod.default;
  if (backend === 'wasm') {
    const dir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    setWasmPaths(`${dir}/dist/`);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`bench: TF.js backend '${backend}' failed to initialise`);
  await tf.ready();
  return tf;
}
