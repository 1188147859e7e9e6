// Reliability: the gradient guard (an on-device latch of the first step with a non-finite gradient, read with the
// loss), a lost device (a clear DeviceLostError, reads that reject instead of hanging, and recovery on a new backend
// from a checkpoint), and two models trained interleaved on one device without disturbing each other.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { DeviceLostError, WaitClock } from '../src/backends/webgpu/device.js';
import { input, Variable } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { Dataset } from '../src/data/dataset.js';
import { DataLoader } from '../src/data/loader.js';
import { fit } from '../src/train/fit.js';
import { Sequential, Linear, ReLU, Tanh } from '../src/nn/module.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import type { Optimizer } from '../src/optim/optimizer.js';
import { ClassifierTrainer, NonFiniteLossError, NonFiniteGradientError } from '../src/train/trainer.js';
import { saveCheckpoint, loadCheckpoint } from '../src/train/checkpoint_file.js';
import { Rng } from '../src/util/rng.js';
import { randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

/** A learnable toy problem: 3 classes, the label is the argmax of a fixed linear map of 8 features. */
function toyData(n: number, seed: number): Dataset {
  const x = randn(n * 8, seed), w = randn(8 * 3, 99);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = [0, 1, 2].map((c) => x.subarray(i * 8, i * 8 + 8).reduce((a, v, k) => a + v * w[k * 3 + c], 0));
    y[i] = s.indexOf(Math.max(...s));
  }
  return { x, y, n, featureShape: [8], numClasses: 3 };
}

async function thrownAsync(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection, but the promise resolved');
}

describe('gradient guard', () => {
  // SGD folds the guard into its one update; a wrapper that is not a FusedOptimizer gets the guard's own effects
  // (anyNonFinite over the gradients, the latch as two running updates).
  const wrapped = (o: SGD): Optimizer => ({
    get lr() { return o.lr; }, set lr(v: number) { o.lr = v; },
    updates: (p, g, u) => o.updates(p, g, { skip: u?.skip }), state: () => o.state(), config: () => o.config(),
  });
  for (const be of ['cpu', 'webgpu'] as const) for (const fold of [true, false]) {
    it(`${be}, guard ${fold ? 'in the optimizer' : 'as its own effects'}: a NaN that reaches the gradients at step 7 stops training at the step-10 read, naming step 7`, async () => {
      const backend: Backend = be === 'cpu' ? new CpuBackend() : gpu;
      const ds = toyData(16 * 20, 1);
      const sgd = new SGD({ lr: 0.1, momentum: 0.9 });
      const tr = new ClassifierTrainer(backend, mlp([8, 16, 3], new Rng(1)), fold ? sgd : wrapped(sgd), [8]);
      tr.checkFinite = false; // let the poisoned batch through to the device
      let seen = 0;
      const err = await thrownAsync(fit(tr, ds, {
        epochs: 1, batchSize: 16, shuffle: false, logEvery: 10,
        callbacks: [{ onBatchEnd: (i) => { seen = i; if (i === 6) ds.x[6 * 16 * 8 + 5] = NaN; } }], // step 7 reads batch 6 (unshuffled), copied from the dataset when it is drawn
      }));
      expect(err).toBeInstanceOf(NonFiniteGradientError);
      expect(err).toBeInstanceOf(NonFiniteLossError); // callers that catch the loss error catch this one too
      expect((err as NonFiniteGradientError).gradientStep).toBe(7);
      expect((err as NonFiniteGradientError).step).toBe(10);
      // The loss alone would not have stopped this run: relu maps NaN to 0, so with NaN weights the loss is finite.
      expect(err.message).toMatch(/a gradient became non-finite \(NaN or infinity\) at step 7; the loss read at step 10 is \d+\.\d+ /);
      expect(seen).toBe(19); // the read of step 10 is awaited one interval later, at step 20: the GPU never waited
      tr.dispose();
    });
  }

  it('healthy training never trips it, and it adds no submit and no buffer per step', async () => {
    const tr = new ClassifierTrainer(gpu, mlp([8, 16, 3], new Rng(2)), new SGD({ lr: 0.1, momentum: 0.9 }), [8]);
    const ds = toyData(16 * 30, 2), o = { batchSize: 16, logEvery: 10 };
    await fit(tr, ds, { ...o, epochs: 1 });
    const submits = gpu.stats.submits, created = gpu.buffersCreated;
    const h = await fit(tr, ds, { ...o, epochs: 2, start: { epoch: 1, batch: 0 } });
    expect(Number.isFinite(h.loss[0])).toBe(true);
    expect(gpu.stats.submits - submits).toBe(30); // one per step: the guard is part of the step
    expect(gpu.buffersCreated - created).toBe(0);
    tr.dispose();
  });

  it('with the guard off, a non-finite loss is reported as the loss', async () => {
    const ds = toyData(16 * 10, 3);
    const tr = new ClassifierTrainer(gpu, mlp([8, 16, 3], new Rng(3)), new SGD({ lr: 0.1 }), [8]);
    tr.checkFinite = false;
    tr.guardGradients = false;
    ds.x[2 * 16 * 8] = Infinity;
    const err = await thrownAsync(fit(tr, ds, { epochs: 1, batchSize: 16, shuffle: false, logEvery: 5 }));
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err).not.toBeInstanceOf(NonFiniteGradientError);
    expect(err.message).toBe('training stopped: loss is NaN at step 5 (try a lower learning rate)');
    tr.dispose();
  });
});

