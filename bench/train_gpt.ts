// GPT training throughput in tokens/s: whole steps (embedding, causal blocks, sequence cross-entropy, backward, AdamW)
// of the `wgtrain train --model gpt` model on random token windows, and (with compare) the same model written from
// TF.js primitives the way a TF.js user would (gather, moments, batched matMul, softmax with an additive causal mask,
// tanh GELU, softmaxCrossEntropy on one-hot targets, tf.train.adam) on WebGPU (same adapter) and WASM, in the same run.
// Ours also clips the gradients to norm 1 and decays the weights (AdamW), which the TF.js version leaves out: it does
// less work per step than ours.
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { Gpt, GptConfig, GPT_DEFAULTS } from '../src/nn/transformer.js';
import { TextTrainer } from '../src/train/text_trainer.js';
import { makeOptimizer } from '../src/optim/index.js';
import { Rng } from '../src/util/rng.js';
import { loadTfjs } from './tfjs.js';
import { passesOnly, trainPasses, type TrainBench } from './train.js';
import { timeIt } from './timing.js';
import { runTorch } from './torch.js';

export const GPT_BENCH_VOCAB = 96;

interface Windows { x: Int32Array; y: Int32Array }

function windows(n: number, B: number, T: number, vocab: number): Windows[] {
  const r = new Rng(7);
  return Array.from({ length: n }, () => ({ x: Int32Array.from({ length: B * T }, () => r.int(vocab)), y: Int32Array.from({ length: B * T }, () => r.int(vocab)) }));
}

async function ours(config: GptConfig, B: number, steps: number, data: Windows[], passes: number): Promise<TrainBench> {
  const gpu = await WebGpuBackend.create();
  const trainer = new TextTrainer(gpu, new Gpt(config, new Rng(1)), makeOptimizer('adamw', { lr: 1e-3 }), B);
  for (let i = 0; i < 2; i++) trainer.run(data[i % data.length], 1e-3);
  await gpu.sync();
  const t = await timeIt(async () => {
    for (let s = 0; s < steps; s++) {
      trainer.run(data[s % data.length], 1e-3);
      if (s % 20 === 19) await gpu.sync();
    }
    await gpu.sync();
  }, passesOnly(passes));
  trainer.dispose();
  gpu.dispose();
  const seconds = t.ms / 1000;
  return { model: 'gpt', backend: 'wgtrain-webgpu', batchSize: B, steps, samplesPerSec: (steps * B * config.context) / seconds, ...(passes > 1 && { passes }) };
}

