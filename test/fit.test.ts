// fit and the helpers on it, on small synthetic data on the CPU reference and WebGPU: history, callbacks and stopping,
// early stopping that restores the best weights, plateau, train/eval modes, k-fold, search and a bagging ensemble.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Dataset } from '../src/data/dataset.js';
import { fit, EarlyStopping, modelVariables, readWeights, predict, evaluate, TrainerSpec, buildTrainer, Callback, FitOptions, FitContext } from '../src/train/fit.js';
import { kFold, gridSearch, randomSearch, sampleParams, Bagging } from '../src/train/selection.js';
import { ReduceOnPlateau } from '../src/optim/schedules.js';
import { mlp } from '../src/nn/models.js';
import { Sequential, Linear, ReLU } from '../src/nn/module.js';
import { BatchNorm1d, Dropout } from '../src/nn/norm.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

/** n points in D dims around C centres (the seed's), with noise of std `spread` (from noiseSeed), labels by centre. */
function blobs(n: number, D: number, C: number, seed: number, spread = 0.6, noiseSeed = seed + 1): Dataset {
  const centres = randn(C * D, seed, 2), noise = randn(n * D, noiseSeed, spread), x = new Float32Array(n * D), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % C;
    for (let d = 0; d < D; d++) x[i * D + d] = centres[y[i] * D + d] + noise[i * D + d];
  }
  return { x, y, n, featureShape: [D], numClasses: C };
}

/** The same rows with every label moved to the next class: training on `blobs` makes this worse epoch by epoch. */
const shifted = (ds: Dataset): Dataset => ({ ...ds, y: ds.y.map((v) => (v + 1) % ds.numClasses) });

const spec = (backend: Backend, hidden = 16, lr = 0.1): TrainerSpec =>
  ({ backend, model: (seed) => mlp([4, hidden, 3], new Rng(seed)), optimizer: () => new SGD({ lr, momentum: 0.9 }) });

