// TF.js on the same Dawn adapter (WebGPU backend) and its WASM backend, for side-by-side comparisons.
// Loaded only by `--compare tfjs`; the packages are devDependencies.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gpuApi } from '../src/backends/webgpu/device.js';

export type Tf = typeof import('@tensorflow/tfjs-core');

/**
 * Why `--compare tfjs` cannot run here, or undefined if it can: TF.js is a devDependency, so an installed package
 * has neither its modules nor dist/tfjs-bundle.cjs (the tarball leaves the 2 MB bundle out).
 */
export function tfjsMissing(): string | undefined {
  const need = 'bench --compare tfjs needs TF.js, which ships only with a clone of the repository (its devDependencies); run it there after npm ci, or leave out --compare';
  if (!existsSync(fileURLToPath(new URL(BUNDLE, import.meta.url)))) return `${need} (dist/tfjs-bundle.cjs is not built)`;
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  } catch {
    return `${need} (@tensorflow/tfjs-backend-wasm is not installed)`;
  }
  return undefined;
}

// dist/tfjs-bundle.cjs sits beside dist/cli.js (scripts/build.mjs builds both).
const BUNDLE = './tfjs-bundle.cjs';

export async function loadTfjs(backend: 'webgpu' | 'wasm'): Promise<Tf> {
  // TF.js finds WebGPU at navigator.gpu: give it the process's one Dawn instance, the adapter our backend uses.
  if (backend === 'webgpu') {
    const g = globalThis as { navigator?: { gpu?: GPU } };
    g.navigator ??= {};
    g.navigator.gpu ??= await gpuApi();
  }
  const bundle = BUNDLE;
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
