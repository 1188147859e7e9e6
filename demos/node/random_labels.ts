// Fitting random labels (after Prince, Understanding Deep Learning, figure 20.2): fully connected networks of 1 to 4
// hidden layers, with about the same number of parameters, trained full-batch on a subset of MNIST whose labels have
// been replaced by random ones. There is nothing to learn, only to memorise; all of them can, and the deeper ones do
// it in fewer epochs. The images are average-pooled to 7x7 (49 inputs, close to MNIST-1D's 40) to keep it quick.
// Prints the epochs each needed to fit every label and plots loss and training accuracy against epochs.
// Run: npm run demo:random-labels   (options: --n N  --params P  --epochs E  --backend cpu|webgpu  --plot FILE.svg)
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { input, Tensor, ops, grad, Sequential, Linear, ReLU, Rng, createBackend } from '../../src/index.js';
import { SGD } from '../../src/optim/index.js';
import { loadMnist } from '../../src/data/mnist.js';
import { columnStats, standardize } from '../../src/data/csv.js';
import type { Module } from '../../src/nn/module.js';
import { plotSvg } from '../../src/util/plot_svg.js';

const { values: a } = parseArgs({ options: {
  n: { type: 'string', default: '4000' }, params: { type: 'string', default: '15200' }, epochs: { type: 'string', default: '2000' },
  backend: { type: 'string', default: 'cpu' }, plot: { type: 'string', default: 'runs/random-labels.svg' }, lr: { type: 'string', default: '0.1' },
} });
const n = Number(a.n), budget = Number(a.params), maxEpochs = Number(a.epochs), lr = Number(a.lr);
const F = 49, C = 10;

// 7x7 average pools of the first n training images, standardised per pixel; labels drawn uniformly at random.
const { train } = await loadMnist({ limitTrain: n, limitTest: 1 });
const X = new Float32Array(n * F);
for (let i = 0; i < n; i++) for (let p = 0; p < 28 * 28; p++) X[i * F + Math.floor(p / 28 / 4) * 7 + Math.floor((p % 28) / 4)] += train.x[i * 784 + p] / 16;
standardize(X, columnStats(X, n));
const rng = new Rng(7);
const Y = Int32Array.from({ length: n }, () => rng.int(C));

/** Hidden width so that `depth` equal hidden layers use about `budget` parameters. */
function width(depth: number): number {
  const count = (h: number) => (F + 1) * h + (depth - 1) * (h * h + h) + (h + 1) * C;
  let h = 1;
  while (count(h + 1) <= budget) h++;
  return h;
}
function net(depth: number, h: number, r: Rng): Module {
  const layers: Module[] = [];
  for (let d = 0, i = F; d < depth; d++, i = h) layers.push(new Linear(i, h, { rng: r }), ReLU());
  return new Sequential(...layers, new Linear(h, C, { rng: r }));
}

const backend = await createBackend(a.backend === 'webgpu' ? 'webgpu' : 'cpu');
console.log(`random labels: ${n} MNIST images (7x7), ${C} random classes, plain full-batch gradient descent lr ${lr}, He init, up to ${maxEpochs} epochs, on ${backend.name}`);
const results: { name: string; params: number; epochs: number[]; loss: number[]; acc: number[]; fitAt?: number }[] = [];
for (let depth = 1; depth <= 4; depth++) {
  const h = width(depth);
  const model = net(depth, h, new Rng(1));
  const params = model.parameters();
  const x = input([n, F], 'f32', 'x'), y = input([n], 'i32', 'y');
  const logits = model.forward(x);
  const loss = ops.softmaxCrossEntropy(logits, y);
  const step = backend.compile([loss, logits], new SGD({ lr, momentum: 0 }).updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, X], [y, Y]]);
  const r = { name: `${depth} layer${depth > 1 ? 's' : ''} of ${h}`, params: params.reduce((s, p) => s + p.size, 0), epochs: [] as number[], loss: [] as number[], acc: [] as number[], fitAt: undefined as number | undefined };
  for (let e = 1; e <= maxEpochs; e++) {
    step.run(feeds); // full batch: one step is one epoch
    if (e % 10 && e !== maxEpochs) continue;
    const [l, z] = [(await step.read(loss))[0], await step.read(logits)];
    let right = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (z[i * C + c] > z[i * C + best]) best = c;
      if (best === Y[i]) right++;
    }
    r.epochs.push(e); r.loss.push(l); r.acc.push(right / n);
    if (right === n) { r.fitAt = e; break; }
  }
  step.dispose();
  results.push(r);
  console.log(`  ${r.name.padEnd(18)} ${String(r.params).padStart(6)} parameters  ${r.fitAt ? `every label fitted after ${r.fitAt} epochs` : `${(r.acc[r.acc.length - 1] * 100).toFixed(1)}% fitted after ${maxEpochs} epochs`}  (loss ${r.loss[r.loss.length - 1].toFixed(3)})`);
}
backend.dispose();

mkdirSync(dirname(a.plot!), { recursive: true });
writeFileSync(a.plot!, plotSvg([
  { title: 'Loss on random labels', xLabel: 'epoch', yLabel: 'cross-entropy', yInclude: [0], series: results.map((r) => ({ name: r.name, x: r.epochs, y: r.loss })) },
  { title: 'Labels fitted', xLabel: 'epoch', yLabel: 'training accuracy', yInclude: [0, 1], series: results.map((r) => ({ name: r.name, x: r.epochs, y: r.acc })) },
]));
console.log(`wrote ${a.plot}`);
