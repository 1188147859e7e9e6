// Pieces built separately, working together: a model with batch norm and dropout checked node by node, and
// trained by ClassifierTrainer with its running statistics and dropout step moving on every step.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { WebGpuBackend } from '../src/backends/index.js';
import { Sequential, Linear, ReLU } from '../src/nn/module.js';
import { BatchNorm1d, Dropout, stateUpdates } from '../src/nn/norm.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { checkParity } from '../src/check/parity.js';
import { Rng } from '../src/util/rng.js';
import { randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

const model = (seed: number) => {
  const rng = new Rng(seed);
  const bn = new BatchNorm1d(33), drop = new Dropout(0.3, 5);
  return { bn, drop, net: new Sequential(new Linear(20, 33, { rng }), bn, ReLU(), drop, new Linear(33, 7, { rng })) };
};

describe('batch norm and dropout in a training step', () => {
  it('checkParity passes on the whole step, dropout drawing the same mask on both backends', async () => {
    const { net } = model(1);
    const x = input([17, 20], 'f32', 'x'), y = input([17], 'i32', 'y');
    const loss = ops.softmaxCrossEntropy(net.forward(x), y);
    const params = net.parameters();
    const grads = grad(loss, params.map((p) => p.tensor));
    const effects = [...new SGD({ lr: 0.1, momentum: 0.9 }).updates(params, grads), ...stateUpdates(net)];
    const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, randn(17 * 20, 3)], [y, Int32Array.from({ length: 17 }, (_, i) => i % 7)]]);
    const report = await checkParity({ outputs: [loss], effects, feeds, gpu });
    expect(report.firstFailure, JSON.stringify(report.firstFailure)).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.nodes.some((n) => n.op === 'dropout')).toBe(true);
    expect(report.variables.some((v) => v.label.includes('running'))).toBe(true);
  });

  it('ClassifierTrainer moves the running statistics and the dropout step on every step', async () => {
    const { net, bn, drop } = model(2);
    const trainer = new ClassifierTrainer(gpu, net, new SGD({ lr: 0.05 }), [20]);
    const running = await Promise.all(stateVars(bn).map((v) => gpu.readVariable(v)));
    const step0 = drop.counter.step;
    for (let s = 0; s < 3; s++) trainer.trainStep(randn(8 * 20, 10 + s), Int32Array.from({ length: 8 }, (_, i) => i % 7), 8);
    await gpu.sync();
    expect(drop.counter.step).toBe(step0 + 3);
    const after = await Promise.all(stateVars(bn).map((v) => gpu.readVariable(v)));
    after.forEach((a, i) => expect(Array.from(a)).not.toEqual(Array.from(running[i])));
    trainer.dispose();
  });
});

/** The running mean and variance Variables of a batch-norm module (persistent state, not trained parameters). */
function stateVars(bn: BatchNorm1d) {
  return [bn.runningMean, bn.runningVar];
}

describe('memory over a long run', () => {
  it('after warm-up, 300 steps create no GPU buffer, submit once each, and keep the pool flat', async () => {
    const { net } = model(3);
    const trainer = new ClassifierTrainer(gpu, net, new SGD({ lr: 0.05, momentum: 0.9 }), [20]);
    const y = Int32Array.from({ length: 16 }, (_, i) => i % 7);
    const xs = [0, 1, 2, 3].map((s) => randn(16 * 20, 50 + s));
    for (let s = 0; s < 5; s++) trainer.trainStep(xs[s % 4], y, 16);
    await gpu.sync();
    const created = gpu.buffersCreated, bytes = gpu.pool.bytes, submits = gpu.stats.submits;
    for (let s = 0; s < 300; s++) {
      trainer.trainStep(xs[s % 4], y, 16);
      if (s % 50 === 49) await gpu.sync();
    }
    await gpu.sync();
    expect(gpu.buffersCreated - created).toBe(0);
    expect(gpu.pool.bytes).toBe(bytes);
    expect(gpu.stats.submits - submits).toBe(300);
    trainer.dispose();
  });
});
