// Activations and losses: shape errors, gradients against central finite differences (CPU), CPU-vs-WebGPU parity
// forward and backward on odd sizes, and the behaviour at the edges (maxout ties, |x| at 0, extreme logits).
//
// Every case builds y = f(xs) and L = sum(y · R) for a fixed random R, as in test/gradcheck.test.ts and
// test/parity.test.ts, whose tolerances these are:
//   gradcheck: eps 1e-2, |analytic - numeric| <= 2e-3 + 1e-2·|numeric|; inputs are kept >= 0.2 from kinks
//     (relu-like ops at 0, |d| at 0 and at Huber's delta, maxout groups whose entries are 0.1 apart).
//   parity: |gpu - cpu| <= atol + rtol·|cpu|, rtol 1e-5 (2e-5 for ops that call exp, log, tanh or divide),
//     atol = 1e-6 + 1e-6·sqrt(K)·max|cpu|, K the number of terms summed into an output element: the row length for
//     log-softmax forward and backward, the element count for a loss (a mean), the number of elements sharing a PReLU
//     slope for its gradient, 1 for every pointwise value and for maxout (a comparison: exact).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import * as act from '../src/graph/activations.js';
import { ShapeError } from '../src/graph/shape.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Feeds } from '../src/schedule/plan.js';
import { Sequential, Linear } from '../src/nn/module.js';
import { LeakyReLU, PReLU, ELU, Softplus, GELU, Maxout, LogSoftmax } from '../src/nn/activations.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, maxAbs, mulberry32, randn, randu, randAway, runOn, finiteDifferenceCheck, weightedSum, type Gen } from './helpers.js';

interface Case {
  name: string;
  args: { shape: number[]; gen?: Gen }[];
  f: (...xs: Tensor[]) => Tensor;
  /** Parity: reduction length of [forward, each gradient]; 1 for all when absent. */
  k?: (y: Tensor, xs: Tensor[]) => number[];
  transcendental?: boolean;
}

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

const scaled = (s: number): Gen => (n, seed) => randn(n, seed, s);
const uniform = (lo: number, hi: number): Gen => (n, seed) => randu(n, seed, lo, hi);
const away: Gen = (n, seed) => randAway(n, seed, 0.2, 1.5);
/** Distinct values 0.1 apart in random order: no maxout group has two entries within 2·eps of each other. */
const spread: Gen = (n, seed) => {
  const r = mulberry32(seed), v = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [v[i], v[j]] = [v[j], v[i]]; }
  return v;
};
/** |x| in [0.1, 0.8]·delta or [1.2, 2.5]·delta, random signs: Huber's kinks at ±delta are >= 0.2·delta away. */
const huberish = (delta: number): Gen => (n, seed) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * delta * (r() < 0.5 ? 0.1 + 0.7 * r() : 1.2 + 1.3 * r()));
};
const tiny = uniform(-0.02, 0.02); // targets for mae/huber: d = pred - target stays clear of the kinks

const build = weightedSum;

// ---- shape errors ----

