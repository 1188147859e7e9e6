// GEMM throughput: C = A·B for square n, float32, on our WebGPU kernel, the CPU reference, and (with compare)
// TF.js WebGPU on the same adapter and TF.js WASM, measured in the same run.
import { Variable } from '../src/graph/tensor.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { CpuBackend } from '../src/backends/cpu/cpu_backend.js';
import type { Backend } from '../src/backends/backend.js';
import { timeIt, seededUniform } from './timing.js';
import { loadTfjs } from './tfjs.js';
import { runTorch } from './torch.js';

export interface GemmRow { n: number; impl: string; gflops: number; ms: number; min: number; max: number }


// A and B live on the backend (variables), as TF.js's tensors do on theirs: each iteration is the product and the
// read of C, the same work on every engine.
async function ours(be: Backend, n: number, impl: string): Promise<GemmRow> {
  const a = new Variable(seededUniform(n * n, 1), [n, n], 'A'), b = new Variable(seededUniform(n * n, 2), [n, n], 'B');
  const c = a.tensor.matmul(b.tensor);
  await be.tune?.([c]); // measures only where the backend tunes
  const ex = be.compile([c]);
  const t = await timeIt(async () => { ex.run(new Map()); await ex.read(c); }, { minIterations: be.name === 'cpu' ? 2 : 5, warmup: 1 });
  ex.dispose();
  return { n, impl, gflops: (2 * n ** 3) / t.ms / 1e6, ...t };
}

async function tfjs(backend: 'webgpu' | 'wasm', n: number): Promise<GemmRow> {
  const tf = await loadTfjs(backend);
  const a = tf.tensor2d(seededUniform(n * n, 1), [n, n]), b = tf.tensor2d(seededUniform(n * n, 2), [n, n]);
  const t = await timeIt(async () => { const c = tf.matMul(a, b); await c.data(); c.dispose(); }, { warmup: 1 });
  a.dispose(); b.dispose();
  return { n, impl: `tfjs-${backend}`, gflops: (2 * n ** 3) / t.ms / 1e6, ...t };
}

export async function benchGemm(sizes: number[], o: { compare?: boolean; torch?: boolean; cpu?: boolean; autotune?: boolean } = {}): Promise<GemmRow[]> {
  const rows: GemmRow[] = [];
  const gpu = await WebGpuBackend.create({ autotune: o.autotune });
  for (const n of sizes) rows.push(await ours(gpu, n, 'wgtrain-webgpu'));
  gpu.dispose();
  if (o.cpu) for (const n of sizes.filter((n) => n <= 512)) rows.push(await ours(new CpuBackend(), n, 'wgtrain-cpu'));
  if (o.compare) {
    for (const n of sizes) rows.push(await tfjs('webgpu', n));
    for (const n of sizes) rows.push(await tfjs('wasm', n));
  }
  if (o.torch) for (const r of runTorch({ gemm: sizes }).gemm) rows.push({ n: r.n, impl: 'torch-cpu', gflops: (2 * r.n ** 3) / r.ms / 1e6, ms: r.ms, min: r.min, max: r.max });
  return rows;
}
