// The adaptive optimizers (Adam, AdamW, NAdam, RMSprop, Adagrad, Adadelta) and gradient clipping.
// (a) A few steps on a tiny array against the update written out from the algorithm boxes of PyTorch's
//     documentation, element by element in float64, on both backends.
// (b) CPU vs WebGPU over several steps at sizes that divide no workgroup, with the learning rate changed mid-run.
// (c) clipGradNorm by hand and in parity, the trainer's clipNorm, and a short CLI run that learns with Adam.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { input, Variable, Tensor } from '../src/graph/tensor.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Optimizer } from '../src/optim/optimizer.js';
import { makeOptimizer, clipGradNorm } from '../src/optim/index.js';
import { optimStep } from '../src/graph/optim_ops.js';
import { Linear } from '../src/nn/module.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, maxAbs, randn, runBoth } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

type Opts = Record<string, number | boolean>;

/**
 * Run one optimizer over `grads.length` steps, the gradient fed as an input, step s (1-based) at learning rate
 * lrs[s - 1]; return the parameter and the state slots in the optimizer's order.
 */
async function run(be: Backend, name: string, o: Opts, p0: Float32Array, grads: Float32Array[], lrs: number[]) {
  const p = new Variable(p0.slice(), [p0.length], 'p');
  const g = input([p0.length], 'f32', 'g');
  const opt = makeOptimizer(name, o);
  const ex = be.compile([], opt.updates([p], [g]));
  grads.forEach((gi, s) => {
    opt.lr = lrs[s];
    opt.beginStep!(s + 1);
    ex.run(new Map<Tensor, Float32Array>([[g, gi]]));
  });
  const out = { p: await be.readVariable(p), state: await Promise.all(opt.state().map((v) => be.readVariable(v))), names: opt.state().map((v) => v.name) };
  ex.dispose();
  return out;
}

// ---- the reference updates, one element at a time, from the algorithm boxes of torch.optim's documentation ----

interface Ref { p: number[]; state: number[][] }
type RefFn = (o: Opts, p0: number[], grads: number[][], lrs: number[]) => Ref;
const zeros = (n: number) => new Array<number>(n).fill(0);