describe('fit', () => {
  const data = blobs(96, 4, 3, 1);

  it('returns a history per epoch, alike on the CPU reference and WebGPU, and learns', async () => {
    const run = async (be: Backend) => {
      const t = buildTrainer(spec(be), [4], 3);
      const seen: string[] = [];
      const cb: Callback = {
        onTrainBegin: () => { seen.push('begin'); },
        onEpochBegin: (e) => { seen.push(`e${e}`); },
        onBatchEnd: (b) => { if (b === 1) seen.push('b1'); },
        onEpochEnd: (e, logs) => { seen.push(`end${e}:${Object.keys(logs).sort().join(',')}`); },
        onTrainEnd: (h) => { seen.push(`done${h.loss.length}`); },
      };
      const h = await fit(t, data, { epochs: 4, batchSize: 8, validationSplit: 0.25, seed: 5, schedule: { name: 'step', gamma: 0.5, stepEpochs: 2 }, callbacks: [cb] });
      const w = await readWeights(be, modelVariables(t.model));
      t.dispose();
      return { h, seen, w };
    };
    const c = await run(new CpuBackend()), g = await run(gpu);
    expect(c.seen).toEqual(['begin', 'e0', 'b1', 'end0:accuracy,loss,lr,samplesPerSec,seconds,val_accuracy,val_loss', 'e1', 'b1', expect.stringMatching(/^end1/),
      'e2', 'b1', expect.stringMatching(/^end2/), 'e3', 'b1', expect.stringMatching(/^end3/), 'done4']);
    for (const k of ['epochs', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr'] as const) expect(c.h[k], k).toHaveLength(4);
    expect(c.h.epochs).toEqual([0, 1, 2, 3]);
    expect(c.h.lr).toEqual([0.1, 0.1, 0.05, 0.05]); // the rate of each epoch's last step; halved every 2 epochs
    expect(c.h.loss[3]).toBeLessThan(c.h.loss[0]);
    expect(c.h.val_accuracy![3]).toBeGreaterThan(0.9);
    c.h.accuracy.forEach((a) => expect(a >= 0 && a <= 1).toBe(true));
    assertClose(g.h.loss, c.h.loss, { atol: 1e-4, rtol: 1e-3, what: 'loss history' });
    assertClose(g.h.val_loss!, c.h.val_loss!, { atol: 1e-4, rtol: 1e-3, what: 'val_loss history' });
    g.w.forEach((w, i) => assertClose(w, c.w[i], { atol: 1e-4, rtol: 1e-3, what: `weights ${i}` }));
  });

  it('a callback can stop training mid-epoch; no validation means no val_ keys', async () => {
    const t = buildTrainer(spec(gpu), [4], 1);
    let batches = 0;
    const h = await fit(t, data, { epochs: 5, batchSize: 8, callbacks: [{ onBatchEnd: (b, _s, ctx) => { batches++; if (b === 3 && ctx.history.loss.length === 1) ctx.stop = true; } }] });
    t.dispose();
    expect(h.loss).toHaveLength(2); // the second epoch ends early and is still logged
    expect(batches).toBe(12 + 3);
    expect(h.val_loss).toBeUndefined();
    expect(t.step).toBe(15);
  });

  for (const which of ['cpu', 'webgpu'] as const) {
    it(`early stopping stops after patience and restores the best weights (${which})`, async () => {
      const be = which === 'cpu' ? new CpuBackend() : gpu;
      const t = buildTrainer(spec(be, 16, 0.05), [4], 2);
      const val = shifted(data); // val_loss rises while the model learns `data`
      const perEpoch: Float32Array[][] = [];
      const es = new EarlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
      const snap: Callback = { onEpochEnd: async (_e, _l, ctx) => { perEpoch.push(await readWeights(be, modelVariables(ctx.trainer.model))); } };
      const h = await fit(t, data, { epochs: 20, batchSize: 8, validationData: val, callbacks: [snap, es] });
      const best = h.val_loss!.indexOf(Math.min(...h.val_loss!));
      expect(best).toBe(0);
      expect(h.loss).toHaveLength(3); // epoch 0 best, then 2 epochs of patience
      expect(es.stoppedEpoch).toBe(2);
      expect(es.bestEpoch).toBe(0);
      const now = await readWeights(be, modelVariables(t.model));
      now.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(perEpoch[0][i])));
      expect((await evaluate(t, val)).loss).toBeCloseTo(h.val_loss![0], 5);
      t.dispose();
    });
  }

  it('steps stops mid-epoch; test data is measured after the last epoch and again after early stopping restores', async () => {
    const t = buildTrainer(spec(gpu), [4], 1);
    const losses: number[] = [];
    const h = await fit(t, data, { steps: 20, batchSize: 8, logEvery: 4, testData: shifted(data), callbacks: [{ onLoss: (r) => { losses.push(r.step); } }] });
    expect(t.step).toBe(20);
    expect(h.epochs).toEqual([0, 1]); // 12 batches, then 8 of the second epoch
    expect(losses).toEqual([4, 8, 12, 16, 20]); // every 4th batch of each epoch, the last read settled at the stop
    expect(h.test!.loss).toBeCloseTo((await evaluate(t, shifted(data))).loss, 6);
    t.dispose();

    // Early stopping restores epoch 0's weights at the end; the test is measured on those, not the last epoch's.
    const u = buildTrainer(spec(gpu, 16, 0.05), [4], 2);
    const es = new EarlyStopping({ patience: 2, restoreBestWeights: true });
    const h2 = await fit(u, data, { epochs: 20, batchSize: 8, validationData: shifted(data), testData: shifted(data), testEachEpoch: true, callbacks: [es] });
    expect(h2.loss).toHaveLength(3);
    expect(h2.test!.loss).toBeCloseTo(h2.val_loss![0], 6);
    expect(h2.test!.loss).not.toBeCloseTo(h2.val_loss![2], 6);
    u.dispose();
  });

  it('a run resumed at its best epoch with EarlyStopping state continues to the same stop and the same weights', async () => {
    const opts = (es: EarlyStopping): FitOptions => ({ epochs: 20, batchSize: 8, seed: 2, validationData: shifted(data), callbacks: [es] });
    const whole = buildTrainer(spec(gpu, 16, 0.05), [4], 2), esWhole = new EarlyStopping({ patience: 2, restoreBestWeights: true });
    const h = await fit(whole, data, opts(esWhole));
    const want = await readWeights(gpu, modelVariables(whole.model));
    // The first part: one epoch (the best), saved in memory as a checkpoint would hold it.
    const part = buildTrainer(spec(gpu, 16, 0.05), [4], 2), esPart = new EarlyStopping({ patience: 2, restoreBestWeights: true });
    await fit(part, data, { ...opts(esPart), epochs: 1 });
    const resumed = new EarlyStopping({ patience: 2, restoreBestWeights: true });
    resumed.load(esPart.state());
    const h2 = await fit(part, data, { ...opts(resumed), start: { epoch: 1, batch: 0 } });
    expect(h2.val_loss).toEqual(h.val_loss!.slice(1));
    expect([resumed.stoppedEpoch, resumed.bestEpoch]).toEqual([esWhole.stoppedEpoch, esWhole.bestEpoch]);
    (await readWeights(gpu, modelVariables(part.model))).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(want[i])));
    whole.dispose(); part.dispose();
  });

  it('early stopping: minDelta, max mode for accuracies, and a clear error when the monitor is missing', async () => {
    const es = new EarlyStopping({ monitor: 'val_accuracy', minDelta: 0.05, patience: 1 });
    expect(es.mode).toBe('max');
    const ctx: FitContext = { trainer: {} as never, history: {} as never, epochs: 9, epoch: 0, start: { epoch: 0, batch: 0 }, stop: false, restored: false };
    const logs = (a: number) => ({ loss: 1, accuracy: 1, lr: 1, seconds: 0, samplesPerSec: 1, val_loss: 1, val_accuracy: a });
    await es.onTrainBegin(ctx);
    await es.onEpochEnd(0, logs(0.5), ctx);
    await es.onEpochEnd(1, logs(0.54), ctx); // +0.04 < minDelta: no improvement; wait 1 >= patience 1
    expect(ctx.stop).toBe(true);
    expect(es.best).toBe(0.5);
    const t = buildTrainer(spec(new CpuBackend()), [4], 1);
    await expect(fit(t, data, { epochs: 1, batchSize: 32, callbacks: [new EarlyStopping()] })).rejects.toThrow(/EarlyStopping: monitor 'val_loss' is not in the logs/);
    t.dispose();
  });

  it('reduce-on-plateau halves the rate when val_loss stops improving', async () => {
    const t = buildTrainer(spec(gpu, 16, 0.05), [4], 2);
    const plateau = new ReduceOnPlateau(0.05, { factor: 0.5, patience: 0 });
    const h = await fit(t, data, { epochs: 4, batchSize: 8, validationData: shifted(data), schedule: plateau.schedule, plateau });
    t.dispose();
    // Epoch 0 sets the best; each later epoch is worse and halves the rate for the next one.
    expect(h.lr).toEqual([0.05, 0.05, 0.025, 0.0125]);
  });

  it('dropout and batch norm: training mode in fit, eval mode in evaluate and predict', async () => {
    const rng = new Rng(4);
    const model = new Sequential(new Linear(4, 16, { rng }), new BatchNorm1d(16), ReLU(), new Dropout(0.5, 7), new Linear(16, 3, { rng }));
    const t = buildTrainer({ ...spec(gpu), model: () => model }, [4], 0);
    const h = await fit(t, data, { epochs: 3, batchSize: 16, validationSplit: 0.25 });
    expect(model.training).toBe(true);
    // Batch norm's running mean moved off its initial zeros during training.
    const bn = model.layers[1] as BatchNorm1d;
    expect(Array.from(await gpu.readVariable(bn.runningMean)).some((v) => Math.abs(v) > 1e-3)).toBe(true);
    // Eval is deterministic (no dropout mask, running statistics) and predict's probabilities are rows summing to 1.
    const p1 = await predict(t, data.x, data.n, { probabilities: true }), p2 = await predict(t, data.x, data.n, { probabilities: true });
    expect(Array.from(p2)).toEqual(Array.from(p1));
    for (let i = 0; i < data.n; i++) expect(p1[i * 3] + p1[i * 3 + 1] + p1[i * 3 + 2]).toBeCloseTo(1, 5);
    expect(h.val_accuracy![2]).toBeGreaterThan(0.8);
    t.dispose();
  });
});

