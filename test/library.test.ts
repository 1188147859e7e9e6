// The library as a PyTorch user writes it: custom modules without a children() list, layers without an rng,
// names checked when the step is compiled, optimizers that count their own steps, weights saved and loaded for
// inference with no optimizer, checkpoints as bytes, and one base class for every error a user can fix.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as lib from '../src/index.js';
import {
  Module, Linear, Sequential, ReLU, Conv2d, LSTM, input, ops, grad, Tensor, Variable, Rng, CpuBackend, WebGpuBackend, Adam, SGD,
  ClassifierTrainer, ParameterNameError, saveWeights, loadWeights, stateDict, loadStateDict, WeightsError, encodeCheckpoint,
  restoreCheckpoint, UserError, DeviceLostError, NonFiniteLossError, type Backend,
} from '../src/index.js';
import { randn, randInt } from './helpers.js';

class TwoLayer extends Module {
  fc1 = new Linear(6, 5, { name: 'fc1', rng: new Rng(3) });
  fc2 = new Linear(5, 3, { name: 'fc2', rng: new Rng(4) });
  forward(x: Tensor): Tensor { return this.fc2.forward(ops.relu(this.fc1.forward(x))); }
}

describe('modules', () => {
  it('child modules held in properties (and arrays of them) are found without children()', () => {
    const m = new TwoLayer();
    expect(m.parameters().map((p) => p.name)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    class Stack extends Module {
      body = new TwoLayer();
      blocks = [this.body, new Linear(3, 3, { name: 'head' })];
      forward(x: Tensor): Tensor { return this.blocks[1].forward(this.body.forward(x)); }
    }
    const s = new Stack();
    expect(s.children()).toEqual(s.blocks); // the body, held twice, counts once
    expect(s.parameters()).toHaveLength(6);
    s.eval();
    expect(s.body.fc1.training).toBe(false); // train()/eval() reach them too
  });

  it('Variables held in properties are parameters too, and a layer used twice counts once', () => {
    class Scale extends Module {
      gain = new Variable(Float32Array.of(2), [1], 'scale.gain');
      forward(x: Tensor): Tensor { return ops.mul(x, this.gain.tensor); }
    }
    const s = new Scale();
    expect(s.parameters()).toEqual([s.gain]);
    const shared = new Linear(3, 3, { name: 'shared' });
    expect(new Sequential(shared, ReLU(), shared).parameters()).toEqual([shared.weight, shared.bias]);
  });

  it('a model that reports no parameters (layers hidden from children()) fails when its step is compiled', () => {
    class Hidden extends Module {
      private inner = new Linear(6, 3, { name: 'inner' });
      override children(): Module[] { return []; } // a hand-written list that forgot the layer
      override parameters() { return []; }
      forward(x: Tensor): Tensor { return this.inner.forward(x); }
    }
    const t = new ClassifierTrainer(new CpuBackend(), new Hidden(), new SGD({ lr: 0.1 }), [6]);
    expect(() => t.prepare(2)).toThrow(/^ClassifierTrainer: the model \(Hidden\) has no parameters to train; a custom Module's layers/);
  });

  it('layers without an rng draw from the default generator, which manualSeed restarts', () => {
    const a = new Linear(4, 10), b = new Linear(4, 10);
    expect(Array.from(a.weight.init)).not.toEqual(Array.from(b.weight.init)); // one generator, advancing
    expect(new Conv2d(1, 2, 3).weight.shape).toEqual([2, 1, 3, 3]);
    expect(new LSTM(3, 4).parameters().length).toBeGreaterThan(0);
  });

  it('two different parameters with one name fail when the step is compiled, naming it, before any training', () => {
    const model = new Sequential(new Linear(8, 8), ReLU(), new Linear(8, 8)); // both default to linear8x8
    const t = new ClassifierTrainer(new CpuBackend(), model, new SGD({ lr: 0.1 }), [8]);
    let e: unknown;
    try { t.trainStep(randn(16, 1), randInt(2, 8, 2), 2); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(ParameterNameError);
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toMatch(/^two different variables are named 'linear8x8\.weight' \(a parameter \[8,8\] and a parameter \[8,8\]\); give the modules distinct names/);
    expect(t.step).toBe(0);
  });
});

describe('optimizers count their own steps', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());

  /** Five raw Adam steps on a regression, with or without beginStep; the parameter after them. */
  async function adamSteps(be: Backend, callBeginStep: boolean): Promise<Float32Array> {
    const w = new Variable(randn(12, 5), [4, 3], 'w');
    const x = input([2, 4], 'f32', 'x'), t = input([2, 3], 'f32', 't');
    const loss = ops.mse(x.matmul(w.tensor), t);
    const opt = new Adam({ lr: 0.05 });
    const ex = be.compile([loss], opt.updates([w], grad(loss, [w.tensor])));
    for (let s = 1; s <= 5; s++) {
      if (callBeginStep) opt.beginStep(s);
      ex.run(new Map<Tensor, Float32Array>([[x, randn(8, 10 + s)], [t, randn(6, 20 + s)]]));
    }
    expect(opt.counter.step).toBe(5);
    ex.dispose();
    return be.readVariable(w);
  }

  it('Adam in a raw loop without beginStep matches the loop that calls it (bias correction advances), on both backends', async () => {
    for (const be of [new CpuBackend(), gpu]) {
      const counted = await adamSteps(be, false), told = await adamSteps(be, true);
      expect(Array.from(counted), be.name).toEqual(Array.from(told));
    }
    // And the step count matters: stuck at t = 1, the result differs.
    const be = new CpuBackend();
    const w = new Variable(randn(12, 5), [4, 3], 'w');
    const x = input([2, 4], 'f32', 'x'), t = input([2, 3], 'f32', 't');
    const loss = ops.mse(x.matmul(w.tensor), t);
    const opt = new Adam({ lr: 0.05 });
    const ex = be.compile([loss], opt.updates([w], grad(loss, [w.tensor])));
    for (let s = 1; s <= 5; s++) { opt.beginStep(1); ex.run(new Map<Tensor, Float32Array>([[x, randn(8, 10 + s)], [t, randn(6, 20 + s)]])); }
    expect(Array.from(await be.readVariable(w))).not.toEqual(Array.from(await adamSteps(new CpuBackend(), false)));
  });
});

describe('weights for inference, checkpoints as bytes', () => {
  async function trained(be: Backend) {
    const model = new TwoLayer();
    const t = new ClassifierTrainer(be, model, new Adam({ lr: 0.01 }), [6]);
    for (let s = 0; s < 3; s++) t.trainStep(randn(24, s), randInt(4, 3, s), 4);
    await be.sync();
    return t;
  }

  it('saveWeights/loadWeights: a fresh model on a fresh backend predicts the same, with no optimizer and no training graph', async () => {
    const t = await trained(new CpuBackend());
    const bytes = await saveWeights(t.backend, t.model);
    const fresh = new TwoLayer(), be = new CpuBackend();
    loadWeights(be, fresh, bytes, 'model.safetensors');
    const x = input([4, 6], 'f32', 'x'), xs = randn(24, 9);
    const logits = async (b: Backend, m: Module) => {
      const out = m.eval().forward(x), ex = b.compile([out]);
      ex.run(new Map([[x, xs]]));
      return Array.from(await ex.read(out));
    };
    expect(await logits(be, fresh)).toEqual(await logits(t.backend, t.model));
    // A training checkpoint's bytes load the same way: the optimizer state in them is left aside.
    const { bytes: ck } = await encodeCheckpoint(t, { epoch: 0, batch: 3, model: { name: 'two' } });
    const other = new TwoLayer(), be2 = new CpuBackend();
    loadWeights(be2, other, ck);
    expect(await logits(be2, other)).toEqual(await logits(t.backend, t.model));
  });

  it('loadWeights and loadStateDict refuse weights of another model, changing nothing', async () => {
    const t = await trained(new CpuBackend());
    const dict = await stateDict(t.backend, t.model);
    expect([...dict.keys()]).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    const be = new CpuBackend(), m = new TwoLayer();
    const before = await stateDict(be, m);
    dict.delete('fc2.bias');
    expect(() => loadStateDict(be, m, dict)).toThrow(/^loadStateDict: the weights do not match this model: missing fc2\.bias$/);
    const wide = new Sequential(new Linear(6, 7, { name: 'fc1' }));
    expect(() => loadWeights(be, wide, new Uint8Array(0), 'w.st')).toThrow(UserError);
    let e: unknown;
    try { loadWeights(be, wide, await saveWeights(t.backend, t.model), 'w.st'); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(WeightsError);
    expect((e as Error).message).toBe('w.st: the weights do not match this model: not in this model: fc2.weight, fc2.bias');
    expect(await stateDict(be, m)).toEqual(before);
  });

  it('a checkpoint encoded to bytes restores a run exactly (browser-safe: no file system)', async () => {
    const a = await trained(new CpuBackend());
    const { bytes, meta } = await encodeCheckpoint(a, { epoch: 0, batch: 3, model: { name: 'two' } });
    expect(meta.step).toBe(3);
    const b = new ClassifierTrainer(new CpuBackend(), new TwoLayer(), new Adam({ lr: 0.01 }), [6]);
    b.prepare(4);
    expect(restoreCheckpoint(bytes, b).step).toBe(3);
    for (const t of [a, b]) t.trainStep(randn(24, 7), randInt(4, 3, 7), 4);
    expect(await stateDict(b.backend, b.model)).toEqual(await stateDict(a.backend, a.model));
  });
});

describe('errors', () => {
  it('every error a user can fix extends UserError (exit code 2); device and divergence failures do not', () => {
    const user = ['ShapeError', 'FeedError', 'NonFiniteInputError', 'LifecycleError', 'LimitError', 'NoAdapterError', 'ConfigError', 'CsvError', 'IdxError', 'SafetensorsError', 'CheckpointError', 'WeightsError', 'ParameterNameError', 'OptionError'] as const;
    for (const name of user) {
      const C = lib[name] as unknown as { prototype: object };
      expect(C.prototype instanceof UserError, name).toBe(true);
    }
    expect(new lib.ConfigError('x').exitCode).toBe(2);
    expect(() => new lib.DataLoader({ x: new Float32Array(4), y: new Int32Array(2), n: 2, featureShape: [2], numClasses: 2 }, { batchSize: 0 })).toThrow(lib.OptionError);
    expect(() => lib.makeSchedule('sine' as 'cosine', { lr: 0.1, epochs: 1, stepsPerEpoch: 1 })).toThrow(/^makeSchedule: unknown schedule 'sine'/);
    expect(new lib.NonFiniteCheckpointError('f', 'x').exitCode).toBe(1); // a diverged run, as the CLI has always said
    expect(DeviceLostError.prototype instanceof UserError).toBe(false);
    expect(NonFiniteLossError.prototype instanceof UserError).toBe(false);
  });
});

describe('checkParity with an optimizer that counts its steps', () => {
  it('both backends run the Adam update with the same step number, and the count advances once', async () => {
    const gpu = await WebGpuBackend.create();
    const w = new Variable(randn(12, 5), [4, 3], 'w');
    const x = input([2, 4], 'f32', 'x'), t = input([2, 3], 'f32', 't');
    const loss = ops.mse(x.matmul(w.tensor), t);
    const opt = new Adam({ lr: 0.05 });
    opt.beginStep(4); // far from 1, where a step number off by one changes the bias correction the most
    const report = await lib.checkParity({ outputs: [loss], effects: opt.updates([w], grad(loss, [w.tensor])), feeds: new Map<Tensor, Float32Array>([[x, randn(8, 1)], [t, randn(6, 2)]]), gpu, variables: 'init' });
    expect(report.ok, JSON.stringify(report.firstFailure)).toBe(true);
    expect(opt.counter.step).toBe(4);
    gpu.dispose();
  });
});