describe('device loss', () => {
  it('destroying the device mid-training stops it with DeviceLostError; a new backend resumes from the checkpoint and trains', async () => {
    const doomed = await WebGpuBackend.create();
    const ds = toyData(16 * 25, 4);
    const o = { batchSize: 16, seed: 4, logEvery: 5 };
    const model = mlp([8, 16, 3], new Rng(4)), opt = new SGD({ lr: 0.1, momentum: 0.9 });
    const tr = new ClassifierTrainer(doomed, model, opt, [8]);
    const first = (await fit(tr, ds, { ...o, epochs: 1 })).loss[0];
    const path = join(mkdtempSync(join(tmpdir(), 'wgtrain-lost-')), 'ckpt.safetensors');
    await saveCheckpoint(path, tr, { epoch: 1, batch: 0, model: { name: 'mlp', sizes: [8, 16, 3] } });

    const err = await thrownAsync(fit(tr, ds, { ...o, epochs: 2, start: { epoch: 1, batch: 0 }, callbacks: [{ onBatchEnd: (i) => { if (i === 12) doomed.device.destroy(); } }] }));
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as DeviceLostError).reason).toBe('destroyed');
    expect(err.message).toMatch(/^webgpu: device lost while .*\(reason 'destroyed'/);
    // From now on everything says so at once, and nothing hangs.
    const x = new Float32Array(16 * 8), y = new Int32Array(16);
    expect(() => tr.trainStep(x, y, 16)).toThrow(DeviceLostError);
    expect(() => doomed.compile([ops.relu(input([3]))])).toThrow(/device lost while compiling the plan/);
    expect(() => doomed.writeVariable(model.parameters()[0], new Float32Array(8 * 16))).toThrow(DeviceLostError);
    expect(await thrownAsync(doomed.readVariable(model.parameters()[0]))).toBeInstanceOf(DeviceLostError);
    expect(await thrownAsync(doomed.sync())).toBeInstanceOf(DeviceLostError);
    tr.dispose();
    doomed.dispose();

    const fresh = await WebGpuBackend.create();
    const tr2 = new ClassifierTrainer(fresh, model, opt, [8]);
    tr2.prepare(16);
    const meta = await loadCheckpoint(path, tr2);
    expect(meta.step).toBe(25);
    const last = (await fit(tr2, ds, { ...o, epochs: 4, start: { epoch: 1, batch: 0 } })).loss.at(-1)!;
    expect(tr2.step).toBe(25 * 4);
    expect(last).toBeLessThan(first * 0.7);
    tr2.dispose();
    fresh.dispose();
  });
});

