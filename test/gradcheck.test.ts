// Gradient check of every op's autodiff rule against central finite differences, on the CPU reference backend.
//
// For each case, L = sum(op(inputs) · R) with a fixed random R of the output's shape, so every output element
// weighs in with its own coefficient. The analytic gradient comes from `grad`; the numerical one re-runs the forward
// on the CPU backend with each input element nudged by ±eps (every operand is an `input`, so a nudge is a new feed).
//
// Tolerance. Values are float32, so L carries a relative rounding error of ~1e-7 and a central difference with
// eps = 1e-2 adds a noise of ~1e-7·|L| / 2e-2 ≈ 5e-6·|L| plus a truncation error of eps²/6·|f'''|; both stay well
// below atol 2e-3 + rtol 1e-2·|g| for the small, O(1) data used here. The denominator is the perturbation actually
// represented in float32 (fround(x+eps) - fround(x-eps)), not 2·eps. Kinks (relu, abs at 0) and poles (div, log)
// are kept at least 0.2 away from the evaluation points; eps is 1e-2, so no difference straddles a kink.
import { describe, it, expect } from 'vitest';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import * as seq from '../src/graph/attention.js';
import { grad } from '../src/autodiff/grad.js';
import { topoSort } from '../src/graph/topo.js';
import { COMPOSITES } from '../src/graph/composite_ops.js';
import { step, perceptronLoss } from '../src/graph/activations.js';
import { reparameterize } from '../src/graph/random.js';
import { CpuBackend } from '../src/backends/index.js';
import type { Feeds } from '../src/schedule/plan.js';
import { assertClose, randn, randu, randAway, randInt, runOn } from './helpers.js';

const EPS = 1e-2;
const ATOL = 2e-3;
const RTOL = 1e-2;

type Gen = (n: number, seed: number) => Float32Array;
interface Arg { shape: number[]; gen?: Gen; labels?: number /* classes: an int32 label input, no gradient */ }
interface Case { name: string; args: Arg[]; f: (...xs: Tensor[]) => Tensor }

const normal: Gen = (n, s) => randn(n, s);
const away: Gen = (n, s) => randAway(n, s, 0.2, 1.5); // |x| in [0.2, 1.5): no kink or pole within eps
const positive: Gen = (n, s) => randu(n, s, 0.5, 2); // log and sqrt
const f = (shape: number[], gen: Gen = normal): Arg => ({ shape, gen });

const cpu = new CpuBackend();

async function gradcheck(c: Case, seed: number): Promise<void> {
  const xs = c.args.map((a, i) => input(a.shape, a.labels ? 'i32' : 'f32', `x${i}`));
  const y = c.f(...xs);
  const R = input(y.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(y, R));
  expect(L.size).toBe(1);

  const feeds: Feeds = new Map();
  c.args.forEach((a, i) => {
    const n = xs[i].size;
    feeds.set(xs[i], a.labels ? randInt(n, a.labels, seed + i) : (a.gen ?? normal)(n, seed + i));
  });
  feeds.set(R, randn(y.size, seed + 100));

  const wrt = xs.filter((x) => x.dtype === 'f32');
  const grads = grad(L, wrt);
  grads.forEach((g, i) => expect(g.shape).toEqual(wrt[i].shape));
  const analytic = (await runOn(cpu, grads, feeds)) as Float32Array[];

  const fwd = cpu.compile([L]);
  const lossAt = async () => { fwd.run(feeds); return (await fwd.read(L))[0]; };
  for (let k = 0; k < wrt.length; k++) {
    const x = feeds.get(wrt[k]) as Float32Array;
    const numeric = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const x0 = x[j];
      x[j] = x0 + EPS; const xp = x[j]; const lp = await lossAt();
      x[j] = x0 - EPS; const xm = x[j]; const lm = await lossAt();
      x[j] = x0;
      numeric[j] = (lp - lm) / (xp - xm);
    }
    assertClose(analytic[k], numeric, { atol: ATOL, rtol: RTOL, what: `${c.name}: d L / d ${wrt[k].name} (analytic vs finite difference)` });
  }
  fwd.dispose();
}

// ---- cases ----

const cases: Case[] = [];

// matmul: all four transpose combinations, rank 2 and rank 3 (batched). C = op(A)·op(B) with op(A) [M,K], op(B) [K,N].
{
  const [M, K, N, P] = [3, 5, 4, 2];
  for (const transA of [false, true]) for (const transB of [false, true]) {
    const a = transA ? [K, M] : [M, K], b = transB ? [N, K] : [K, N];
    const tag = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
    cases.push({ name: `matmul ${tag} [${a}]x[${b}]`, args: [f(a), f(b)], f: (x, w) => ops.matmul(x, w, { transA, transB }) });
    cases.push({ name: `matmul batched ${tag} [${P},${a}]x[${P},${b}]`, args: [f([P, ...a]), f([P, ...b])], f: (x, w) => ops.matmul(x, w, { transA, transB }) });
  }
}

