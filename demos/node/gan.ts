// A generative adversarial network on MNIST (course 004): a dense generator (64-d noise -> 256 -> 784, tanh) and a
// dense discriminator (784 -> 256 -> 1 logit), two Adam optimizers, and GanTrainer's two compiled steps run
// alternately on each batch (src/train/gan.ts): no recompiling, no readback inside a step, the noise drawn on the
// device. Real images are scaled to [-1, 1]. Writes a grid of generated digits after every epoch (the same noise
// each time, so the grids show one set of samples taking shape) and the loss curves.
// Run: npm run demo:gan   (options: --epochs E  --train N  --backend cpu|webgpu  --out DIR)
import { parseArgs } from 'node:util';
import { Rng, createBackend, Sequential, Linear, Adam } from '../../src/index.js';
import { LeakyReLU } from '../../src/nn/activations.js';
import { Tanh } from '../../src/nn/module.js';
import { GanTrainer, GanRead } from '../../src/train/gan.js';
import { DataLoader } from '../../src/data/loader.js';
import type { Backend } from '../../src/backends/backend.js';
import type { Dataset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { plotSvg } from '../../src/util/plot_svg.js';
import { writeGridPng, writeText, isMain } from './images.js';

export const LATENT = 64;

export function ganModels(rng: Rng, hidden = 256) {
  const generator = new Sequential(new Linear(LATENT, hidden, { rng, init: 'xavier', name: 'g1' }), new LeakyReLU(0.2), new Linear(hidden, 784, { rng, init: 'xavier', name: 'g2' }), Tanh());
  const discriminator = new Sequential(new Linear(784, hidden, { rng, init: 'xavier', name: 'd1' }), new LeakyReLU(0.2), new Linear(hidden, 1, { rng, init: 'xavier', name: 'd2' }));
  return { generator, discriminator };
}

export interface GanRun { reads: GanRead[]; grids: Float32Array[]; seconds: number }

/**
 * Train for `epochs` over `train` (pixels in [0, 1]), reading the losses every `logEvery` iterations (each read
 * queued behind its step and awaited at the next read) and sampling a grid after each epoch.
 */
export async function trainGan(be: Backend, train: Dataset, o: { epochs: number; batchSize?: number; logEvery?: number; samples?: number; onEpoch?: (epoch: number, grid: Float32Array) => void }): Promise<GanRun> {
  const t0 = performance.now(), B = o.batchSize ?? 64, every = o.logEvery ?? 20;
  const scaled: Dataset = { ...train, x: Float32Array.from(train.x, (v) => 2 * v - 1) };
  const { generator, discriminator } = ganModels(new Rng(1));
  const gan = new GanTrainer(be, generator, discriminator, new Adam({ lr: 2e-4, beta1: 0.5 }), new Adam({ lr: 2e-4, beta1: 0.5 }), LATENT);
  const loader = new DataLoader(scaled, { batchSize: B, shuffle: true, seed: 1, dropLast: true });
  const reads: GanRead[] = [], grids: Float32Array[] = [];
  let pending: Promise<GanRead> | undefined;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (const b of loader.batches(epoch)) {
      gan.trainStep(b.x, B, [784]);
      if (gan.step % every === 0) { if (pending) reads.push(await pending); pending = gan.queueRead(B); }
    }
    const g = Float32Array.from(await gan.sample(o.samples ?? 64), (v) => (v + 1) / 2);
    grids.push(g);
    o.onEpoch?.(epoch, g);
  }
  if (pending) reads.push(await pending);
  gan.dispose();
  return { reads, grids, seconds: (performance.now() - t0) / 1000 };
}

if (isMain('gan')) {
  const { values: a } = parseArgs({ options: {
    epochs: { type: 'string', default: '10' }, train: { type: 'string', default: '20000' },
    backend: { type: 'string', default: 'webgpu' }, out: { type: 'string', default: 'runs/gan' },
  } });
  const be = await createBackend(a.backend as 'cpu' | 'webgpu');
  const { train } = await loadMnist({ limitTrain: Number(a.train), limitTest: 1 });
  const r = await trainGan(be, train, { epochs: Number(a.epochs), onEpoch: (e, g) => {
    writeGridPng(`${a.out}/epoch_${String(e + 1).padStart(2, '0')}.png`, g, 64, 28, 28, 8, 2);
    console.log(`epoch ${e + 1}: wrote ${a.out}/epoch_${String(e + 1).padStart(2, '0')}.png`);
  } });
  const x = r.reads.map((q) => q.step);
  writeText(`${a.out}/loss.svg`, plotSvg([
    { title: 'GAN losses', xLabel: 'iteration', yLabel: 'BCE', yInclude: [0], series: [{ name: 'discriminator', x, y: r.reads.map((q) => q.lossD) }, { name: 'generator', x, y: r.reads.map((q) => q.lossG) }] },
    { title: 'discriminator: mean P(real)', xLabel: 'iteration', yInclude: [0, 1], series: [{ name: 'on real', x, y: r.reads.map((q) => q.realScore) }, { name: 'on generated', x, y: r.reads.map((q) => q.fakeScore) }] },
  ]));
  const last = r.reads.at(-1)!;
  console.log(`${r.seconds.toFixed(0)} s; last read: loss D ${last.lossD.toFixed(3)}, G ${last.lossG.toFixed(3)}, P(real) on real ${last.realScore.toFixed(3)}, on generated ${last.fakeScore.toFixed(3)}; wrote ${a.out}/loss.svg`);
  be.dispose();
}