describe('activations and losses: bad input is a ShapeError naming the op and the shapes', () => {
  const i32 = input([3, 4], 'i32');
  const cases: [string, () => unknown, RegExp][] = [
    ['leakyRelu of an int tensor', () => act.leakyRelu(i32), /^leakyRelu: expected a float32 tensor, got i32 \[3,4\]/],
    ['leakyRelu with alpha NaN', () => act.leakyRelu(input([3, 4]), NaN), /^leakyRelu: alpha must be a finite number, got NaN \(input \[3,4\]\)/],
    ['elu of an int tensor', () => act.elu(i32), /^elu: expected a float32 tensor, got i32 \[3,4\]/],
    ['elu with alpha Infinity', () => act.elu(input([2]), Infinity), /^elu: alpha must be a finite number, got Infinity \(input \[2\]\)/],
    ['softplus of an int tensor', () => act.softplus(i32), /^softplus: expected a float32 tensor, got i32 \[3,4\]/],
    ['gelu of an int tensor', () => act.gelu(i32), /^gelu: expected a float32 tensor, got i32 \[3,4\]/],
    ['prelu slope of the wrong length', () => act.prelu(input([2, 3, 5, 5]), input([5])), /^prelu: slope \[5\] does not fit input \[2,3,5,5\] \(expected \[3\], one slope per channel of dim 1, or \[1\]\)/],
    ['prelu slope of rank 2', () => act.prelu(input([2, 3]), input([1, 3])), /^prelu: slope \[1,3\] does not fit input \[2,3\]/],
    ['maxout: last dim not a multiple of k', () => act.maxout(input([4, 10]), 3), /^maxout: the last dimension 10 of input \[4,10\] is not a multiple of k = 3 \(expected \[\.\.\., C·3\]\)/],
    ['maxout: k = 0', () => act.maxout(input([4, 10]), 0), /^maxout: k must be a positive integer, got 0 \(input \[4,10\]\)/],
    ['maxout of a scalar', () => act.maxout(input([]), 1), /^maxout: expected a tensor of rank >= 1 .*got a scalar \[\]/],
    ['logSoftmax of a scalar', () => act.logSoftmax(input([])), /^logSoftmax: expected a tensor of rank >= 1 .*got a scalar \[\]/],
    ['logSoftmax of an int tensor', () => act.logSoftmax(i32), /^logSoftmax: expected a float32 tensor, got i32 \[3,4\]/],
    ['bceWithLogits shapes differ', () => act.bceWithLogits(input([4, 3]), input([4])), /^bceWithLogits: logits \[4,3\] and targets \[4\] differ \(expected the same shape\)/],
    ['mae shapes differ', () => act.mae(input([4, 3]), input([3, 4])), /^mae: prediction \[4,3\] and target \[3,4\] differ/],
    ['huber shapes differ', () => act.huber(input([4, 3]), input([4, 1])), /^huber: prediction \[4,3\] and target \[4,1\] differ/],
    ['huber delta 0', () => act.huber(input([4, 3]), input([4, 3]), 0), /^huber: delta must be a finite number > 0, got 0 \(prediction \[4,3\]\)/],
    ['sqrt of an int tensor', () => act.sqrt(i32), /^sqrt: expected a float32 tensor, got i32 \[3,4\]/],
    ['abs of an int tensor', () => act.abs(i32), /^abs: expected a float32 tensor, got i32 \[3,4\]/],
    ['exp of an int tensor', () => act.exp(i32), /^exp: expected a float32 tensor, got i32 \[3,4\]/],
    ['log of an int tensor', () => act.log(i32), /^log: expected a float32 tensor, got i32 \[3,4\]/],
    ['PReLU module on an input with other channels', () => new PReLU(3).forward(input([2, 4])), /^prelu: slope \[3\] does not fit input \[2,4\]/],
  ];
  for (const [name, f, msg] of cases) {
    it(name, () => {
      expect(f).toThrowError(msg);
      expect(f).toThrowError(ShapeError);
    });
  }
});

// ---- gradient checks ----

async function gradcheck(c: Case, seed: number): Promise<void> {
  const { xs, L, grads, feeds } = build(c, seed);
  grads.forEach((g, i) => expect(g.shape).toEqual(xs[i].shape));
  await finiteDifferenceCheck(cpu, { wrt: xs, L, grads, feeds }, { name: c.name });
}

