// Autoencoders on MNIST (course 001): a dense one (784-256-32-256-784) and a convolutional one (two stride-2
// convolutions down to 32x7x7, a transposed convolution and a bilinear upsampling back up), trained by `fit` on the
// reconstruction error (per-image binary cross-entropy of the pixels). Reports the test images' reconstruction
// loss beside the loss of always answering the mean training image, and writes a PNG of test digits (odd rows) over
// their reconstructions (even rows), and the loss curves.
// Run: npm run demo:autoencoder   (options: --kind dense|conv|both  --epochs E  --train N  --backend cpu|webgpu  --out DIR)
import { parseArgs } from 'node:util';
import { Rng, createBackend, ClassifierTrainer, fit, Adam } from '../../src/index.js';
import type { Backend } from '../../src/backends/backend.js';
import type { Module } from '../../src/nn/module.js';
import { denseAutoencoder, convAutoencoder, reconstructionLoss } from '../../src/nn/generative.js';
import { loadMnist } from '../../src/data/mnist.js';
import type { Dataset } from '../../src/data/dataset.js';
import { plotSvg, Series } from '../../src/util/plot_svg.js';
import { writeGridPng, writeText, sigmoid, isMain } from './images.js';

/** Σ over pixels of the binary cross-entropy of logits z against pixels t, averaged over the n images. */
export function hostReconstructionLoss(z: ArrayLike<number>, t: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) s += Math.max(z[i], 0) - z[i] * t[i] + Math.log1p(Math.exp(-Math.abs(z[i])));
  return s / n;
}

/** The same loss for the best constant answer: every image reconstructed as the mean training image. */
export function meanImageLoss(train: Dataset, test: Dataset): number {
  const P = 784, mean = new Float64Array(P);
  for (let i = 0; i < train.n; i++) for (let p = 0; p < P; p++) mean[p] += train.x[i * P + p] / train.n;
  const logit = Float32Array.from(mean, (m) => Math.log(Math.max(m, 1e-4) / Math.max(1 - m, 1e-4)));
  const z = new Float32Array(test.n * P);
  for (let i = 0; i < test.n; i++) z.set(logit, i * P);
  return hostReconstructionLoss(z, test.x, test.n);
}

export interface AutoencoderRun { kind: string; losses: Series; epochLoss: number[]; testLoss: number; baseline: number; recon: Float32Array; seconds: number }

/** Train `model` to reconstruct its input with fit, then measure the test images' reconstruction loss. */
export async function trainAutoencoder(be: Backend, kind: string, model: Module, train: Dataset, test: Dataset, o: { epochs: number; batchSize?: number; lr?: number; objective?: ClassifierTrainer['objective'] }): Promise<AutoencoderRun> {
  const t0 = performance.now();
  const trainer = new ClassifierTrainer(be, model, new Adam({ lr: o.lr ?? 2e-3 }), [784]);
  trainer.objective = o.objective ?? reconstructionLoss;
  const losses: Series = { name: kind, x: [], y: [] };
  const perEpoch = Math.ceil(train.n / (o.batchSize ?? 64));
  const h = await fit(trainer, train, { epochs: o.epochs, batchSize: o.batchSize ?? 64, seed: 1, logEvery: Math.max(1, Math.floor(perEpoch / 10)),
    callbacks: [{ onLoss: (r) => { losses.x.push(r.epoch + r.samples / train.n); losses.y.push(r.loss); } }] });
  const recon = await trainer.predict(test.x, test.n);
  const run = { kind, losses, epochLoss: h.loss, testLoss: hostReconstructionLoss(recon, test.x, test.n), baseline: meanImageLoss(train, test), recon, seconds: (performance.now() - t0) / 1000 };
  trainer.dispose();
  return run;
}

/** Test digits over their reconstructions, `cols` pairs to a row. */
export function writeReconstructions(path: string, test: Dataset, recon: Float32Array, count = 32, cols = 8): void {
  const P = 784, imgs = new Float32Array(2 * count * P), pix = sigmoid(recon.subarray(0, count * P));
  for (let r = 0; r < count / cols; r++) for (let c = 0; c < cols; c++) {
    const k = r * cols + c;
    imgs.set(test.x.subarray(k * P, (k + 1) * P), (2 * r * cols + c) * P);
    imgs.set(pix.subarray(k * P, (k + 1) * P), ((2 * r + 1) * cols + c) * P);
  }
  writeGridPng(path, imgs, 2 * count, 28, 28, cols, 2);
}

export const AUTOENCODERS = { dense: denseAutoencoder, conv: convAutoencoder } as const;

if (isMain('autoencoder')) {
  const { values: a } = parseArgs({ options: {
    kind: { type: 'string', default: 'both' }, epochs: { type: 'string', default: '3' }, train: { type: 'string', default: '20000' },
    backend: { type: 'string', default: 'webgpu' }, out: { type: 'string', default: 'runs/autoencoder' },
  } });
  const be = await createBackend(a.backend as 'cpu' | 'webgpu');
  const { train, test } = await loadMnist({ limitTrain: Number(a.train), limitTest: 1000 });
  const kinds = a.kind === 'both' ? (['dense', 'conv'] as const) : [a.kind as 'dense' | 'conv'];
  const runs: AutoencoderRun[] = [];
  for (const kind of kinds) {
    const r = await trainAutoencoder(be, kind, AUTOENCODERS[kind](new Rng(1)), train, test, { epochs: Number(a.epochs) });
    runs.push(r);
    writeReconstructions(`${a.out}/${kind}_reconstructions.png`, test, r.recon);
    console.log(`${kind.padEnd(5)} ${r.seconds.toFixed(0)} s: test reconstruction loss ${r.testLoss.toFixed(1)} nats/image (mean-image baseline ${r.baseline.toFixed(1)}); wrote ${a.out}/${kind}_reconstructions.png`);
  }
  writeText(`${a.out}/loss.svg`, plotSvg([{ title: 'autoencoders on MNIST: training loss', xLabel: 'epoch', yLabel: 'BCE per image (nats)', series: runs.map((r) => r.losses) }]));
  console.log(`wrote ${a.out}/loss.svg`);
  be.dispose();
}
