// Optimizer update throughput: one fused update of a parameter of n elements (about 1M), on our WebGPU kernels, the
// CPU reference and (with compare) TF.js's optimizers on the same adapter. An update is memory-bound, so the figure is
// GB/s of the minimum traffic: every array read once and every updated array written once (for Adam: p, g, m, v
// read; p, m, v written: 28 bytes per element). TF.js is charged the same bytes, whatever it really moves.
import { Variable } from '../src/graph/tensor.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { CpuBackend } from '../src/backends/cpu/cpu_backend.js';
import type { Backend } from '../src/backends/backend.js';
import { FusedOptimizer } from '../src/optim/optimizer.js';
import { makeOptimizer, OPTIMIZER_NAMES } from '../src/optim/index.js';
import { timeIt, seededUniform } from './timing.js';
import { loadTfjs, Tf } from './tfjs.js';

export interface OptimizerRow { optimizer: string; impl: string; n: number; bytes: number; gbps: number; ms: number; min: number; max: number }

/** Updates per timed iteration on the GPU: one submit each, then one sync, so the sync's latency is amortised. */
const GPU_BATCH = 20;


/** Minimum bytes one update moves: p and g read, p written, each state slot read and written. */
const bytesOf = (n: number, slots: number) => (3 + 2 * slots) * 4 * n;

async function ours(be: Backend, name: string, n: number, impl: string): Promise<OptimizerRow> {
  const p = new Variable(seededUniform(n, 1), [n], 'p');
  // The gradient is a Variable too, so no upload is timed: only the update kernel.
  const g = new Variable(seededUniform(n, 2, 0.01), [n], 'g');
  const opt = makeOptimizer(name, name === 'sgd' ? { momentum: 0.9 } : {});
  // The per-parameter kernel: a multi-tensor update would first copy a Variable gradient into its gradient arena.
  if (opt instanceof FusedOptimizer) opt.multiTensor = false;
  const ex = be.compile([], opt.updates([p], [g.tensor]));
  const batch = be.name === 'cpu' ? 1 : GPU_BATCH;
  let t = 0;
  const time = await timeIt(async () => {
    for (let i = 0; i < batch; i++) { opt.beginStep?.(++t); ex.run(new Map()); }
    await be.sync();
  }, { warmup: 1, minIterations: be.name === 'cpu' ? 3 : 5, minMs: 500 });
  const slots = opt.state().length;
  ex.dispose();
  const ms = time.ms / batch, bytes = bytesOf(n, slots);
  return { optimizer: name, impl, n, bytes, gbps: bytes / ms / 1e6, ms, min: time.min / batch, max: time.max / batch };
}

/** TF.js's counterparts (it has no AdamW or NAdam), PyTorch's defaults where TF.js's differ. */
function tfOptimizer(tf: Tf, name: string) {
  switch (name) {
    case 'sgd': return { make: () => tf.train.momentum(0.03, 0.9), slots: 1 };
    case 'adam': return { make: () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8), slots: 2 };
    case 'rmsprop': return { make: () => tf.train.rmsprop(1e-2, 0.99, 0, 1e-8), slots: 1 };
    case 'adagrad': return { make: () => tf.train.adagrad(1e-2, 0.1), slots: 1 };
    case 'adadelta': return { make: () => tf.train.adadelta(1, 0.9, 1e-6), slots: 2 };
    default: return undefined;
  }
}

async function tfjs(name: string, n: number): Promise<OptimizerRow | undefined> {
  const tf = await loadTfjs('webgpu');
  const spec = tfOptimizer(tf, name);
  if (!spec) return undefined;
  const p = tf.variable(tf.tensor1d(seededUniform(n, 1)), true, `bench_p_${name}`), g = tf.tensor1d(seededUniform(n, 2, 0.01));
  const opt = spec.make();
  // Reading one element waits for the queue without timing a 4 MB readback.
  const time = await timeIt(async () => {
    for (let i = 0; i < GPU_BATCH; i++) opt.applyGradients([{ name: p.name, tensor: g }]);
    const one = p.slice(0, 1);
    await one.data();
    one.dispose();
  }, { warmup: 1, minIterations: 5, minMs: 500 });
  opt.dispose(); p.dispose(); g.dispose();
  const ms = time.ms / GPU_BATCH, bytes = bytesOf(n, spec.slots);
  return { optimizer: name, impl: 'tfjs-webgpu', n, bytes, gbps: bytes / ms / 1e6, ms, min: time.min / GPU_BATCH, max: time.max / GPU_BATCH };
}

export async function benchOptimizers(o: { n?: number; names?: string[]; compare?: boolean; cpu?: boolean } = {}): Promise<OptimizerRow[]> {
  const n = o.n ?? 1 << 20, names = o.names ?? OPTIMIZER_NAMES;
  const rows: OptimizerRow[] = [];
  const gpu = await WebGpuBackend.create();
  for (const name of names) rows.push(await ours(gpu, name, n, 'wgtrain-webgpu'));
  gpu.dispose();
  if (o.cpu) for (const name of names) rows.push(await ours(new CpuBackend(), name, n, 'wgtrain-cpu'));
  if (o.compare) for (const name of names) { const r = await tfjs(name, n); if (r) rows.push(r); }
  return rows;
}