describe('model selection', () => {
  const data = blobs(60, 4, 3, 11, 0.8);
  const fo: FitOptions = { epochs: 2, batchSize: 10 };

  it('kFold trains k models on disjoint held-out folds and reports their mean and std', async () => {
    const r = await kFold(3, spec(gpu), data, fo, { seed: 2 });
    expect(r.folds.map((f) => f.fold)).toEqual([0, 1, 2]);
    expect(r.folds.map((f) => f.n)).toEqual([20, 20, 20]);
    const accs = r.folds.map((f) => f.accuracy), m = (accs[0] + accs[1] + accs[2]) / 3;
    expect(r.mean.accuracy).toBeCloseTo(m, 12);
    expect(r.std.accuracy).toBeCloseTo(Math.sqrt(accs.reduce((a, v) => a + (v - m) ** 2, 0) / 3), 12);
    r.folds.forEach((f) => { expect(f.history.val_loss).toHaveLength(2); expect(f.loss).toBeCloseTo(f.history.val_loss![1], 5); });
    expect(r.mean.accuracy).toBeGreaterThan(0.6);
    await expect(kFold(1, spec(gpu), data, fo)).rejects.toThrow(/kFold: k must be an integer in \[2, 60\]/);
  });

  it('gridSearch tries every combination and sorts by val_loss; randomSearch draws within the space', async () => {
    const trial = (p: Record<string, unknown>) => ({ spec: spec(gpu, p.hidden as number, p.lr as number), fit: fo });
    const grid = await gridSearch({ lr: [0.0001, 0.2], hidden: [2, 12] }, trial, data, { seed: 1 });
    expect(grid).toHaveLength(4);
    expect(grid.map((r) => `${r.params.lr}/${r.params.hidden}`).sort()).toEqual(['0.0001/12', '0.0001/2', '0.2/12', '0.2/2']);
    for (let i = 1; i < 4; i++) expect(grid[i].score).toBeGreaterThanOrEqual(grid[i - 1].score);
    expect(grid[0].params.lr).toBe(0.2); // 0.0001 barely moves in 2 epochs
    const space = { lr: { min: 1e-3, max: 0.3, log: true }, hidden: { min: 4, max: 12, int: true }, nesterov: [true, false] };
    const rnd = await randomSearch(space, 3, trial, data, { seed: 4, monitor: 'val_accuracy' });
    expect(rnd).toHaveLength(3);
    for (let i = 1; i < 3; i++) expect(rnd[i].val_accuracy).toBeLessThanOrEqual(rnd[i - 1].val_accuracy);
    for (const r of rnd) {
      expect(r.params.lr as number).toBeGreaterThanOrEqual(1e-3); expect(r.params.lr as number).toBeLessThanOrEqual(0.3);
      expect(Number.isInteger(r.params.hidden)).toBe(true);
    }
    // Draws are seeded: the same seed gives the same parameters.
    expect(sampleParams(space, new Rng(9))).toEqual(sampleParams(space, new Rng(9)));
  });

  it('a bagging ensemble matches or beats its average member', async () => {
    const train = blobs(60, 4, 3, 21, 1.5), test = blobs(300, 4, 3, 21, 1.5, 99);
    const bag = await Bagging.train(4, spec(gpu, 8, 0.05), train, { epochs: 3, batchSize: 10 }, { seed: 3 });
    const r = await bag.evaluate(test);
    bag.dispose();
    expect(r.memberAccuracies).toHaveLength(4);
    expect(new Set(r.memberAccuracies).size).toBeGreaterThan(1); // the members differ
    expect(r.accuracy).toBeGreaterThanOrEqual(r.meanMemberAccuracy);
    expect(r.accuracy).toBeGreaterThan(0.5);
  });
});
