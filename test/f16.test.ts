// Mixed precision (--precision f16): the f16 rounding of the CPU reference, which values a plan stores in half
// precision, CPU/WebGPU parity of whole training steps with f16 storage (node by node, at the stated f16 tolerances),
// the dynamic loss scale (skip and halve on overflow, double after good steps), exact resume, and the error where the
// adapter has no 'shader-f16'.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { input, Tensor, Variable } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { roundF16, decodeF16 } from '../src/graph/f16.js';
import { plan } from '../src/schedule/plan.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { checkParity } from '../src/check/parity.js';
import { LossScaler } from '../src/train/loss_scale.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { encodeCheckpoint, restoreCheckpoint, decodeCheckpoint } from '../src/train/checkpoint.js';
import { Sequential, Linear, ReLU, Flatten } from '../src/nn/module.js';
import { Conv2d, MaxPool2d } from '../src/nn/conv.js';
import { mlp } from '../src/nn/models.js';
import { buildModel } from '../src/nn/config.js';
import { exportPytorch } from '../src/export/pytorch.js';
import { SGD } from '../src/optim/sgd.js';
import { Adam } from '../src/optim/adaptive.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randn, randInt, expectUsageErrors } from './helpers.js';

describe('roundF16', () => {
  it('rounds to the nearest half, ties to even, overflowing to infinity from 65520', () => {
    expect(roundF16(1)).toBe(1);
    expect(roundF16(1 + 2 ** -11)).toBe(1); // a tie: to the even neighbour
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundF16(0.1)).toBe(0.0999755859375);
    expect(roundF16(65504)).toBe(65504);
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(65520)).toBe(Infinity);
    expect(roundF16(-1e6)).toBe(-Infinity);
    expect(roundF16(2 ** -24)).toBe(2 ** -24); // the smallest subnormal
    expect(roundF16(2 ** -26)).toBe(0);
    expect(roundF16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundF16(NaN)).toBeNaN();
  });

  it('agrees with decoding every f16 bit pattern: each finite half rounds to itself, midpoints to the even one', () => {
    const all = decodeF16(Uint16Array.from({ length: 65536 }, (_, i) => i));
    for (let i = 0; i < 65536; i++) {
      const h = all[i];
      if (Number.isNaN(h)) continue;
      expect(roundF16(h)).toBe(h);
      if ((i & 0x7fff) < 0x7bff && (i & 0x7fff) !== 0) { // up to the largest finite, past zero: the midpoint to the next
        const next = all[i + 1];
        expect(roundF16((h + next) / 2)).toBe(i % 2 === 0 ? h : next);
      }
    }
  });
});

describe('f16 plans', () => {
  it('stores values between f16-capable kernels in half precision; outputs, effects, softmax-xent and values under 64 elements keep f32', () => {
    const f16Plan = (B: number, D: number, O: number) => {
      const x = input([B, D], 'f32', 'x'), y = input([B], 'i32', 'y');
      const w = new Variable(randn(D * O, 1), [D, O], 'w');
      const h = ops.relu(ops.matmul(x, w.tensor));
      const loss = ops.softmaxCrossEntropy(h, y);
      const [gw] = grad(loss, [w.tensor]);
      return { h, loss, gw, p: plan([loss, gw], [], { precision: 'f16' }) };
    };
    // [5, 7] x [7, 3]: every value is under 64 elements.
    expect(f16Plan(5, 7, 3).p.half.size).toBe(0);
    const { h, loss, gw, p } = f16Plan(9, 17, 8);
    expect(p.half.size).toBeGreaterThan(0);
    for (const t of p.half) expect(t.size).toBeGreaterThanOrEqual(64);
    expect(p.half.has(loss)).toBe(false);
    expect(p.half.has(gw)).toBe(false);
    for (const t of p.half) expect(['matmul', 'relu', 'relu_grad', 'transpose', 'sum', 'mul', 'add']).toContain(t.op);
    // softmax_xent reads h: h stays f32.
    expect(p.half.has(h)).toBe(false);
    expect(plan([loss, gw]).half.size).toBe(0);
  });
});

/** The mixed-precision step ClassifierTrainer compiles, from a loss: scaled gradients, unscaled, skip, scale update. */
function f16Step(loss: Tensor, params: Variable[], scaler = new LossScaler()) {
  const raw = grad(scaler.scaled(loss), params.map((p) => p.tensor)), skip = scaler.overflowed(raw);
  return { scaler, effects: [...new SGD({ lr: 0.05, momentum: 0.9 }).updates(params, scaler.unscale(raw), { skip }), ...scaler.updates(skip)] };
}

