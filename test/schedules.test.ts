// Learning-rate schedules against values worked out by hand, reduce-on-plateau step by step (PyTorch semantics), and a
// few training steps under each schedule on the CPU reference and WebGPU from the same weights.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { constant, cosine, stepDecay, exponential, warmup, ReduceOnPlateau, makeSchedule, SCHEDULES, Schedule } from '../src/optim/schedules.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randn, randInt } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

const seq = (s: Schedule, n: number) => Array.from({ length: n }, (_, i) => s(i));

describe('schedules by hand', () => {
  it('step decay, exponential and cosine', () => {
    assertClose(seq(stepDecay(1, 3, 0.5), 7), [1, 1, 1, 0.5, 0.5, 0.5, 0.25], { what: 'step' });
    assertClose(seq(exponential(0.8, 0.5), 4), [0.8, 0.4, 0.2, 0.1], { what: 'exponential per step' });
    assertClose(seq(exponential(1, 0.25, 2), 3), [1, 0.5, 0.25], { what: 'exponential per 2 steps' });
    // cos(0) = 1, cos(π/2) = 0, cos(π) = -1; past the end it stays at the floor.
    assertClose(seq(cosine(2, 4, 0.5), 6), [2, 0.5 + 0.75 * (1 + Math.SQRT1_2), 1.25, 0.5 + 0.75 * (1 - Math.SQRT1_2), 0.5, 0.5], { what: 'cosine' });
    expect(() => stepDecay(1, 0)).toThrow(/stepDecay: stepSize must be a positive integer, got 0/);
  });

  it('warm-up rises linearly to where the inner schedule starts, then runs it from its own step 0', () => {
    assertClose(seq(warmup(4, constant(0.2)), 6), [0.05, 0.1, 0.15, 0.2, 0.2, 0.2], { what: 'warm-up to constant' });
    assertClose(seq(warmup(2, stepDecay(1, 2, 0.1)), 6), [0.5, 1, 1, 1, 0.1, 0.1], { what: 'warm-up then step' });
    assertClose(seq(warmup(0, exponential(1, 0.5)), 2), [1, 0.5], { what: 'no warm-up' });
  });

  it('makeSchedule counts epochs in steps and leaves the warm-up out of the cosine', () => {
    const c = makeSchedule('cosine', { lr: 1, epochs: 2, stepsPerEpoch: 5, warmup: 2 }).schedule;
    assertClose([c(0), c(1), c(2), c(6), c(10)], [0.5, 1, 1, 0.5 * (1 + Math.cos((Math.PI * 4) / 8)), 0], { what: 'cosine with warm-up' });
    const s = makeSchedule('step', { lr: 1, epochs: 4, stepsPerEpoch: 3, stepEpochs: 2, gamma: 0.5 }).schedule;
    assertClose([s(5), s(6), s(11), s(12)], [1, 0.5, 0.5, 0.25], { what: 'step every 2 epochs' });
    const e = makeSchedule('exponential', { lr: 1, epochs: 3, stepsPerEpoch: 4 }).schedule;
    assertClose([e(4), e(6), e(8)], [0.5, Math.SQRT1_2 / 2, 0.25], { what: 'exponential per epoch' });
  });
});

describe('reduce on plateau (PyTorch semantics)', () => {
  it('reduces after more than `patience` bad epochs, respects cooldown, threshold and the floor', () => {
    const p = new ReduceOnPlateau(1, { factor: 0.5, patience: 1, cooldown: 1, minLr: 0.2 });
    // best 1.0; 1.0 is no better (rel threshold 1e-4); a second bad epoch exceeds patience 1.
    const trace = [1.0, 1.0, 1.0, 0.99995, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95].map((m) => [p.step(m), p.lr]);
    expect(trace).toEqual([
      [false, 1], [false, 1], [true, 0.5], // bad 1, bad 2 > 1: reduce, cooldown 1
      [false, 0.5], // 0.99995 not below 1·(1 - 1e-4): bad, but cooldown zeroes the count
      [false, 0.5], // 0.9 is a new best
      [false, 0.5], [true, 0.25], // two bad: reduce
      [false, 0.25], // cooldown
      [false, 0.25], [true, 0.2], // floor at minLr
      [false, 0.2], // (cooldown)
    ]);
    p.step(0.95); p.step(0.95);
    expect(p.lr).toBe(0.2); // at the floor: nothing left to reduce
  });

  it('max mode with an absolute threshold, and state round-trips', () => {
    const p = new ReduceOnPlateau(0.1, { mode: 'max', thresholdMode: 'abs', threshold: 0.01, patience: 0, factor: 0.1 });
    expect(p.step(0.5)).toBe(false);
    expect(p.step(0.505)).toBe(true); // not above 0.5 + 0.01
    expect(p.lr).toBeCloseTo(0.01, 12);
    const q = new ReduceOnPlateau(0.1, { mode: 'max', thresholdMode: 'abs', threshold: 0.01, patience: 0, factor: 0.1 });
    q.load(p.state());
    expect([q.step(0.51), q.lr]).toEqual([p.step(0.51), p.lr]);
    expect(() => new ReduceOnPlateau(1, { factor: 1 })).toThrow(/ReduceOnPlateau: factor must be in \(0, 1\), got 1/);
  });
});

describe('each schedule trains alike on the CPU reference and WebGPU', () => {
  const N = 24, B = 8, D = 5, C = 3, steps = 6;
  const x = randn(N * D, 41), y = randInt(N, C, 42);

  async function run(be: Backend, name: (typeof SCHEDULES)[number]) {
    const model = mlp([D, 7, C], new Rng(5));
    const trainer = new ClassifierTrainer(be, model, new SGD({ lr: 0.1, momentum: 0.9 }), [D]);
    const { schedule, plateau } = makeSchedule(name, { lr: 0.1, epochs: 2, stepsPerEpoch: steps / 2, warmup: 2, gamma: 0.5 });
    trainer.schedule = schedule;
    const lrs: number[] = [];
    for (let s = 0; s < steps; s++) {
      const b = s % (N / B);
      trainer.trainStep(x.subarray(b * B * D, (b + 1) * B * D), y.subarray(b * B, (b + 1) * B), B);
      lrs.push(trainer.optimizer.lr);
      if (plateau && s === 2) plateau.step(1); // a plateau after the first "epoch" (patience 10 by default: no cut)
    }
    const w = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
    trainer.dispose();
    return { w, lrs };
  }

  for (const name of SCHEDULES) {
    it(name, async () => {
      const c = await run(new CpuBackend(), name), g = await run(gpu, name);
      expect(g.lrs).toEqual(c.lrs);
      expect(c.lrs[0]).toBeCloseTo(0.05, 12); // warm-up step 1 of 2
      c.w.forEach((w, i) => assertClose(g.w[i], w, { atol: 1e-5, rtol: 1e-4, what: `${name}: parameter ${i}` }));
    });
  }
});