describe('activations and losses: gradients vs central finite differences (CPU, eps 1e-2, atol 2e-3, rtol 1e-2)', () => {
  const withZeros: Gen = (n, seed) => { const v = randAway(n, seed); for (let i = 0; i < n; i += 3) v[i] = 0; return v; };
  const cases: Case[] = [
    { name: 'leakyRelu alpha 0.1 [3,4]', args: [{ shape: [3, 4], gen: away }], f: (x) => act.leakyRelu(x, 0.1) },
    { name: 'leakyRelu alpha -0.5 [5]', args: [{ shape: [5], gen: away }], f: (x) => act.leakyRelu(x, -0.5) },
    { name: 'elu alpha 1 [3,4]', args: [{ shape: [3, 4], gen: away }], f: (x) => act.elu(x) },
    { name: 'elu alpha 0.5 [2,3,2]', args: [{ shape: [2, 3, 2], gen: scaled(2) }], f: (x) => act.elu(x, 0.5) },
    { name: 'softplus [3,4]', args: [{ shape: [3, 4], gen: scaled(3) }], f: act.softplus },
    { name: 'gelu [3,4]', args: [{ shape: [3, 4], gen: scaled(2) }], f: act.gelu },
    { name: 'prelu x [3,4] slope [4]', args: [{ shape: [3, 4], gen: away }, { shape: [4] }], f: act.prelu },
    { name: 'prelu x [2,3,2,2] slope [3] (NCHW)', args: [{ shape: [2, 3, 2, 2], gen: away }, { shape: [3] }], f: act.prelu },
    { name: 'prelu x [2,3] slope [1] (shared)', args: [{ shape: [2, 3], gen: away }, { shape: [1] }], f: act.prelu },
    { name: 'prelu x [5] slope [1] (rank 1)', args: [{ shape: [5], gen: away }, { shape: [1] }], f: act.prelu },
    { name: 'maxout [3,6] k 3', args: [{ shape: [3, 6], gen: spread }], f: (x) => act.maxout(x, 3) },
    { name: 'maxout [2,2,4] k 2', args: [{ shape: [2, 2, 4], gen: spread }], f: (x) => act.maxout(x, 2) },
    { name: 'maxout [2,5] k 5 and k 1', args: [{ shape: [2, 5], gen: spread }], f: (x) => ops.add(act.maxout(x, 5), ops.sum(act.maxout(x, 1), 1, true)) },
    { name: 'logSoftmax [3,5]', args: [{ shape: [3, 5], gen: scaled(2) }], f: act.logSoftmax },
    { name: 'logSoftmax [2,3,4]', args: [{ shape: [2, 3, 4] }], f: act.logSoftmax },
    { name: 'logSoftmax [4,1] (one class: constant 0)', args: [{ shape: [4, 1] }], f: act.logSoftmax },
    { name: 'bceWithLogits [3,4] (logits and targets)', args: [{ shape: [3, 4], gen: scaled(2) }, { shape: [3, 4], gen: uniform(0, 1) }], f: act.bceWithLogits },
    { name: 'mae [3,4]', args: [{ shape: [3, 4], gen: away }, { shape: [3, 4], gen: tiny }], f: act.mae },
    { name: 'huber delta 1 [3,4]', args: [{ shape: [3, 4], gen: huberish(1) }, { shape: [3, 4], gen: tiny }], f: (p, t) => act.huber(p, t) },
    { name: 'huber delta 0.5 [4,3]', args: [{ shape: [4, 3], gen: huberish(0.5) }, { shape: [4, 3], gen: tiny }], f: (p, t) => act.huber(p, t, 0.5) },
    { name: 'exp [5]', args: [{ shape: [5] }], f: act.exp },
    { name: 'log [5] (x in [0.5, 2))', args: [{ shape: [5], gen: uniform(0.5, 2) }], f: act.log },
    { name: 'sqrt [5] (x in [0.5, 2))', args: [{ shape: [5], gen: uniform(0.5, 2) }], f: act.sqrt },
    // At x = 0 the central difference of |x| is exactly 0, the subgradient the abs_grad kernel gives.
    { name: 'abs [3,3] with exact zeros', args: [{ shape: [3, 3], gen: withZeros }], f: act.abs },
    {
      // prelu reads x directly, which is kept away from its kink; everything after it is smooth.
      name: 'composite: bceWithLogits(gelu(prelu(x, a)·W)·V, t)',
      args: [{ shape: [4, 3], gen: away }, { shape: [3], gen: uniform(0.1, 0.4) }, { shape: [3, 5] }, { shape: [5, 2] }, { shape: [4, 2], gen: uniform(0, 1) }],
      f: (x, a, w, v, t) => act.bceWithLogits(ops.matmul(act.gelu(ops.matmul(act.prelu(x, a), w)), v), t),
    },
  ];
  cases.forEach((c, i) => it(c.name, async () => { await gradcheck(c, 3000 + 19 * i); }));
});

// ---- parity ----