describe('f16 on WebGPU', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());

  const cnn = (rng: Rng) => new Sequential(
    new Conv2d(1, 5, 3, { rng, name: 'conv1' }), ReLU(), new MaxPool2d(2), Flatten(), new Linear(5 * 4 * 4, 7, { rng, name: 'fc1' }), ReLU(), new Linear(7, 3, { rng, name: 'fc2' }),
  );
  for (const [name, build, shape] of [
    // 36 hidden units: the last layer's K is a multiple of 4, so matmul_subgroup reads its f16 input as vec4s (VEC_A).
    ['an MLP (odd sizes)', (rng: Rng) => mlp([29, 65, 36, 10], rng), [29]],
    ['a CNN (conv, pool, dense; odd sizes)', cnn, [1, 11, 11]],
  ] as const) {
    it(`${name}: a training step agrees node by node with the CPU reference rounding at the same points`, async () => {
      // B = 17: the weight gradients' K, so they take four k a step (K4) with a partial last step, and the 36-unit
      // layer's (M = 36) reads its f16 activations as vec4s along M (VEC_AT).
      const B = 17, model = build(new Rng(7)), params = model.parameters();
      const x = input([B, ...shape], 'f32', 'x'), y = input([B], 'i32', 'y');
      const logits = model.forward(x);
      const loss = ops.softmaxCrossEntropy(logits, y);
      const { effects, scaler } = f16Step(loss, params);
      const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, randn(x.size, 5)], [y, randInt(B, logits.shape[1], 6)]]);
      const report = await checkParity({ outputs: [loss], effects, feeds, gpu, precision: 'f16', variables: 'init' });
      expect(report.firstFailure?.label ?? 'none').toBe('none');
      // Some nodes really were stored in f16, and the step was not skipped: the scale stayed and counted a good step.
      const ex = gpu.compile([loss], effects, { precision: 'f16' });
      expect([...ex.plan.half].map((t) => t.op)).toEqual(expect.arrayContaining(['matmul']));
      ex.run(feeds);
      expect([...await gpu.readVariable(scaler.scale), ...await gpu.readVariable(scaler.goodSteps)]).toEqual([2 ** 15, 1]);
      ex.dispose();
    });
  }

  it('the fused plans ClassifierTrainer compiles agree with the CPU reference over steps (weights and loss scale)', async () => {
    const B = 17, X = randn(B * 3 * 29, 21), Y = randInt(B * 3, 10, 22);
    const after = async (be: Backend) => {
      const model = mlp([29, 65, 33, 10], new Rng(3));
      const t = new ClassifierTrainer(be, model, new Adam({ lr: 1e-3 }), [29]);
      t.precision = 'f16';
      for (let s = 0; s < 3; s++) t.trainStep(X.subarray(s * B * 29, (s + 1) * B * 29), Y.subarray(s * B, (s + 1) * B), B);
      const vals = await Promise.all([...model.parameters(), ...t.runState()].map((v) => be.readVariable(v)));
      t.dispose();
      return vals;
    };
    const [g, c] = [await after(gpu), await after(new CpuBackend())];
    g.forEach((v, i) => assertClose(v, c[i], { atol: 1e-4, rtol: 2e-3, what: `variable ${i}` }));
    expect(g[g.length - 2][0]).toBe(2 ** 15); // no overflow at this size: the scale stayed
  });

  for (const backend of ['webgpu', 'cpu'] as const) {
    it(`${backend}: an overflowing step is skipped (weights and momentum unchanged) and halves the scale; good steps double it`, async () => {
      const be = backend === 'cpu' ? new CpuBackend() : gpu;
      const B = 9, model = mlp([13, 17, 5], new Rng(4)), params = model.parameters();
      const x = input([B, 13], 'f32', 'x'), y = input([B], 'i32', 'y');
      const loss = ops.softmaxCrossEntropy(model.forward(x), y);
      const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, randn(B * 13, 8)], [y, randInt(B, 5, 9)]]);
      // 2^40 overflows every f16 gradient: skipped, halved each step.
      const big = f16Step(loss, params, new LossScaler({ initScale: 2 ** 40 }));
      const ex = be.compile([loss], big.effects, { precision: 'f16' });
      const before = await Promise.all(params.map((p) => be.readVariable(p)));
      ex.run(feeds); ex.run(feeds);
      for (const [i, p] of params.entries()) expect([...await be.readVariable(p)]).toEqual([...before[i]]);
      expect([...await be.readVariable(big.scaler.scale)]).toEqual([2 ** 38]);
      ex.dispose();
      // A fitting scale with growth every 2 steps: weights move, the scale doubles after 2 good steps.
      const small = f16Step(loss, params, new LossScaler({ initScale: 256, growthInterval: 2 }));
      const ex2 = be.compile([loss], small.effects, { precision: 'f16' });
      ex2.run(feeds);
      expect([...await be.readVariable(small.scaler.goodSteps)]).toEqual([1]);
      expect((await be.readVariable(params[0])).some((w, i) => w !== before[0][i])).toBe(true);
      ex2.run(feeds);
      expect([...await be.readVariable(small.scaler.scale)]).toEqual([512]);
      expect([...await be.readVariable(small.scaler.goodSteps)]).toEqual([0]);
      ex2.dispose();
    });
  }

  it('resumes exactly: the checkpoint holds the loss scale, and a restored run continues bit for bit', async () => {
    const B = 11, N = 6, X = randn(B * N * 12, 31), Y = randInt(B * N, 4, 32);
    const batch = (s: number) => [X.subarray(s * B * 12, (s + 1) * B * 12), Y.subarray(s * B, (s + 1) * B)] as const;
    const make = (seed: number) => {
      const t = new ClassifierTrainer(gpu, mlp([12, 16, 4], new Rng(seed)), new SGD({ lr: 0.05, momentum: 0.9 }), [12]);
      t.precision = 'f16';
      t.lossScale = { initScale: 2 ** 20, growthInterval: 2 }; // overflows at first, halving, then grows: the scale moves
      return t;
    };
    const a = make(1);
    for (let s = 0; s < 3; s++) a.trainStep(...batch(s), B);
    const { bytes } = await encodeCheckpoint(a, { epoch: 0, batch: 3, model: { name: 'toy' } });
    const savedScale = (await gpu.readVariable(a.lossScaler!.scale))[0];
    for (let s = 3; s < N; s++) a.trainStep(...batch(s), B);
    const want = await Promise.all([...a.model.parameters(), ...a.runState()].map((v) => gpu.readVariable(v)));
    const b = make(99);
    b.prepare(B);
    restoreCheckpoint(bytes, b);
    expect((await gpu.readVariable(b.lossScaler!.scale))[0]).toBe(savedScale);
    for (let s = 3; s < N; s++) b.trainStep(...batch(s), B);
    const got = await Promise.all([...b.model.parameters(), ...b.runState()].map((v) => gpu.readVariable(v)));
    got.forEach((v, i) => expect([...v]).toEqual([...want[i]]));
    a.dispose(); b.dispose();
  });

  it('Adam under loss scaling: overflowed steps do not count in its bias corrections; the checkpoint keeps that count', async () => {
    const B = 11, N = 6, X = randn(B * N * 12, 41), Y = randInt(B * N, 4, 42);
    const batch = (s: number) => [X.subarray(s * B * 12, (s + 1) * B * 12), Y.subarray(s * B, (s + 1) * B)] as const;
    const make = (seed: number) => {
      const t = new ClassifierTrainer(gpu, mlp([12, 16, 4], new Rng(seed)), new Adam({ lr: 1e-2 }), [12]);
      t.precision = 'f16';
      t.lossScale = { initScale: 2 ** 20 }; // overflows three times, halving to 2^17
      return t;
    };
    const clockOf = (t: ClassifierTrainer) => t.optimizer.state().filter((v) => v.name.startsWith('adam.'));
    const a = make(1);
    for (let s = 0; s < 3; s++) a.trainStep(...batch(s), B);
    // Three steps, all skipped: the clock has not moved.
    expect(await Promise.all(clockOf(a).map(async (v) => (await gpu.readVariable(v))[0]))).toEqual([0, 0, 0]);
    const { bytes } = await encodeCheckpoint(a, { epoch: 0, batch: 3, model: { name: 'toy' } });
    for (let s = 3; s < N; s++) a.trainStep(...batch(s), B);
    // Then two steps taken at 2^17 and a third overflowing, which halves the scale again.
    expect((await gpu.readVariable(a.lossScaler!.scale))[0]).toBe(2 ** 16);
    const taken = await Promise.all(clockOf(a).map(async (v) => (await gpu.readVariable(v))[0]));
    expect(taken[0]).toBe(2);
    expect(taken[1]).toBeCloseTo(1 - 0.9 ** 2, 7);
    expect(taken[2]).toBeCloseTo(1 - 0.999 ** 2, 9);
    const want = await Promise.all([...a.model.parameters(), ...a.optimizer.state(), ...a.runState()].map((v) => gpu.readVariable(v)));
    const b = make(99);
    b.prepare(B);
    restoreCheckpoint(bytes, b);
    for (let s = 3; s < N; s++) b.trainStep(...batch(s), B);
    const got = await Promise.all([...b.model.parameters(), ...b.optimizer.state(), ...b.runState()].map((v) => gpu.readVariable(v)));
    got.forEach((v, i) => expect([...v]).toEqual([...want[i]]));
    // A checkpoint written before the clock existed resumes with it rebuilt from the step count (no steps skipped).
    const old = decodeCheckpoint(bytes);
    for (const k of ['adam.steps', 'adam.bias_correction1', 'adam.bias_correction2']) expect(old.tensors.delete(k)).toBe(true);
    const c = make(5);
    c.prepare(B);
    restoreCheckpoint(old, c);
    const rebuilt = await Promise.all(clockOf(c).map(async (v) => (await gpu.readVariable(v))[0]));
    expect(rebuilt[0]).toBe(3);
    expect(rebuilt[1]).toBeCloseTo(1 - 0.9 ** 3, 7);
    expect(rebuilt[2]).toBeCloseTo(1 - 0.999 ** 3, 7);
    a.dispose(); b.dispose(); c.dispose();
  });

  it('an export to PyTorch gives torch.optim the steps Adam took, not the steps the run counted', async () => {
    const config = { input: [12], layers: [{ type: 'linear', out: 16, name: 'fc1' }, { type: 'relu' }, { type: 'linear', out: 4, name: 'fc2' }] };
    const t = new ClassifierTrainer(gpu, buildModel(config, new Rng(2)).model, new Adam({ lr: 1e-2 }), [12]);
    t.precision = 'f16';
    t.lossScale = { initScale: 2 ** 20 };
    const B = 11, X = randn(B * 6 * 12, 41), Y = randInt(B * 6, 4, 42);
    for (let s = 0; s < 6; s++) t.trainStep(X.subarray(s * B * 12, (s + 1) * B * 12), Y.subarray(s * B, (s + 1) * B), B);
    const { bytes } = await encodeCheckpoint(t, { epoch: 0, batch: 6, model: { name: 'toy', config } });
    t.dispose();
    const ck = decodeCheckpoint(bytes), taken = (ck.tensors.get('adam.steps')!.array() as Float32Array)[0];
    expect(ck.meta.step).toBe(6);
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(6);
    const training = JSON.parse(exportPytorch(ck, 'ck', { mnistDir: '/nonexistent', mnistMean: 0, mnistStd: 1 }).get('training.json') as string);
    expect(training.optimizer.scalars.step).toBe(taken);
    expect(training.step).toBe(6); // the schedule's position still counts every step, as a scheduler stepped each iteration
  });

  it('says in one line that an adapter without shader-f16 cannot run precision f16', () => {
    const lacking = new WebGpuBackend({ ...gpu.ctx, features: gpu.ctx.features.filter((f) => f !== 'shader-f16') });
    const x = input([3], 'f32', 'x');
    expect(() => lacking.compile([ops.relu(x)], [], { precision: 'f16' })).toThrow(/^webgpu: precision f16 needs the adapter's 'shader-f16' feature, which .* lacks \(use precision f32\)$/);
    expect(() => lacking.compile([ops.relu(x)]).dispose()).not.toThrow();
  });
});

describe('--precision on the command line', () => {
  const cli = (args: string[]) => spawnSync('node', ['bin/wgtrain.js', ...args], { encoding: 'utf8' });
  it('rejects a bad value in one line', () => {
    expectUsageErrors(cli, [
      [['train', '--precision', 'f8'], /train: --precision must be one of f32, f16, got 'f8'/],
      [['check', '--precision', 'bf16'], /check: --precision must be one of f32, f16, got 'bf16'/],
    ]);
  });
});
