// Fitting random labels (after Prince, Understanding Deep Learning, figure 20.2, in the course's deck): fully
// connected networks of 1 to 4 hidden layers with about the same number of parameters, trained by plain full-batch
// gradient descent (no momentum, no regularisation, He initialisation) on images whose labels were replaced by random
// ones. There is nothing to learn, only to memorise; the deck's claim is that all of them can, the deeper ones in
// fewer epochs. MNIST-1D (the deck's data) ships in no npm package, so the images are MNIST average-pooled to 7x7 (49
// inputs, close to MNIST-1D's 40). Prints the epochs each needed to fit every label, or how far it got, and plots
// loss and training accuracy against epochs.
// Run: npm run demo:random-labels   (options: --n N  --params P  --epochs E  --lr LR  --backend cpu|webgpu  --plot FILE.svg)
import { parseArgs } from 'node:util';
import { input, Tensor, ops, grad, Sequential, Linear, ReLU, Rng, createBackend } from '../../src/index.js';
import { SGD } from '../../src/optim/index.js';
import { loadMnist } from '../../src/data/mnist.js';
import { columnStats, standardize } from '../../src/data/csv.js';
import type { Module } from '../../src/nn/module.js';
import type { Backend } from '../../src/backends/backend.js';
import { plotSvg } from '../../src/util/plot_svg.js';
import { writeText, isMain } from './images.js';

export const F = 49, C = 10;

/** 7x7 average pools of the first n training images, standardised per pixel, and labels drawn uniformly at random. */
export async function randomLabelData(n: number): Promise<{ X: Float32Array; Y: Int32Array }> {
  const { train } = await loadMnist({ limitTrain: n, limitTest: 1 });
  const X = new Float32Array(n * F);
  for (let i = 0; i < n; i++) for (let p = 0; p < 28 * 28; p++) X[i * F + Math.floor(p / 28 / 4) * 7 + Math.floor((p % 28) / 4)] += train.x[i * 784 + p] / 16;
  standardize(X, columnStats(X, n));
  const rng = new Rng(7);
  return { X, Y: Int32Array.from({ length: n }, () => rng.int(C)) };
}

/** Hidden width so that `depth` equal hidden layers use about `budget` parameters. */
export function widthFor(depth: number, budget: number): number {
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

export interface RandomLabelRun { name: string; depth: number; params: number; epochs: number[]; loss: number[]; acc: number[]; fitAt?: number }

/** Full-batch gradient descent (one step is one epoch) until every label is fitted or `maxEpochs`; reads every 10. */
export async function fitRandomLabels(be: Backend, X: Float32Array, Y: Int32Array, depth: number, budget: number, lr: number, maxEpochs: number): Promise<RandomLabelRun> {
  const n = Y.length, h = widthFor(depth, budget), model = net(depth, h, new Rng(1)), params = model.parameters();
  const x = input([n, F], 'f32', 'x'), y = input([n], 'i32', 'y');
  const logits = model.forward(x), loss = ops.softmaxCrossEntropy(logits, y);
  const step = be.compile([loss, logits], new SGD({ lr, momentum: 0 }).updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, X], [y, Y]]);
  const r: RandomLabelRun = { name: `${depth} layer${depth > 1 ? 's' : ''} of ${h}`, depth, params: params.reduce((s, p) => s + p.size, 0), epochs: [], loss: [], acc: [] };
  for (let e = 1; e <= maxEpochs; e++) {
    step.run(feeds);
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
  return r;
}

if (isMain('random_labels')) {
  const { values: a } = parseArgs({ options: {
    n: { type: 'string', default: '1000' }, params: { type: 'string', default: '15200' }, epochs: { type: 'string', default: '1500' },
    backend: { type: 'string', default: 'webgpu' }, plot: { type: 'string', default: 'runs/random-labels.svg' }, lr: { type: 'string', default: '0.5' },
  } });
  const n = Number(a.n), budget = Number(a.params), maxEpochs = Number(a.epochs), lr = Number(a.lr);
  const { X, Y } = await randomLabelData(n);
  const be = await createBackend(a.backend === 'webgpu' ? 'webgpu' : 'cpu');
  console.log(`random labels: ${n} MNIST images (7x7), ${C} random classes, plain full-batch gradient descent lr ${lr}, He init, up to ${maxEpochs} epochs, on ${be.name}`);
  const results: RandomLabelRun[] = [];
  for (let depth = 1; depth <= 4; depth++) {
    const r = await fitRandomLabels(be, X, Y, depth, budget, lr, maxEpochs);
    results.push(r);
    console.log(`  ${r.name.padEnd(18)} ${String(r.params).padStart(6)} parameters  ${r.fitAt ? `every label fitted after ${r.fitAt} epochs` : `${(r.acc.at(-1)! * 100).toFixed(1)}% fitted after ${maxEpochs} epochs`}  (loss ${r.loss.at(-1)!.toFixed(3)})`);
  }
  be.dispose();
  writeText(a.plot!, plotSvg([
    { title: 'Loss on random labels', xLabel: 'epoch', yLabel: 'cross-entropy', yInclude: [0], series: results.map((r) => ({ name: r.name, x: r.epochs, y: r.loss })) },
    { title: 'Labels fitted', xLabel: 'epoch', yLabel: 'training accuracy', yInclude: [0, 1], series: results.map((r) => ({ name: r.name, x: r.epochs, y: r.acc })) },
  ]));
  console.log(`wrote ${a.plot}`);
}