const stats: string[] = []; // ACT_STATS=1 prints the fraction of its tolerance each parity output used
afterAll(() => { if (process.env.ACT_STATS) console.log(stats.sort((a, b) => parseFloat(b) - parseFloat(a)).slice(0, 25).join('\n')); });

async function parity(c: Case, seed: number): Promise<void> {
  const { xs, y, grads, feeds } = build(c, seed);
  const outputs = [y, ...grads];
  const ks = c.k ? c.k(y, xs) : outputs.map(() => 1);
  expect(ks.length).toBe(outputs.length);
  const want = await runOn(cpu, outputs, feeds);
  const got = await runOn(gpu, outputs, feeds);
  outputs.forEach((t, i) => {
    want[i].forEach((v, j) => expect(Number.isFinite(v), `${c.name}: cpu output ${i} element ${j} is ${v}`).toBe(true));
    const atol = 1e-6 + (ks[i] > 1 ? 1e-6 * Math.sqrt(ks[i]) * maxAbs(want[i]) : 0);
    const rtol = c.transcendental ? 2e-5 : 1e-5;
    if (process.env.ACT_STATS) {
      let m = 0;
      for (let j = 0; j < want[i].length; j++) m = Math.max(m, Math.abs(got[i][j] - want[i][j]) / (atol + rtol * Math.abs(want[i][j])));
      stats.push(`${m.toExponential(2)} ${c.name} output ${i}`);
    }
    assertClose(got[i], want[i], { atol, rtol, what: `${c.name}: ${i ? `d L / d x${i - 1}` : 'forward'} ${JSON.stringify(t.shape)} (K=${ks[i]}), webgpu vs cpu` });
  });
}