// Binary arithmetic with broadcasting both ways.
{
  const binops: [string, (a: Tensor | number, b: Tensor | number) => Tensor][] = [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div]];
  for (const [name, op] of binops) {
    const gen = name === 'div' ? away : normal; // both sides: the reversed case divides by the other operand
    for (const bs of [[3, 4], [4], [3, 1], [1, 4], []]) {
      cases.push({ name: `${name} [3,4] with [${bs}]`, args: [f([3, 4], gen), f(bs, gen)], f: (a, b) => op(a, b) });
      if (bs.length < 2 || bs[0] !== 3 || bs[1] !== 4) {
        cases.push({ name: `${name} [${bs}] with [3,4]`, args: [f(bs, gen), f([3, 4], gen)], f: (a, b) => op(a, b) });
      }
    }
    // Both operands broadcast: [3,1] with [4] -> [3,4]; rank 3 against rank 2.
    cases.push({ name: `${name} [3,1] with [4]`, args: [f([3, 1], gen), f([4], gen)], f: (a, b) => op(a, b) });
    cases.push({ name: `${name} [2,1,4] with [3,1]`, args: [f([2, 1, 4], gen), f([3, 1], gen)], f: (a, b) => op(a, b) });
    // A number on either side (lifted to a constant; only the tensor takes a gradient), and one tensor on both sides.
    cases.push({ name: `${name} [3,4] with the number 1.5`, args: [f([3, 4], gen)], f: (a) => op(a, 1.5) });
    cases.push({ name: `${name} the number 1.5 with [3,4]`, args: [f([3, 4], gen)], f: (a) => op(1.5, a) });
    cases.push({ name: `${name} x with itself`, args: [f([3, 4], gen)], f: (a) => op(a, a) });
  }
}

// Unary elementwise functions.
cases.push(
  { name: 'neg', args: [f([3, 4])], f: ops.neg },
  { name: 'relu (|x| >= 0.2)', args: [f([3, 4], away)], f: ops.relu },
  { name: 'sigmoid', args: [f([3, 4], (n, s) => randn(n, s, 2))], f: ops.sigmoid },
  { name: 'tanh', args: [f([3, 4])], f: ops.tanh },
  { name: 'exp', args: [f([3, 4])], f: ops.exp },
  { name: 'log (x in [0.5, 2))', args: [f([3, 4], positive)], f: ops.log },
  { name: 'sqrt (x in [0.5, 2))', args: [f([3, 4], positive)], f: (x) => ops.unary('sqrt', x) },
  { name: 'abs (|x| >= 0.2)', args: [f([3, 4], away)], f: (x) => ops.unary('abs', x) },
);

// Reductions: single axes, negative axis, several axes, all axes, keepDims both ways.
for (const [name, op] of [['sum', ops.sum], ['mean', ops.mean]] as const) {
  for (const axes of [0, 1, 2, -1, [0, 2], [1, 2], [0, 1, 2], undefined]) {
    for (const keepDims of [false, true]) {
      cases.push({ name: `${name} [2,3,4] axes ${JSON.stringify(axes) ?? 'all'} keepDims ${keepDims}`, args: [f([2, 3, 4])], f: (x) => op(x, axes, keepDims) });
    }
  }
  cases.push({ name: `${name} [5] (rank 1, all)`, args: [f([5])], f: (x) => op(x) });
}

// Views and layout.
cases.push(
  { name: 'reshape [2,3,4] -> [6,4]', args: [f([2, 3, 4])], f: (x) => ops.reshape(x, [6, 4]) },
  { name: 'reshape [2,3,4] -> [4,-1]', args: [f([2, 3, 4])], f: (x) => ops.reshape(x, [4, -1]) },
  { name: 'reshape [2,3,4] -> [24]', args: [f([2, 3, 4])], f: (x) => ops.reshape(x, [24]) },
  { name: 'transpose [3,4] (default)', args: [f([3, 4])], f: (x) => ops.transpose(x) },
  { name: 'transpose [2,3,4] (default: last two)', args: [f([2, 3, 4])], f: (x) => ops.transpose(x) },
  { name: 'transpose [2,3,4] perm [2,0,1]', args: [f([2, 3, 4])], f: (x) => ops.transpose(x, [2, 0, 1]) },
  { name: 'transpose [2,3,4] perm [1,2,0]', args: [f([2, 3, 4])], f: (x) => ops.transpose(x, [1, 2, 0]) },
  { name: 'broadcastTo [4] -> [3,4]', args: [f([4])], f: (x) => ops.broadcastTo(x, [3, 4]) },
  { name: 'broadcastTo [3,1] -> [3,4]', args: [f([3, 1])], f: (x) => ops.broadcastTo(x, [3, 4]) },
  { name: 'broadcastTo [] -> [2,3]', args: [f([])], f: (x) => ops.broadcastTo(x, [2, 3]) },
  { name: 'broadcastTo [3,1] -> [2,3,4]', args: [f([3, 1])], f: (x) => ops.broadcastTo(x, [2, 3, 4]) },
);

