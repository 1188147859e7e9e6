// The named `resnet`: its shapes and parameter names, and a few training steps on real MNIST digits on the CPU
// reference and WebGPU from the same weights (batch norm and residual adds included), with the loss falling.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { input } from '../src/graph/tensor.js';
import { MODELS } from '../src/nn/models.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { modelVariables, readWeights } from '../src/train/fit.js';
import { Rng } from '../src/util/rng.js';
import { assertClose } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

describe('resnet', () => {
  it('maps [B, 28, 28] digits to [B, 10] with uniquely named parameters', () => {
    const m = MODELS.resnet.build(new Rng(1));
    expect(m.forward(input([3, 28, 28])).shape).toEqual([3, 10]);
    const names = modelVariables(m).map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('block2.bn2.running_var');
  });

  it('trains alike on the CPU reference and WebGPU, and fits a batch', async () => {
    // Batch 4 and 3 steps: the CPU reference's convolutions are plain loops, and lavapipe compiles ~100 pipelines.
    const B = 4, { train } = await loadMnist({ limitTrain: B * 3, limitTest: 1 });
    normalize(train.x, MNIST_MEAN, MNIST_STD);
    const batch = (s: number) => [train.x.subarray(s * B * 784, (s + 1) * B * 784), train.y.subarray(s * B, (s + 1) * B)] as const;
    const run = async (be: Backend, overfit: number) => {
      const model = MODELS.resnet.build(new Rng(3));
      const t = new ClassifierTrainer(be, model, new SGD({ lr: 0.05, momentum: 0.9 }), [28, 28]);
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) { const g = t.trainStep(...batch(s), B); losses.push((await g.ex.read(g.loss))[0]); }
      const w = await readWeights(be, modelVariables(model));
      // Then the same batch again and again: its loss must fall.
      let last = NaN;
      for (let s = 0; s < overfit; s++) { const g = t.trainStep(...batch(0), B); if (s === overfit - 1) last = (await g.ex.read(g.loss))[0]; }
      t.dispose();
      return { losses, w, last };
    };
    const c = await run(new CpuBackend(), 0);
    const g = await run(gpu, 12);
    // Batch norm divides by statistics of 4 images, which amplifies float32 order differences a little.
    assertClose(g.losses, c.losses, { atol: 1e-4, rtol: 1e-3, what: 'resnet loss per step' });
    g.w.forEach((w, i) => assertClose(w, c.w[i], { atol: 1e-4, rtol: 1e-3, what: `resnet variable ${i}` }));
    expect(g.last).toBeLessThan(g.losses[0] * 0.3);
  });
});