describe('activations and losses: WebGPU vs CPU reference, forward and backward', () => {
  const wide = uniform(-50, 50); // exp(50) is 5e21: only the stable forms stay finite and exact here
  const cases: Case[] = [];
  const pointwise: [string, (x: Tensor) => Tensor, boolean][] = [
    ['leakyRelu alpha 0.1', (x) => act.leakyRelu(x, 0.1), false],
    ['elu alpha 1', (x) => act.elu(x), true],
    ['elu alpha 0.3', (x) => act.elu(x, 0.3), true],
    ['softplus', act.softplus, true],
    ['gelu', act.gelu, true],
  ];
  for (const [name, f, transcendental] of pointwise) {
    cases.push({ name: `${name} [257,33]`, args: [{ shape: [257, 33], gen: scaled(3) }], f, transcendental });
    cases.push({ name: `${name} [7,1,33] of x in [-50, 50]`, args: [{ shape: [7, 1, 33], gen: wide }], f, transcendental });
    cases.push({ name: `${name} [1]`, args: [{ shape: [1] }], f, transcendental });
  }
  // The slope's gradient sums the elements that share it: x.size / C of them.
  const preluK = (y: Tensor, [, a]: Tensor[]) => [1, 1, y.size / a.size];
  cases.push(
    { name: 'prelu x [257,33] slope [33]', args: [{ shape: [257, 33] }, { shape: [33] }], f: act.prelu, k: preluK },
    { name: 'prelu x [7,33,7] slope [33] (channels on dim 1)', args: [{ shape: [7, 33, 7] }, { shape: [33] }], f: act.prelu, k: preluK },
    { name: 'prelu x [257,33] slope [1] (shared)', args: [{ shape: [257, 33] }, { shape: [1] }], f: act.prelu, k: preluK },
    { name: 'prelu x [1,7] slope [7]', args: [{ shape: [1, 7] }, { shape: [7] }], f: act.prelu, k: preluK },
  );
  for (const [shape, k] of [[[257, 99], 3], [[7, 7], 7], [[1, 257], 1], [[33, 7, 66], 2]] as [number[], number][]) {
    cases.push({ name: `maxout [${shape}] k ${k}`, args: [{ shape }], f: (x) => act.maxout(x, k) });
  }
  const rowK = (y: Tensor) => { const C = y.shape[y.rank - 1]; return [C, C]; };
  for (const shape of [[257, 33], [7, 257], [1, 7], [33, 1], [7, 33, 7]]) {
    cases.push({ name: `logSoftmax [${shape}]`, args: [{ shape, gen: scaled(3) }], f: act.logSoftmax, k: rowK, transcendental: true });
  }
  cases.push({ name: 'logSoftmax [33,7] logits in [-50, 50]', args: [{ shape: [33, 7], gen: wide }], f: act.logSoftmax, k: rowK, transcendental: true });
  // Losses: the forward is a mean over every element (K = size); the gradients are pointwise.
  const lossK = (_: Tensor, [x]: Tensor[]) => [x.size, 1, 1];
  cases.push(
    { name: 'bceWithLogits [257,33]', args: [{ shape: [257, 33], gen: scaled(3) }, { shape: [257, 33], gen: uniform(0, 1) }], f: act.bceWithLogits, k: lossK, transcendental: true },
    { name: 'bceWithLogits [7,33] logits in [-50, 50]', args: [{ shape: [7, 33], gen: wide }, { shape: [7, 33], gen: uniform(0, 1) }], f: act.bceWithLogits, k: lossK, transcendental: true },
    { name: 'bceWithLogits [1]', args: [{ shape: [1] }, { shape: [1], gen: uniform(0, 1) }], f: act.bceWithLogits, k: lossK, transcendental: true },
    { name: 'mae [257,33]', args: [{ shape: [257, 33] }, { shape: [257, 33] }], f: act.mae, k: lossK },
    { name: 'mae [7]', args: [{ shape: [7] }, { shape: [7] }], f: act.mae, k: lossK },
    { name: 'huber delta 1 [257,33]', args: [{ shape: [257, 33], gen: scaled(2) }, { shape: [257, 33] }], f: (p, t) => act.huber(p, t), k: lossK },
    { name: 'huber delta 0.1 [33,7]', args: [{ shape: [33, 7] }, { shape: [33, 7] }], f: (p, t) => act.huber(p, t, 0.1), k: lossK },
    { name: 'exp [33] via activations.exp', args: [{ shape: [33], gen: scaled(3) }], f: act.exp, transcendental: true },
    { name: 'log [33] via activations.log', args: [{ shape: [33], gen: uniform(1e-3, 100) }], f: act.log, transcendental: true },
    { name: 'sqrt [33] via activations.sqrt', args: [{ shape: [33], gen: uniform(1e-3, 100) }], f: act.sqrt, transcendental: true },
    { name: 'abs [257] via activations.abs', args: [{ shape: [257] }], f: act.abs },
  );
  cases.forEach((c, i) => it(c.name, async () => { await parity(c, 6000 + 23 * i); }));
});

// ---- edge behaviour, on both backends ----

