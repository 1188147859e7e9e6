// Softmax cross-entropy throughput: the fused loss (mean over the batch of per-row softmax_xent) and its gradient with
// respect to the logits, one forward + backward on [B, C] logits with int32 labels, on our WebGPU kernels, the CPU
// reference and (with compare) TF.js's tf.losses.softmaxCrossEntropy (one-hot labels, gradient by tf.valueAndGrad)
// on WebGPU on the same adapter and on WASM. Memory-bound, so the figure is GB/s of the minimum traffic: the logits
// read once, the gradient written once and the labels read once (8·B·C + 4·B bytes), whatever each engine really moves.
import { input, Variable } from '../src/graph/tensor.js';
import { softmaxCrossEntropy } from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { CpuBackend } from '../src/backends/cpu/cpu_backend.js';
import type { Backend } from '../src/backends/backend.js';
import { UsageError } from '../src/util/usage_error.js';
import { timeIt, seededUniform } from './timing.js';
import { loadTfjs } from './tfjs.js';

type TfTensor = import('@tensorflow/tfjs-core').Tensor;

export interface SoftmaxXentRow { shape: string; impl: string; gbps: number; ms: number; min: number; max: number }

export const SOFTMAX_XENT_SIZES = '128x10,1024x1000,4096x1000';

/**
 * Loss + gradient evaluations per timed iteration on the GPU: one submit each, then one sync, as `bench optimizer`, so
 * the sync's latency is amortised on small sizes; large ones, where it does not matter, run fewer (down to 1 from
 * 2M logits up) to keep the whole benchmark short.
 */
const gpuBatch = (b: number, c: number) => Math.max(1, Math.min(20, Math.floor(2 ** 21 / (b * c))));

/** Parses `BxC`, e.g. 1024x1000. */
export function parseXentSize(spec: string): [number, number] {
  const d = spec.trim().split('x').map(Number);
  if (d.length !== 2 || d.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new UsageError(`bench softmax-xent: bad size '${spec}' (expected BxC, batch by classes, e.g. 1024x1000)`);
  }
  return [d[0], d[1]];
}

/** Minimum bytes of one loss + gradient: logits read, gradient written, labels read. */
export const xentBytes = (b: number, c: number) => 8 * b * c + 4 * b;


const labels = (b: number, c: number) => Int32Array.from({ length: b }, (_, i) => (i * 7919) % c);

function row(b: number, c: number, impl: string, t: { ms: number; min: number; max: number }, batch: number): SoftmaxXentRow {
  const ms = t.ms / batch;
  return { shape: `${b}x${c}`, impl, gbps: xentBytes(b, c) / ms / 1e6, ms, min: t.min / batch, max: t.max / batch };
}

async function ours(be: Backend, b: number, c: number, impl: string): Promise<SoftmaxXentRow> {
  // The logits are a Variable, so they are not uploaded; the labels are fed (4·B bytes) as in training.
  const z = new Variable(seededUniform(b * c, 1, 4), [b, c], 'logits');
  const y = input([b], 'i32', 'labels');
  const loss = softmaxCrossEntropy(z.tensor, y);
  const [dz] = grad(loss, [z.tensor]);
  const ex = be.compile([loss, dz]);
  const feeds = new Map([[y, labels(b, c)]]);
  const batch = be.name === 'cpu' ? 1 : gpuBatch(b, c);
  const t = await timeIt(async () => {
    for (let i = 0; i < batch; i++) ex.run(feeds);
    await be.sync();
  }, { warmup: 1, minIterations: be.name === 'cpu' ? 3 : 5, minMs: 500 });
  ex.dispose();
  return row(b, c, impl, t, batch);
}

async function tfjs(backend: 'webgpu' | 'wasm', b: number, c: number): Promise<SoftmaxXentRow> {
  const tf = await loadTfjs(backend);
  const z = tf.tensor2d(seededUniform(b * c, 1, 4), [b, c]);
  const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels(b, c), 'int32'), c));
  const f = tf.valueAndGrad((l: TfTensor) => tf.losses.softmaxCrossEntropy(onehot, l));
  const batch = gpuBatch(b, c);
  const t = await timeIt(async () => {
    let last: TfTensor | undefined;
    for (let i = 0; i < batch; i++) {
      const { value, grad } = f(z);
      value.dispose();
      last?.dispose();
      last = grad;
    }
    // Reading one element waits for the queue without timing a readback of the gradient.
    const one = last!.slice([0, 0], [1, 1]);
    await one.data();
    tf.dispose([one, last!]);
  }, { warmup: 1, minIterations: 5, minMs: 500 });
  tf.dispose([z, onehot]);
  return row(b, c, `tfjs-${backend}`, t, batch);
}

export async function benchSoftmaxXent(sizes: [number, number][], o: { compare?: boolean; cpu?: boolean } = {}): Promise<SoftmaxXentRow[]> {
  const rows: SoftmaxXentRow[] = [];
  const gpu = await WebGpuBackend.create();
  for (const [b, c] of sizes) rows.push(await ours(gpu, b, c, 'wgtrain-webgpu'));
  gpu.dispose();
  if (o.cpu) for (const [b, c] of sizes) rows.push(await ours(new CpuBackend(), b, c, 'wgtrain-cpu'));
  if (o.compare) {
    for (const [b, c] of sizes) rows.push(await tfjs('webgpu', b, c));
    for (const [b, c] of sizes) rows.push(await tfjs('wasm', b, c));
  }
  return rows;
}