async function tfjsGpt(backend: 'webgpu' | 'wasm', c: GptConfig, B: number, steps: number, data: Windows[]): Promise<TrainBench> {
  const tf = await loadTfjs(backend);
  type T = import('@tensorflow/tfjs-core').Tensor;
  const { vocab: V, context: T_, dim: D, heads: H, layers: L } = c, dh = D / H;
  const normal = (shape: number[], std: number) => tf.variable(tf.randomNormal(shape, 0, std));
  const xavier = (i: number, o: number) => tf.variable(tf.randomUniform([i, o], -Math.sqrt(6 / (i + o)), Math.sqrt(6 / (i + o))));
  const ones = (n: number) => tf.variable(tf.ones([n])), zeros = (n: number) => tf.variable(tf.zeros([n]));
  const tok = normal([V, D], 0.02), pos = normal([T_, D], 0.02);
  const blocks = Array.from({ length: L }, () => ({
    g1: ones(D), b1: zeros(D), wqkv: xavier(D, 3 * D), bqkv: zeros(3 * D), wo: xavier(D, D), bo: zeros(D),
    g2: ones(D), b2: zeros(D), w1: xavier(D, 4 * D), c1: zeros(4 * D), w2: xavier(4 * D, D), c2: zeros(D),
  }));
  const gf = ones(D), bf = zeros(D), wh = xavier(D, V), bh = zeros(V);
  const vars = [tok, pos, ...blocks.flatMap((b) => Object.values(b)), gf, bf, wh, bh];
  // -1e9 above the diagonal: the usual way to mask attention scores in TF.js.
  const mask = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T_, T_]), -1, 0)), -1e9);
  const ln = (x: T, g: T, b: T) => { const { mean, variance } = tf.moments(x, -1, true); return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b); };
  const gelu = (x: T) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
  const dense = (x: T, w: T, b: T) => tf.add(tf.matMul(tf.reshape(x, [-1, w.shape[0]!]), w), b);
  const opt = tf.train.adam(1e-3);
  // TF.js WASM has no UnsortedSegmentSum (gather's gradient): there the lookup is a one-hot product, as a user would write it.
  const xs = data.map((d) => (backend === 'wasm' ? tf.oneHot(tf.tensor1d(d.x, 'int32'), V) : tf.tensor2d(d.x, [B, T_], 'int32')));
  const embed = (ids: T) => (backend === 'wasm' ? tf.reshape(tf.matMul(ids, tok), [B, T_, D]) : tf.gather(tok, ids));
  const ys = data.map((d) => tf.oneHot(tf.tensor1d(d.y, 'int32'), V));
  const step = (i: number) => tf.tidy(() => {
    opt.minimize(() => {
      let h = tf.add(embed(xs[i]), pos) as T;
      for (const b of blocks) {
        const qkv = tf.transpose(tf.reshape(dense(ln(h, b.g1, b.b1), b.wqkv, b.bqkv), [B, T_, 3, H, dh]), [2, 0, 3, 1, 4]);
        const [q, k, v] = tf.unstack(tf.reshape(qkv, [3, B * H, T_, dh])) as import('@tensorflow/tfjs-core').Tensor3D[];
        const p = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), mask));
        const o = tf.reshape(tf.transpose(tf.reshape(tf.matMul(p as import('@tensorflow/tfjs-core').Tensor3D, v), [B, H, T_, dh]), [0, 2, 1, 3]), [B, T_, D]);
        h = tf.add(h, tf.reshape(dense(o, b.wo, b.bo), [B, T_, D]));
        h = tf.add(h, tf.reshape(dense(gelu(dense(ln(h, b.g2, b.b2), b.w1, b.c1)), b.w2, b.c2), [B, T_, D]));
      }
      return tf.losses.softmaxCrossEntropy(ys[i], dense(ln(h, gf, bf), wh, bh)) as import('@tensorflow/tfjs-core').Scalar;
    });
  });
  for (let i = 0; i < 2; i++) step(i % data.length);
  await vars[0].data();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    step(s % data.length);
    if (s % 20 === 19) await vars[0].data();
  }
  await vars[0].data();
  const seconds = (performance.now() - t0) / 1000;
  [...vars, ...xs, ...ys, mask].forEach((t) => t.dispose());
  return { model: 'gpt', backend: `tfjs-${backend}`, batchSize: B, steps, samplesPerSec: (steps * B * T_) / seconds };
}

/** Rows in tokens/s (the samplesPerSec field of TrainBench holds tokens/s for this model). */
export async function benchTrainGpt(o: { batchSize: number; steps: number; compare?: boolean; torch?: boolean }): Promise<TrainBench[]> {
  const config: GptConfig = { ...GPT_DEFAULTS, vocab: GPT_BENCH_VOCAB };
  const data = windows(4, o.batchSize, config.context, config.vocab);
  const passes = trainPasses(o.steps);
  const rows = [await ours(config, o.batchSize, o.steps, data, passes)];
  if (o.compare) for (const backend of ['webgpu', 'wasm'] as const) rows.push(await tfjsGpt(backend, config, o.batchSize, o.steps, data));
  if (o.torch) {
    // PyTorch's GPT (bench/torch_cpu.py) has the same blocks; it trains without clipping, as ours does here.
    const { vocab, context, dim, heads, layers } = config;
    const [t] = runTorch({ train: [{ model: 'gpt', batchSize: o.batchSize, steps: o.steps, passes, gpt: { vocab, context, dim, heads, layers } }] }).train;
    rows.push({ model: 'gpt', backend: 'torch-cpu', batchSize: o.batchSize, steps: o.steps, samplesPerSec: (o.steps * o.batchSize * context) / t.seconds, ...(passes > 1 && { passes }) });
  }
  return rows;
}