describe('activations and losses: edges, on CPU and WebGPU', () => {
  const both = async (outputs: Tensor[], feeds: Feeds) => [await runOn(cpu, outputs, feeds), await runOn(gpu, outputs, feeds)];

  it('maxout: on ties the value is the max and the whole gradient goes to the first of the tied entries', async () => {
    const x = input([2, 6]), y = act.maxout(x, 3);
    const dy = input([2, 2]);
    const [gx] = grad(ops.sum(ops.mul(y, dy)), [x]);
    const feeds: Feeds = new Map([[x, new Float32Array([1, 3, 3, -2, -2, -2, 5, 0, 5, 7, 7, 1])], [dy, new Float32Array([10, 20, 30, 40])]]);
    for (const [yv, gv] of await both([y, gx], feeds)) {
      expect(Array.from(yv)).toEqual([3, -2, 5, 7]);
      expect(Array.from(gv)).toEqual([0, 10, 0, 20, 0, 0, 30, 0, 0, 40, 0, 0]);
    }
  });

  it('abs and mae: the gradient at 0 is 0 (sign(0)), not NaN', async () => {
    const p = input([4]), t = input([4]);
    const [gp, gt] = grad(act.mae(p, t), [p, t]);
    const feeds: Feeds = new Map([[p, new Float32Array([1, 2, -3, 0.5])], [t, new Float32Array([1, 1, 0, 0.5])]]);
    for (const [gpv, gtv] of await both([gp, gt], feeds)) {
      const plain = (a: ArrayLike<number>) => Array.from(a, (v) => v + 0); // -0 + 0 is 0: the sign of a zero is moot
      expect(plain(gpv)).toEqual([0, 0.25, -0.25, 0]);
      expect(plain(gtv)).toEqual([0, -0.25, 0.25, 0]);
    }
  });

  it('softplus, bceWithLogits and logSoftmax stay finite and exact at |x| = 1e4; gelu matches tabulated values', async () => {
    const x = input([4]), t = input([4]);
    const outs = [act.softplus(x), ops.binary('bce_logits', x, t), act.logSoftmax(x), act.gelu(x)];
    const feeds: Feeds = new Map([[x, new Float32Array([-1e4, 1e4, 0, 1])], [t, new Float32Array([1, 0, 0.5, 1])]]);
    const ln2 = Math.LN2, sp1 = Math.log1p(Math.E); // softplus(1)
    for (const [sp, bce, ls, ge] of await both(outs, feeds)) {
      assertClose(sp, [0, 1e4, ln2, sp1], { rtol: 2e-5, what: 'softplus' });
      assertClose(bce, [1e4, 1e4, ln2, sp1 - 1], { rtol: 2e-5, what: 'bce with logits' });
      assertClose(ls, [-2e4, 0, -1e4, 1 - 1e4], { rtol: 1e-6, what: 'logSoftmax' });
      // The tanh approximation: gelu(0) = 0, gelu(1) = 0.841192, gelu(1e4) = 1e4, gelu(-1e4) = -0.
      assertClose(ge, [0, 1e4, 0, 0.8411920], { atol: 1e-6, rtol: 1e-6, what: 'gelu' });
    }
  });
});

// ---- modules ----

describe('activation modules', () => {
  it('PReLU owns a slope Variable (init 0.25) that SGD trains identically on both backends', async () => {
    const rng = new Rng(3);
    const prelu = new PReLU(7);
    const net = new Sequential(new Linear(5, 7, { rng }), prelu, new Linear(7, 3, { rng }));
    expect(prelu.parameters()).toEqual([prelu.slope]);
    expect(Array.from(prelu.slope.init)).toEqual(new Array(7).fill(0.25));
    expect(net.parameters()).toContain(prelu.slope);

    const x = input([33, 5]), t = input([33, 3]);
    const loss = act.huber(net.forward(x), t);
    const params = net.parameters();
    const grads = grad(loss, params.map((p) => p.tensor));
    const feeds: Feeds = new Map([[x, randn(33 * 5, 1)], [t, randn(33 * 3, 2)]]);
    const slopes = [];
    for (const be of [new CpuBackend(), gpu]) {
      const step = be.compile([loss], new SGD({ lr: 0.5 }).updates(params, grads));
      for (let i = 0; i < 3; i++) step.run(feeds);
      step.dispose();
      slopes.push(await be.readVariable(prelu.slope));
    }
    expect(maxAbs(slopes[0].map((s) => s - 0.25))).toBeGreaterThan(1e-4); // the slope moved
    assertClose(slopes[1], slopes[0], { atol: 1e-5, rtol: 1e-4, what: 'PReLU slope after 3 SGD steps, webgpu vs cpu' });
  });

  it('LeakyReLU, ELU, Softplus, GELU, Maxout and LogSoftmax apply their ops', async () => {
    const x = input([3, 6]);
    const mods = [new LeakyReLU(0.2), new ELU(0.5), Softplus(), GELU(), new Maxout(2), LogSoftmax()];
    const refs = [act.leakyRelu(x, 0.2), act.elu(x, 0.5), act.softplus(x), act.gelu(x), act.maxout(x, 2), act.logSoftmax(x)];
    const feeds: Feeds = new Map([[x, randn(18, 5)]]);
    const got = await runOn(cpu, mods.map((m) => m.forward(x)), feeds);
    const want = await runOn(cpu, refs, feeds);
    mods.forEach((m, i) => {
      expect(m.parameters()).toEqual([]);
      expect(Array.from(got[i])).toEqual(Array.from(want[i]));
    });
    expect(mods[4].forward(x).shape).toEqual([3, 3]);
  });
});
