// A variational autoencoder on MNIST (course 004): the encoder gives a Gaussian code (mean and log-variance), the
// code is sampled by reparameterisation on the device's counter-based RNG, and the loss is the negative ELBO,
// reconstruction BCE plus KL(q(z|x) || N(0, I)). Trained by `fit`. Writes a grid of digits decoded from draws of the
// prior N(0, I) (drawn by randn on the device), test digits over their reconstructions, and the loss curve.
// Run: npm run demo:vae   (options: --epochs E  --train N  --latent L  --backend cpu|webgpu  --out DIR)
import { parseArgs } from 'node:util';
import { Rng, createBackend, input } from '../../src/index.js';
import * as ops from '../../src/graph/ops.js';
import type { Backend } from '../../src/backends/backend.js';
import { VAE } from '../../src/nn/generative.js';
import { loadMnist } from '../../src/data/mnist.js';
import type { Dataset } from '../../src/data/dataset.js';
import { plotSvg } from '../../src/util/plot_svg.js';
import { trainAutoencoder, writeReconstructions, AutoencoderRun } from './autoencoder.js';
import { writeGridPng, writeText, sigmoid, isMain } from './images.js';

export interface VaeRun extends AutoencoderRun { kl: number; samples: Float32Array }

/** The KL term of the ELBO on `rows` (the mean over them), in training mode: what the loss adds to the reconstruction. */
async function klOn(be: Backend, vae: VAE, rows: Dataset): Promise<number> {
  const x = input([rows.n, 784], 'f32', 'x');
  vae.forward(x);
  const ex = be.compile([vae.kl()]);
  ex.run(new Map([[x, rows.x]]));
  const v = (await ex.read(ex.plan.outputs[0]))[0];
  ex.dispose();
  return v;
}

export async function runVae(be: Backend, train: Dataset, test: Dataset, o: { epochs: number; latent?: number; samples?: number }): Promise<VaeRun> {
  const vae = new VAE(new Rng(1), o.latent ?? 16);
  const run = await trainAutoencoder(be, 'vae', vae, train, test, { epochs: o.epochs, lr: 1e-3, objective: vae.loss });
  const kl = await klOn(be, vae, { ...test, n: Math.min(test.n, 500), x: test.x.subarray(0, Math.min(test.n, 500) * 784) });
  vae.eval();
  const n = o.samples ?? 64, ex = be.compile([ops.sigmoid(vae.sample(n, 2024, { step: 0 }))]);
  ex.run(new Map());
  const samples = (await ex.read(ex.plan.outputs[0])) as Float32Array;
  ex.dispose();
  return { ...run, kl, samples };
}

if (isMain('vae')) {
  const { values: a } = parseArgs({ options: {
    epochs: { type: 'string', default: '10' }, train: { type: 'string', default: '20000' }, latent: { type: 'string', default: '16' },
    backend: { type: 'string', default: 'webgpu' }, out: { type: 'string', default: 'runs/vae' },
  } });
  const be = await createBackend(a.backend as 'cpu' | 'webgpu');
  const { train, test } = await loadMnist({ limitTrain: Number(a.train), limitTest: 1000 });
  const r = await runVae(be, train, test, { epochs: Number(a.epochs), latent: Number(a.latent) });
  writeGridPng(`${a.out}/prior_samples.png`, r.samples, 64, 28, 28, 8, 2);
  writeReconstructions(`${a.out}/reconstructions.png`, test, r.recon);
  writeText(`${a.out}/loss.svg`, plotSvg([{ title: 'VAE on MNIST: negative ELBO (BCE + KL) per image', xLabel: 'epoch', yLabel: 'nats', series: [r.losses] }]));
  console.log(`${r.seconds.toFixed(0)} s: loss by epoch ${r.epochLoss.map((l) => l.toFixed(1)).join(' ')}; test reconstruction ${r.testLoss.toFixed(1)} nats/image (mean-image baseline ${r.baseline.toFixed(1)}), KL ${r.kl.toFixed(1)} nats`);
  console.log(`wrote ${a.out}/prior_samples.png (decoded from N(0, I)), ${a.out}/reconstructions.png, ${a.out}/loss.svg`);
  be.dispose();
}