describe('device loss, a read in flight', () => {
  it('a read queued just before the device is destroyed rejects with DeviceLostError instead of hanging', async () => {
    const be = await WebGpuBackend.create();
    const v = new Variable(new Float32Array(1 << 16).fill(1), [1 << 16], 'big');
    expect((await be.readVariable(v))[5]).toBe(1);
    const pending = be.readVariable(v);
    be.device.destroy();
    const err = await thrownAsync(pending);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect(err.message).toMatch(/^webgpu: device lost while reading big \(reason 'destroyed'/);
    be.dispose();
  });
});

describe('two models on one device', () => {
  const makeA = () => mlp([8, 16, 3], new Rng(5));
  const makeB = () => new Sequential(new Linear(8, 5, { rng: new Rng(6), name: 'b1' }), Tanh(), new Linear(5, 7, { rng: new Rng(7), name: 'b2' }), ReLU(), new Linear(7, 3, { rng: new Rng(8), name: 'b3' }));
  const dsA = toyData(16 * 12, 5), dsB = toyData(12 * 12, 6);

  async function weights(be: Backend, tr: ClassifierTrainer) { return Promise.all(tr.parameters.map(async (p) => Array.from(await be.readVariable(p)))); }

  it('training two different models interleaved gives the same weights as training each alone', async () => {
    const solo = await WebGpuBackend.create();
    const alone = [];
    for (const [make, ds, B] of [[makeA, dsA, 16], [makeB, dsB, 12]] as const) {
      const tr = new ClassifierTrainer(solo, make(), new SGD({ lr: 0.1, momentum: 0.9 }), [8]);
      for (const b of new DataLoader(ds, { batchSize: B, seed: 1 }).batches(0)) tr.trainStep(b.x, b.y, b.size);
      alone.push(await weights(solo, tr));
      tr.dispose();
    }
    solo.dispose();

    const a = new ClassifierTrainer(gpu, makeA(), new SGD({ lr: 0.1, momentum: 0.9 }), [8]);
    const b = new ClassifierTrainer(gpu, makeB(), new SGD({ lr: 0.1, momentum: 0.9 }), [8]);
    const batchesA = new DataLoader(dsA, { batchSize: 16, seed: 1 }).batches(0), batchesB = new DataLoader(dsB, { batchSize: 12, seed: 1 }).batches(0);
    for (let s = 0; s < 12; s++) {
      const ba = batchesA.next().value!; a.trainStep(ba.x, ba.y, ba.size);
      const bb = batchesB.next().value!; b.trainStep(bb.x, bb.y, bb.size);
    }
    const together = [await weights(gpu, a), await weights(gpu, b)];
    expect(together[0]).toEqual(alone[0]);
    expect(together[1]).toEqual(alone[1]);
    expect(together[0]).not.toEqual(makeA().parameters().map((p) => Array.from(p.init))); // it did train
    a.dispose();
    b.dispose();
  });
});

describe('waiting for the GPU', () => {
  // Dawn's Node bindings poll back-to-back while a promise is pending; on lavapipe that took a core from the shader
  // threads. settle() sleeps between polls instead. The main thread's own CPU time (Linux: /proc/self/task/<pid>, the
  // main thread's tid is the pid) during a long wait shows which it does: polling costs about the whole wait.
  const mainThreadCpuMs = () => {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 100 Hz clock ticks
  };
  // The pump's sleeps, on a clock the test drives (no timing): polls from 20 us growing with the wait; after steady
  // waits, long sleeps through most of the expected time; and a wait that ends inside such a sleep ends the trust.
  it('the waiting clock: polls, sleeps through steady waits, and forgets them when a wait ends inside such a sleep', () => {
    const c = new WaitClock();
    let t = 0;
    // A wait of `ms` from now: the pump's sleeps until the first wake at or after its end, where it is seen done.
    const wait = (ms: number) => {
      const s = c.began(t), slept: number[] = [];
      let at = t;
      while (at < s + ms) { const d = c.sleepMs(at); slept.push(d); at += d; }
      t = at;
      c.ended(s, at);
      return slept;
    };
    // No history: a poll every 1/32 of the wait, from 20 us to 1 ms.
    const first = wait(20);
    expect(first[0]).toBe(0.02);
    expect(Math.max(...first)).toBeLessThanOrEqual(1);
    expect(first.length).toBeGreaterThan(40);
    for (let i = 0; i < 3; i++) wait(20);
    // Four waits of about 20 ms: 0.9 of the shortest less 0.2 ms slept through in sleeps of at most 5 ms, then polls.
    const sure = c.expectedWait();
    expect(sure).toBeGreaterThan(17.8);
    expect(sure).toBeLessThan(18);
    const steady = wait(20);
    expect(steady.slice(0, 3)).toEqual([5, 5, 5]);
    expect(steady.length).toBeLessThan(20);
    // Unsteady history (more than 25% apart): no trust.
    const u = new WaitClock();
    for (const ms of [10, 20, 10, 20]) { const s = u.began(0); u.sleepMs(0); u.ended(s, ms); }
    expect(u.expectedWait()).toBe(0);
    // Steady 6 ms waits, then 3 ms ones: the first 3 ms wait is seen done only after a 5 ms sleep, which would pass
    // for steady beside the 6 ms ones; the history is dropped instead, and the next short wait polls from 20 us.
    const c6 = new WaitClock();
    t = 0;
    const wait6 = (ms: number) => { const s = c6.began(t), slept: number[] = []; let at = t; while (at < s + ms) { const d = c6.sleepMs(at); slept.push(d); at += d; } t = at; c6.ended(s, at); return slept; };
    for (let i = 0; i < 4; i++) wait6(6);
    expect(c6.expectedWait()).toBeGreaterThan(5);
    expect(wait6(3)[0]).toBe(5);
    expect(c6.expectedWait()).toBe(0);
    expect(wait6(3)[0]).toBe(0.02);
  });
  it('a long read leaves the main thread mostly asleep', async () => {
    const x = input([512, 1024], 'f32', 'x'), w = new Variable(randn(1024 * 1024, 5), [1024, 1024], 'w');
    let y = x;
    for (let i = 0; i < 6; i++) y = ops.tanh(ops.matmul(y, w.tensor));
    const ex = gpu.compile([y]);
    ex.run(new Map([[x, randn(512 * 1024, 6)]]));
    await ex.read(y); // compiles the kernels, uploads the weights
    ex.run(new Map([[x, randn(512 * 1024, 7)]]));
    const cpu0 = mainThreadCpuMs(), t0 = performance.now();
    const out = await ex.read(y);
    const wallMs = performance.now() - t0, cpuMs = mainThreadCpuMs() - cpu0;
    expect(out.every(Number.isFinite)).toBe(true);
    expect(cpuMs, `main thread busy ${cpuMs} ms of a ${wallMs.toFixed(0)} ms wait`).toBeLessThan(0.3 * wallMs + 20);
  });
});
