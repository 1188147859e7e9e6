// TF.js as its users get it from the full `@tensorflow/tfjs` package: core, every gradient, chained ops, and the backends we
// compare against. Bundled by esbuild into dist/tfjs-bundle.cjs because tfjs-core's ES modules use extensionless imports
// that only bundlers resolve.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-webgpu';
export * as tf from '@tensorflow/tfjs-core';
export { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