const refAdam = (decoupled: boolean): RefFn => (o, p0, grads, lrs) => {
  const b1 = o.beta1 as number ?? 0.9, b2 = o.beta2 as number ?? 0.999, eps = o.eps as number ?? 1e-8;
  const wd = (o.weightDecay as number) ?? (decoupled ? 0.01 : 0);
  const p = [...p0], m = zeros(p.length), v = zeros(p.length);
  grads.forEach((gr, s) => {
    const t = s + 1, lr = lrs[s];
    for (let i = 0; i < p.length; i++) {
      let g = gr[i];
      if (decoupled) p[i] = p[i] - lr * wd * p[i]; else g = g + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mHat = m[i] / (1 - b1 ** t), vHat = v[i] / (1 - b2 ** t);
      p[i] = p[i] - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return { p, state: [m, v] };
};

const refNAdam: RefFn = (o, p0, grads, lrs) => {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8, psi = 4e-3, wd = (o.weightDecay as number) ?? 0;
  const mu = (t: number) => b1 * (1 - 0.5 * 0.96 ** (t * psi));
  const prod = (t: number) => { let r = 1; for (let i = 1; i <= t; i++) r *= mu(i); return r; };
  const p = [...p0], m = zeros(p.length), v = zeros(p.length);
  grads.forEach((gr, s) => {
    const t = s + 1, lr = lrs[s];
    for (let i = 0; i < p.length; i++) {
      let g = gr[i];
      if (o.decoupledWeightDecay) p[i] = p[i] * (1 - lr * wd); else g = g + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mHat = (mu(t + 1) * m[i]) / (1 - prod(t + 1)) + ((1 - mu(t)) * g) / (1 - prod(t));
      const vHat = v[i] / (1 - b2 ** t);
      p[i] = p[i] - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return { p, state: [m, v] };
};

const refRMSprop: RefFn = (o, p0, grads, lrs) => {
  const alpha = (o.alpha as number) ?? 0.99, eps = 1e-8, wd = (o.weightDecay as number) ?? 0, mom = (o.momentum as number) ?? 0;
  const p = [...p0], sq = zeros(p.length), gAve = zeros(p.length), buf = zeros(p.length);
  grads.forEach((gr, s) => {
    const lr = lrs[s];
    for (let i = 0; i < p.length; i++) {
      const g = gr[i] + wd * p[i];
      sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
      let vTilde = sq[i];
      if (o.centered) { gAve[i] = alpha * gAve[i] + (1 - alpha) * g; vTilde = vTilde - gAve[i] * gAve[i]; }
      if (mom > 0) { buf[i] = mom * buf[i] + g / (Math.sqrt(vTilde) + eps); p[i] = p[i] - lr * buf[i]; }
      else p[i] = p[i] - (lr * g) / (Math.sqrt(vTilde) + eps);
    }
  });
  return { p, state: [sq, ...(o.centered ? [gAve] : []), ...(mom > 0 ? [buf] : [])] };
};

const refAdagrad: RefFn = (o, p0, grads, lrs) => {
  const decay = (o.lrDecay as number) ?? 0, wd = (o.weightDecay as number) ?? 0, eps = 1e-10;
  const p = [...p0], sum = new Array<number>(p.length).fill((o.initialAccumulatorValue as number) ?? 0);
  grads.forEach((gr, s) => {
    const t = s + 1, lrT = lrs[s] / (1 + (t - 1) * decay);
    for (let i = 0; i < p.length; i++) {
      const g = gr[i] + wd * p[i];
      sum[i] = sum[i] + g * g;
      p[i] = p[i] - (lrT * g) / (Math.sqrt(sum[i]) + eps);
    }
  });
  return { p, state: [sum] };
};

const refAdadelta: RefFn = (o, p0, grads, lrs) => {
  const rho = (o.rho as number) ?? 0.9, eps = 1e-6, wd = (o.weightDecay as number) ?? 0;
  const p = [...p0], v = zeros(p.length), u = zeros(p.length);
  grads.forEach((gr, s) => {
    for (let i = 0; i < p.length; i++) {
      const g = gr[i] + wd * p[i];
      v[i] = rho * v[i] + (1 - rho) * g * g;
      const dx = (Math.sqrt(u[i] + eps) / Math.sqrt(v[i] + eps)) * g;
      u[i] = rho * u[i] + (1 - rho) * dx * dx;
      p[i] = p[i] - lrs[s] * dx;
    }
  });
  return { p, state: [v, u] };
};

/** Every optimizer with the configurations under test: each switch of the shader, weight decay on and off. */
const CASES: { name: string; o: Opts; ref: RefFn }[] = [
  { name: 'adam', o: { lr: 0.1 }, ref: refAdam(false) },
  { name: 'adam', o: { lr: 0.1, weightDecay: 0.1, beta1: 0.8, beta2: 0.9 }, ref: refAdam(false) },
  { name: 'adamw', o: { lr: 0.1 }, ref: refAdam(true) },
  { name: 'adamw', o: { lr: 0.1, weightDecay: 0.1 }, ref: refAdam(true) },
  { name: 'nadam', o: { lr: 0.1, weightDecay: 0.1 }, ref: refNAdam },
  { name: 'nadam', o: { lr: 0.1, weightDecay: 0.1, decoupledWeightDecay: true }, ref: refNAdam },
  { name: 'rmsprop', o: { lr: 0.01, alpha: 0.9, weightDecay: 0.1 }, ref: refRMSprop },
  { name: 'rmsprop', o: { lr: 0.01, alpha: 0.9, momentum: 0.9 }, ref: refRMSprop },
  { name: 'rmsprop', o: { lr: 0.01, alpha: 0.9, centered: true }, ref: refRMSprop },
  { name: 'rmsprop', o: { lr: 0.01, alpha: 0.9, momentum: 0.9, centered: true, weightDecay: 0.1 }, ref: refRMSprop },
  { name: 'adagrad', o: { lr: 0.1 }, ref: refAdagrad },
  { name: 'adagrad', o: { lr: 0.1, lrDecay: 0.1, initialAccumulatorValue: 0.1, weightDecay: 0.1 }, ref: refAdagrad },
  { name: 'adadelta', o: { lr: 1 }, ref: refAdadelta },
  { name: 'adadelta', o: { lr: 0.5, rho: 0.8, weightDecay: 0.1 }, ref: refAdadelta },
];
const label = (c: { name: string; o: Opts }) => `${c.name} ${JSON.stringify(c.o)}`;

describe('optimizers against the documented algorithms', () => {
  const p0 = [1, -2, 0.5];
  const grads = [[0.5, 0.25, -1], [-1, 2, 0.125], [0.3, -0.7, 2]];
  for (const c of CASES) {
    it(`${label(c)}: 3 steps, lr halved at the third`, async () => {
      const lrs = [c.o.lr as number, c.o.lr as number, (c.o.lr as number) / 2];
      const want = c.ref(c.o, p0, grads, lrs);
      for (const be of [new CpuBackend(), gpu] as Backend[]) {
        const got = await run(be, c.name, c.o, Float32Array.from(p0), grads.map((g) => Float32Array.from(g)), lrs);
        expect(got.state.length).toBe(want.state.length);
        // float32 storage against a float64 reference over 3 steps: a few ulps of values of order 1.
        assertClose(got.p, want.p, { atol: 1e-6, rtol: 1e-5, what: `${be.name} ${label(c)} parameter` });
        got.state.forEach((s, k) => assertClose(s, want.state[k], { atol: 1e-6, rtol: 1e-5, what: `${be.name} ${label(c)} ${got.names[k]}` }));
      }
    });
  }

  it('state slots carry PyTorch-like names per parameter', async () => {
    const p = new Variable(new Float32Array(2), [2], 'w');
    const opt = makeOptimizer('rmsprop', { momentum: 0.5, centered: true });
    opt.updates([p], [input([2])]);
    expect(opt.state().map((v) => v.name)).toEqual(['w.square_avg', 'w.grad_avg', 'w.momentum_buffer']);
    expect(opt.config()).toMatchObject({ kind: 'rmsprop', lr: 0.01, momentum: 0.5, centered: true });
  });
});

describe('optimizers: CPU vs WebGPU', () => {
  for (const n of [1, 7, 257, 70001]) {
    for (const c of CASES) {
      it(`${label(c)}, n=${n}: 4 steps, lr changed after the second`, async () => {
        const p0 = randn(n, 7);
        const grads = [1, 2, 3, 4].map((s) => randn(n, 50 + s));
        const lr = c.o.lr as number, lrs = [lr, lr, lr * 0.3, lr * 0.3];
        const cpu = await run(new CpuBackend(), c.name, c.o, p0, grads, lrs);
        const wg = await run(gpu, c.name, c.o, p0, grads, lrs);
        // The same arithmetic per element, in the same order; the CPU keeps float64 between loads and stores, the
        // GPU may fuse multiply-adds and its sqrt and division may be off by 2.5 ulps. A value that is a sum of
        // terms that cancel (RMSprop's momentum buffer adds g/√v terms of order 3) keeps the terms' absolute error,
        // so atol is 1e-6 of the largest magnitude in the array, rtol ~100 ulps.
        const close = (a: Float32Array, e: Float32Array, what: string) => assertClose(a, e, { atol: 1e-6 * Math.max(1, maxAbs(e)), rtol: 1e-5, what: `${label(c)} ${what}` });
        close(wg.p, cpu.p, 'parameter');
        wg.state.forEach((s, k) => close(s, cpu.state[k], wg.names[k]));
        expect(Array.from(wg.p).some((x, i) => x !== p0[i])).toBe(true);
      });
    }
  }

  it('a new learning rate and step number reach the kernel without a new pipeline', async () => {
    const p = new Variable(Float32Array.from([1]), [1], 'p');
    const g = input([1], 'f32', 'g');
    const opt = makeOptimizer('adam', { lr: 0.5 });
    const ex = gpu.compile([], opt.updates([p], [g]));
    const pipelines = gpu.stats.pipelines;
    const feeds = new Map<Tensor, Float32Array>([[g, Float32Array.from([2])]]);
    opt.beginStep!(1); ex.run(feeds);
    opt.lr = 0.25; opt.beginStep!(2); ex.run(feeds);
    // A constant gradient keeps Adam's bias-corrected step at exactly lr: 1 - 0.5 - 0.25.
    expect((await gpu.readVariable(p))[0]).toBeCloseTo(0.25, 5);
    expect(gpu.stats.pipelines).toBe(pipelines);
    ex.dispose();
  });
});

describe('optimizers: errors', () => {
  it('names the op, the shapes and what was expected', () => {
    const p = new Variable(new Float32Array(6), [2, 3], 'w');
    const s = [Variable.zeros([2, 3]).tensor, Variable.zeros([3, 2]).tensor];
    expect(() => optimStep(p.tensor, input([2, 3]), s, { rule: 'adam', coefs: () => ({ beta1: 0, beta1c: 1, beta2: 0, beta2c: 1, eps: 0, sqrtBc2: 1, l2: 0, decay: 1, gradCoef: 0, momCoef: 0 }) }))
      .toThrow(/optimStep\(adam\).*exp_avg_sq \[3, ?2\] does not match parameter \[2, ?3\]/);
    expect(() => optimStep(p.tensor, input([2, 3]), s.slice(0, 1), { rule: 'adadelta', coefs: () => ({ lr: 1, rho: 0.9, rhoc: 0.1, eps: 1e-6, l2: 0 }) }))
      .toThrow(/optimStep\(adadelta\): got 1 state slots, expected 2 \(square_avg, acc_delta\)/);
    expect(() => makeOptimizer('adamax')).toThrow(/unknown optimizer 'adamax' \(expected one of sgd, adam/);
    expect(() => makeOptimizer('adam', { momentum: 0.9 })).toThrow(/adam has no option 'momentum'/);
    expect(() => makeOptimizer('adam', { beta2: 1 })).toThrow(/adam: beta2 must be in \[0, 1\), got 1/);
    expect(() => clipGradNorm([input([2])], 0)).toThrow(/clipGradNorm.*maxNorm must be a finite number > 0, got 0/);
  });
});

describe('clipGradNorm', () => {
  it('scales every gradient by min(1, maxNorm / (norm + 1e-6)), computed by hand', async () => {
    const a = input([2], 'f32', 'a'), b = input([1], 'f32', 'b');
    const feeds = new Map<Tensor, Float32Array>([[a, Float32Array.from([3, 4])], [b, Float32Array.from([12])]]);
    // Global norm sqrt(9 + 16 + 144) = 13.
    const scale = 6.5 / (13 + 1e-6);
    for (const [maxNorm, want] of [[6.5, [3 * scale, 4 * scale, 12 * scale]], [100, [3, 4, 12]]] as const) {
      const r = await runBoth(clipGradNorm([a, b], maxNorm), feeds, gpu);
      for (const side of [r.cpu, r.gpu]) assertClose([...side[0], ...side[1]], want, { atol: 1e-6, rtol: 1e-6, what: `clip to ${maxNorm}` });
    }
  });

  it('CPU and WebGPU agree over gradients of sizes 1, 7, 257 and 70001', async () => {
    const sizes = [1, 7, 257, 70001];
    const gs = sizes.map((n, i) => input([n], 'f32', `g${i}`));
    const feeds = new Map<Tensor, Float32Array>(gs.map((g, i) => [g, randn(g.size, 30 + i)]));
    const raw = Math.sqrt([...feeds.values()].reduce((s, x) => s + x.reduce((t, v) => t + v * v, 0), 0));
    // One bound below the norm (about 267: clips) and one above it (leaves the gradients alone).
    for (const maxNorm of [10, 1000]) {
      const r = await runBoth(clipGradNorm(gs, maxNorm), feeds, gpu);
      // A 70k-term float32 sum on the GPU against float64 on the CPU: relative error well under 1e-5.
      r.gpu.forEach((x, i) => assertClose(x, r.cpu[i], { atol: 1e-6, rtol: 1e-5, what: `clip to ${maxNorm}, gradient ${i}` }));
      const norm = Math.sqrt(r.cpu.reduce((s, x) => s + Array.from(x).reduce((t, v) => t + v * v, 0), 0));
      expect(norm / Math.min(maxNorm, raw)).toBeCloseTo(1, 5);
    }
  });

  it("the trainer's clipNorm bounds each step: one SGD step moves the parameters by lr·maxNorm", async () => {
    const B = 16, F = 8, C = 3;
    const x = randn(B * F, 3, 5), y = Int32Array.from({ length: B }, (_, i) => i % C);
    for (const be of [new CpuBackend(), gpu] as Backend[]) {
      const model = new Linear(F, C, { rng: new Rng(4) });
      const before = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
      const trainer = new ClassifierTrainer(be, model, makeOptimizer('sgd', { lr: 2, momentum: 0 }), [F]);
      trainer.clipNorm = 0.01;
      trainer.trainStep(x, y, B);
      const after = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
      let sq = 0;
      after.forEach((a, k) => a.forEach((v, i) => { sq += (v - before[k][i]) ** 2; }));
      // The raw gradient of inputs scaled by 5 is far above 0.01, so the step is exactly lr·maxNorm long.
      expect(Math.sqrt(sq)).toBeCloseTo(2 * 0.01, 4);
      trainer.dispose();
    }
  });
});

describe('wgtrain train --optimizer', () => {
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });

  for (const backend of ['webgpu', 'cpu']) {
    it(`adam learns MNIST from 2000 images on ${backend}`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'wgtrain-')), 'run.json');
      const r = spawnSync(process.execPath, ['bin/wgtrain.js', 'train', '--optimizer', 'adam', '--limit', '2000', '--backend', backend, '--clip-norm', '5', '--json', out], { encoding: 'utf8', timeout: 300_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/adam lr 0\.001/);
      const s = JSON.parse(readFileSync(out, 'utf8'));
      expect(s.optimizer).toBe('adam');
      // Chance is 10%; 2000 images and one epoch of Adam reach about 85%.
      expect(s.testAccuracy).toBeGreaterThan(0.75);
    });
  }

  it('bad optimizer flags are one-line usage errors', () => {
    for (const [args, msg] of [
      [['--optimizer', 'adamax'], /--optimizer must be one of sgd, adam, adamw, rmsprop, adagrad, adadelta, nadam, got 'adamax'/],
      [['--optimizer', 'adam', '--momentum', '0.9'], /--momentum applies to sgd and rmsprop, not adam/],
      [['--clip-norm', '0'], /--clip-norm must be a number > 0, got '0'/],
      [['--weight-decay=-1'], /--weight-decay must be a number >= 0, got '-1'/],
    ] as const) {
      const r = spawnSync(process.execPath, ['bin/wgtrain.js', 'train', ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });
});