// Losses.
cases.push(
  { name: 'softmaxCrossEntropy [5,4] (mean)', args: [f([5, 4], (n, s) => randn(n, s, 2)), { shape: [5], labels: 4 }], f: ops.softmaxCrossEntropy },
  { name: 'softmaxCrossEntropyRows [5,4] (per row)', args: [f([5, 4], (n, s) => randn(n, s, 2)), { shape: [5], labels: 4 }], f: (z, y) => ops.softmaxCrossEntropyRows(z, y) },
  { name: 'softmaxCrossEntropy [6,1] (one class)', args: [f([6, 1]), { shape: [6], labels: 1 }], f: ops.softmaxCrossEntropy },
  { name: 'mse [3,4]', args: [f([3, 4]), f([3, 4])], f: ops.mse },
);

// Sequence-model ops. Ids and lengths are int32 inputs (no gradient); 10 ids over 4 rows repeat, so the embedding's
// gradient accumulates. Lengths are drawn from [0, 5], so some rows see no key (all zeros) and some see all.
{
  const ids = (shape: number[], V: number): Arg => ({ shape, labels: V });
  cases.push(
    { name: 'embedding [2,5] ids into [4,3]', args: [ids([2, 5], 4), f([4, 3])], f: seq.embedding },
    { name: 'softmax [3,5]', args: [f([3, 5])], f: (x) => seq.softmax(x) },
    { name: 'softmax causal [2,4,4]', args: [f([2, 4, 4])], f: (x) => seq.softmax(x, { causal: true }) },
    { name: 'softmax causal [2,3,5] (Tq < Tk)', args: [f([2, 3, 5])], f: (x) => seq.softmax(x, { causal: true }) },
    { name: 'softmax lengths [3,2,5]', args: [f([3, 2, 5]), ids([3], 6)], f: (x, l) => seq.softmax(x, { lengths: l }) },
    { name: 'softmax causal and lengths [3,4,4]', args: [f([3, 4, 4]), ids([3], 5)], f: (x, l) => seq.softmax(x, { causal: true, lengths: l }) },
    { name: 'sequenceCrossEntropy [2,3,5]', args: [f([2, 3, 5]), ids([2, 3], 5)], f: (z, y) => seq.sequenceCrossEntropy(z, y) },
    { name: 'sequenceCrossEntropy [2,3,5] ignoring label 1', args: [f([2, 3, 5]), ids([2, 3], 5)], f: (z, y) => seq.sequenceCrossEntropy(z, y, { ignoreIndex: 1 }) },
  );
}

// A composite: a two-layer MLP's loss, so rules compose (shared inputs, accumulation of several gradient paths).
cases.push({
  // tanh, not relu: with random data some hidden pre-activation sits within eps of relu's kink.
  name: 'composite: softmaxCrossEntropy(tanh(x·W1 + b1)·W2 + b2)',
  args: [f([4, 3]), f([3, 5]), f([5]), f([5, 3]), f([3]), { shape: [4], labels: 3 }],
  f: (x, w1, b1, w2, b2, y) => ops.softmaxCrossEntropy(ops.add(ops.matmul(ops.tanh(ops.add(ops.matmul(x, w1), b1)), w2), b2), y),
});

// The threshold unit (zero gradient away from its step), the perceptron criterion built on it (its gradient is the
// perceptron rule's step(z) - y), and the VAE's reparameterisation through a fixed draw of randn.
cases.push(
  { name: 'step [4,5] (away from 0)', args: [f([4, 5], away)], f: (x) => ops.mul(step(x), x) },
  { name: 'perceptronLoss [6,1]', args: [f([6, 1], away), { shape: [6, 1], gen: (n, s) => Float32Array.from(randu(n, s), (v) => (v > 0 ? 1 : 0)) }], f: perceptronLoss },
  { name: 'reparameterize [3,4]', args: [f([3, 4]), f([3, 4])], f: (mu, lv) => reparameterize(mu, lv, 11, { step: 3 }) },
);

// Composite ops, from the examples each one declares beside itself (src/graph/composite_ops.ts).
for (const c of COMPOSITES) for (const e of c.examples) cases.push({ name: `${e.name} (composite)`, args: e.shapes.map((s) => f(s)), f: e.f });

describe('gradcheck: autodiff vs central finite differences (CPU, float32, eps 1e-2, atol 2e-3, rtol 1e-2)', () => {
  cases.forEach((c, i) => {
    it(c.name, async () => { await gradcheck(c, 1000 + 17 * i); });
  });

  it('a gradient w.r.t. an input the loss does not depend on is zero', async () => {
    const x = input([2, 3], 'f32', 'x'), z = input([4], 'f32', 'z');
    const [gx, gz] = grad(ops.sum(ops.mul(x, x)), [x, z]);
    const [vx, vz] = await runOn(cpu, [gx, gz], new Map([[x, randn(6, 1)], [z, randn(4, 2)]]));
    expect(Array.from(vz)).toEqual([0, 0, 0, 0]);
    expect(vx.length).toBe(6);
  });

  it('the gradient w.r.t. an intermediate used twice is the node its inputs\' gradients come from, not a second sum', () => {
    const x = input([2, 3], 'f32', 'x'), h = ops.tanh(x);
    const [dh, dx] = grad(ops.sum(ops.add(ops.mul(h, h), h)), [h, x]);
    expect(topoSort([dx])).toContain(dh);
  });
});
