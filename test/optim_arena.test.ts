// The multi-tensor optimizer update (optim_multi): every parameter of a step in one dispatch, parameters, state and
// gradients in arenas. Against the per-parameter path (optim_step) on the same backend it must be exact (the same
// arithmetic, element by element); against the CPU reference, within the optimizer tests' tolerance. Odd sizes so
// that no parameter fills its 256-byte sub-range; gradients both computed in the step (written straight into the
// gradient arena) and fed (a leaf: copied in once).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Variable, Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { makeOptimizer } from '../src/optim/index.js';
import { FusedOptimizer } from '../src/optim/optimizer.js';
import { ShapeError } from '../src/graph/shape.js';
import { mlp } from '../src/nn/models.js';
import { ClassifierTrainer, NonFiniteGradientError } from '../src/train/trainer.js';
import { GanTrainer } from '../src/train/gan.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

// 9001: a parameter over three of optim_multi's chunks of 4,096 floats, the last one partial.
const SIZES = [1, 7, 257, 1003, 3, 9001];
const CONFIGS: [string, Record<string, unknown>][] = [
  ['sgd', { lr: 0.05 }],
  ['sgd', { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }],
  ['sgd', { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
  ['adam', { lr: 0.01, weightDecay: 1e-2 }],
  ['adamw', { lr: 0.01 }],
  ['nadam', { lr: 0.01, decoupledWeightDecay: true, weightDecay: 1e-2 }],
  ['rmsprop', { lr: 0.01 }],
  ['rmsprop', { lr: 0.01, centered: true, momentum: 0.9, weightDecay: 1e-3 }],
  ['adagrad', { lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1 }],
  ['adadelta', { lr: 1, weightDecay: 1e-3 }],
];

interface Run { params: Float32Array[]; state: Float32Array[]; kernels: number; multi: number }

/**
 * `steps` updates of SIZES parameters; gradient k is fed for odd k (a leaf) and computed as 0.5·x for even k. With
 * `skips`, a skip flag is fed per step; with `guard`, a latch variable is passed and read back as the last state; with
 * `gradSteps`, step s is fed the gradients of step gradSteps[s].
 */
async function run(be: Backend, name: string, o: Record<string, unknown>, multi: boolean, steps = 3, extra: { skips?: number[]; guard?: boolean; poison?: number; gradSteps?: number[] } = {}): Promise<Run> {
  const params = SIZES.map((n, k) => new Variable(randn(n, 10 + k), [n], `p${k}`));
  const xs = SIZES.map((n, k) => input([n], 'f32', `x${k}`));
  const grads = xs.map((x, k) => (k % 2 ? x : ops.mul(x, 0.5)));
  const opt = makeOptimizer(name, o) as FusedOptimizer<{ lr: number; weightDecay: number }>;
  opt.multiTensor = multi;
  const skip = extra.skips ? input([1], 'f32', 'skip') : undefined;
  const latch = extra.guard ? Variable.zeros([1], 'latch') : undefined;
  if (latch) expect(opt.foldsGuard(params)).toBe(multi);
  const ex = be.compile([], opt.updates(params, grads, { skip, guard: latch }));
  for (let s = 0; s < steps; s++) {
    const feeds = new Map<Tensor, Float32Array>(xs.map((x, k) => [x, randn(x.size, 100 * (extra.gradSteps?.[s] ?? s) + k)]));
    if (extra.poison === s + 1) feeds.get(xs[2])![5] = NaN;
    if (skip) feeds.set(skip, Float32Array.of(extra.skips![s]));
    opt.beginStep(s + 1);
    ex.run(feeds, { checkFinite: false });
  }
  const out: Run = {
    params: await Promise.all(params.map((p) => be.readVariable(p))),
    state: await Promise.all([...opt.state(), ...(latch ? [latch] : [])].map((v) => be.readVariable(v))),
    kernels: ex.plan.steps.length,
    multi: ex.plan.steps.filter((s) => s.op === 'optim_multi').length,
  };
  ex.dispose();
  return out;
}

const exact = (a: Float32Array[], b: Float32Array[], what: string) => a.forEach((x, i) => expect(Array.from(x), `${what} ${i}`).toEqual(Array.from(b[i])));

describe('one optimizer dispatch for all parameters', () => {
  for (const [name, o] of CONFIGS) {
    it(`${name} ${JSON.stringify(o)}: arena = per-parameter exactly on each backend, WebGPU = CPU`, async () => {
      const cpuOne = await run(new CpuBackend(), name, o, false);
      const cpuAll = await run(new CpuBackend(), name, o, true);
      const gpuOne = await run(gpu, name, o, false);
      const gpuAll = await run(gpu, name, o, true);
      expect(gpuAll.multi).toBe(1);
      expect(gpuOne.multi).toBe(0);
      // The optim_step kernels become one; the fed gradients (odd k) cost a copy each into the arena.
      expect(gpuAll.kernels).toBe(gpuOne.kernels - SIZES.length + 1 + Math.floor(SIZES.length / 2));
      exact(cpuAll.params, cpuOne.params, 'CPU parameter');
      exact(cpuAll.state, cpuOne.state, 'CPU state');
      exact(gpuAll.params, gpuOne.params, 'WebGPU parameter');
      exact(gpuAll.state, gpuOne.state, 'WebGPU state');
      gpuAll.params.forEach((p, i) => assertClose(p, cpuAll.params[i], { atol: 1e-5, rtol: 1e-4, what: `parameter ${i}` }));
      gpuAll.state.forEach((s, i) => assertClose(s, cpuAll.state[i], { atol: 1e-5, rtol: 1e-4, what: `state ${i}` }));
    });
  }

  for (const multi of [true, false]) {
    it(`a nonzero skip flag leaves parameters and state as they were (${multi ? 'arena' : 'per parameter'})`, async () => {
      for (const be of [new CpuBackend(), gpu] as Backend[]) {
        const skipped = await run(be, 'adam', { lr: 0.01 }, multi, 3, { skips: [0, 1, 0] });
        const two = await run(be, 'adam', { lr: 0.01 }, multi, 3, { skips: [0, 0, 0] });
        const one = await run(be, 'adam', { lr: 0.01 }, multi, 1, { skips: [0] });
        const none = await run(be, 'adam', { lr: 0.01 }, multi, 2, { skips: [1, 1] });
        SIZES.forEach((n, k) => expect(Array.from(none.params[k])).toEqual(Array.from(randn(n, 10 + k))));
        none.state.forEach((s) => expect(s.every((x) => x === 0)).toBe(true));
        // Step 3 ran on the state step 1 left (step 2 skipped): it differs from both the 1-step and the 3-step runs.
        expect(Array.from(skipped.params[2])).not.toEqual(Array.from(one.params[2]));
        expect(Array.from(skipped.params[2])).not.toEqual(Array.from(two.params[2]));
      }
    });
  }

  /** The step clock's values after t steps taken, from the optimizers' definitions (PyTorch's). */
  const clockAfter = (name: string, o: Record<string, unknown>, t: number): number[] => {
    const b1 = (o.beta1 as number) ?? 0.9, b2 = (o.beta2 as number) ?? 0.999, psi = 4e-3;
    const mu = (i: number) => b1 * (1 - 0.5 * 0.96 ** (i * psi));
    if (name === 'adagrad') return [t];
    if (name === 'nadam') return [t, 1 - b2 ** t, 0.96 ** (t * psi), Array.from({ length: t }, (_, i) => mu(i + 1)).reduce((a, b) => a * b, 1)];
    return [t, 1 - b1 ** t, 1 - b2 ** t];
  };

  // PyTorch's GradScaler skips optimizer.step() on an overflow, so the step count behind Adam's bias corrections,
  // NAdam's momentum schedule and Adagrad's decay counts only the steps taken: five steps with the first, third and
  // fourth skipped must equal two steps on the second's and fifth's gradients, though the host counted to 5.
  const STEP_DEPENDENT = CONFIGS.filter(([name]) => ['adam', 'adamw', 'nadam', 'adagrad'].includes(name));
  for (const [name, o] of [...STEP_DEPENDENT, ['adam', { lr: 0.01, beta1: 0.5, beta2: 0.9 }] as [string, Record<string, unknown>]]) {
    it(`${name} ${JSON.stringify(o)}: skipped steps do not count towards its step-dependent coefficients`, async () => {
      for (const be of [new CpuBackend(), gpu] as Backend[]) {
        for (const multi of [true, false]) {
          const skipped = await run(be, name, o, multi, 5, { skips: [1, 0, 1, 1, 0] });
          const taken = await run(be, name, o, multi, 2, { gradSteps: [1, 4] });
          const what = `${be.name} ${multi ? 'arena' : 'per parameter'}`;
          skipped.params.forEach((p, i) => assertClose(p, taken.params[i], { atol: 1e-6, rtol: 1e-5, what: `${what} parameter ${i}` }));
          // The slots, then the clock's variables (after two steps taken).
          taken.state.forEach((v, i) => assertClose(skipped.state[i], v, { atol: 1e-7, rtol: 1e-6, what: `${what} state ${i}` }));
          const clock = skipped.state.slice(taken.state.length).map((v) => v[0]), want = clockAfter(name, o, 2);
          expect(clock.length, what).toBe(want.length);
          clock.forEach((c, i) => expect(c, `${what} clock ${i}`).toBeCloseTo(want[i], 6));
        }
      }
    });
  }

  it('a step clock made after steps run without a skip flag starts from them (a run switched to f16 part-way)', async () => {
    for (const be of [new CpuBackend(), gpu] as Backend[]) {
      for (const [name, o] of STEP_DEPENDENT) {
        const after = async (switchAt: number) => {
          const p = new Variable(randn(37, 5), [37], 'p'), x = input([37], 'f32', 'x'), skip = input([1], 'f32', 'skip');
          const opt = makeOptimizer(name, o) as FusedOptimizer<{ lr: number; weightDecay: number }>;
          const plain = be.compile([], opt.updates([p], [x]));
          let skipping: ReturnType<Backend['compile']> | undefined;
          for (let s = 0; s < 3; s++) {
            const feeds = new Map<Tensor, Float32Array>([[x, randn(37, 50 + s)]]);
            // The skip flag's step is compiled when first used, as ClassifierTrainer compiles a new precision's step.
            if (s === switchAt) skipping = be.compile([], opt.updates([p], [x], { skip }));
            if (s >= switchAt) feeds.set(skip, Float32Array.of(0));
            opt.beginStep(s + 1);
            (s >= switchAt ? skipping! : plain).run(feeds);
          }
          return be.readVariable(p);
        };
        assertClose(await after(2), await after(3), { atol: 1e-6, rtol: 1e-5, what: `${be.name} ${name}` });
      }
    }
  });

  it('latches the first step whose gradients hold a NaN, and a skipped step latches nothing', async () => {
    for (const be of [new CpuBackend(), gpu] as Backend[]) {
      const bad = await run(be, 'sgd', { lr: 0.05, momentum: 0.9 }, true, 4, { guard: true, poison: 2 });
      expect(bad.state.at(-1)![0]).toBe(2);
      const clean = await run(be, 'sgd', { lr: 0.05, momentum: 0.9 }, true, 3, { guard: true });
      expect(clean.state.at(-1)![0]).toBe(0);
      const skipped = await run(be, 'sgd', { lr: 0.05 }, true, 3, { guard: true, poison: 2, skips: [0, 1, 0] });
      expect(skipped.state.at(-1)![0]).toBe(0);
      expect(skipped.params.every((p) => p.every(Number.isFinite))).toBe(true);
    }
  });

  it('rejects a skip flag of more than one value in one line', () => {
    const p = Variable.zeros([3], 'p'), g = input([3], 'f32', 'g');
    for (const multi of [true, false]) {
      const opt = makeOptimizer('sgd', { lr: 0.1 }) as FusedOptimizer<{ lr: number; weightDecay: number }>;
      opt.multiTensor = multi;
      expect(() => opt.updates([p], [g], { skip: input([2], 'f32', 's') })).toThrow(ShapeError);
    }
  });
});

/** A few MLP steps through the trainer: parameters after them, and the plan's kernel count. */
async function trainMlp(be: Backend, multi: boolean, o: { clipNorm?: number; freeze?: boolean; optimizer?: string } = {}) {
  const model = mlp([13, 9, 5], new Rng(3));
  const opt = makeOptimizer(o.optimizer ?? 'adamw', { lr: 0.01 }) as FusedOptimizer<{ lr: number; weightDecay: number }>;
  opt.multiTensor = multi;
  const t = new ClassifierTrainer(be, model, opt, [13]);
  t.clipNorm = o.clipNorm;
  if (o.freeze) t.frozen.add(model.parameters()[0]);
  const B = 7;
  for (let s = 0; s < 3; s++) {
    const g = t.trainStep(randn(B * 13, s), Int32Array.from({ length: B }, (_, i) => (i + s) % 5), B);
    await t.settleRead(t.queueRead(g));
  }
  const [g] = (t as unknown as { trainGraphs: Map<number, { ex: { plan: { steps: Tensor[] } } }> }).trainGraphs.values();
  return { params: await Promise.all(model.parameters().map((p) => be.readVariable(p))), kernels: g.ex.plan.steps.length, init: model.parameters().map((p) => p.init) };
}

describe('the trainer on the arena', () => {
  for (const o of [{}, { clipNorm: 0.5 }, { freeze: true }, { optimizer: 'sgd' }]) {
    it(`MLP steps ${JSON.stringify(o)}: arena = per-parameter exactly, fewer kernels, WebGPU = CPU`, async () => {
      const all = await trainMlp(gpu, true, o), one = await trainMlp(gpu, false, o), cpu = await trainMlp(new CpuBackend(), true, o);
      exact(all.params, one.params, 'parameter');
      all.params.forEach((p, i) => assertClose(p, cpu.params[i], { atol: 1e-4, rtol: 1e-3, what: `parameter ${i}` }));
      expect(all.kernels).toBeLessThan(one.kernels);
      if (o.freeze) expect(Array.from(all.params[0])).toEqual(Array.from(all.init[0]));
    });
  }

  it("a second optimizer on the same model keeps the parameters' arena and gives its state arenas of that layout", async () => {
    const twice = async (multi: boolean) => {
      const model = mlp([13, 9, 5], new Rng(3)), multis: number[] = [];
      for (const name of ['sgd', 'adam']) {
        const opt = makeOptimizer(name, { lr: 0.01 }) as FusedOptimizer<{ lr: number; weightDecay: number }>;
        opt.multiTensor = multi;
        const t = new ClassifierTrainer(gpu, model, opt, [13]);
        for (let s = 0; s < 2; s++) await t.settleRead(t.queueRead(t.trainStep(randn(7 * 13, s), Int32Array.from({ length: 7 }, (_, i) => i % 5), 7)));
        const [g] = (t as unknown as { trainGraphs: Map<number, { ex: { plan: { steps: Tensor[] } } }> }).trainGraphs.values();
        multis.push(g.ex.plan.steps.filter((x) => x.op === 'optim_multi').length);
      }
      return { params: await Promise.all(model.parameters().map((p) => gpu.readVariable(p))), multis };
    };
    const all = await twice(true), one = await twice(false);
    expect(all.multis).toEqual([1, 1]);
    exact(all.params, one.params, 'parameter');
  });

  it("GAN's two optimizers: two arenas, the generator's moved in after the discriminator's step bound its weights", async () => {
    const gan = async (multi: boolean) => {
      const G = mlp([4, 8, 6], new Rng(11)), D = mlp([6, 5, 1], new Rng(12));
      const [optG, optD] = [makeOptimizer('adam', { lr: 0.01 }), makeOptimizer('sgd', { lr: 0.05, momentum: 0.9 })] as FusedOptimizer<{ lr: number; weightDecay: number }>[];
      optG.multiTensor = optD.multiTensor = multi;
      const t = new GanTrainer(gpu, G, D, optG, optD, 4);
      for (let s = 0; s < 3; s++) t.trainStep(randn(5 * 6, s), 5, [6]);
      await t.queueRead(5);
      return Promise.all([...G.parameters(), ...D.parameters()].map((p) => gpu.readVariable(p)));
    };
    const all = await gan(true), one = await gan(false);
    exact(all, one, 'parameter');
  });

  it('a gradient that goes NaN stops training with the step it went bad at', async () => {
    for (const be of [new CpuBackend(), gpu] as Backend[]) {
      const model = mlp([4, 3], new Rng(1));
      const t = new ClassifierTrainer(be, model, makeOptimizer('sgd', { lr: 0.1 }), [4]);
      t.checkFinite = false;
      const y = Int32Array.of(0, 1);
      await t.settleRead(t.queueRead(t.trainStep(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), y, 2)));
      const r = t.queueRead(t.trainStep(Float32Array.of(1, 2, NaN, 4, 5, 6, 7, 8), y, 2));
      await expect(t.settleRead(r)).rejects.toThrow(NonFiniteGradientError);
      await expect(t.settleRead(r)).rejects.toThrow(/at step 2/);
    }
  });

  it('a weight written before the arena exists, and an executable compiled before it, see the arena', async () => {
    const model = mlp([6, 4], new Rng(5));
    const [w] = model.parameters();
    const fixed = randn(w.size, 77);
    gpu.writeVariable(w, fixed);
    const x = input([2, 6], 'f32', 'x');
    const out = model.forward(x);
    const ev = gpu.compile([out]);
    const feeds = new Map<Tensor, Float32Array>([[x, randn(12, 3)]]);
    ev.run(feeds);
    const before = await ev.read(out);
    const t = new ClassifierTrainer(gpu, model, makeOptimizer('adam', { lr: 0.05 }), [6]);
    t.prepare(2);
    expect(Array.from(await gpu.readVariable(w))).toEqual(Array.from(fixed));
    ev.run(feeds);
    expect(Array.from(await ev.read(out))).toEqual(Array.from(before));
    await t.settleRead(t.queueRead(t.trainStep(randn(12, 4), Int32Array.of(0, 3), 2)));
    ev.run(feeds);
    expect(Array.from(await ev.read(out))).not.toEqual(Array.from(before));
    ev.dispose();
  });
});
