// Fuzzing against the reference: a seed draws a small random graph of registered ops (elementwise with broadcasting,
// matmul with transposes, reductions, softmax (masked too) and log-softmax, the losses, embedding, top-k, reshape/transpose/broadcast, concat, slice
// and pad, conv2d and pooling, batch norm, dropout, and each composite's own generator), random shapes with odd
// sizes, and random inputs. Its forward value y and the gradients of L = sum(y · R) (R a fixed random tensor) with
// respect to every float input then run on a GPU backend and on the CPU reference, and must agree within
// checkParity's tolerance plus the reference's own rounding noise (see FUZZ_NOISE_FACTOR). The same seed always
// builds the same case, so its seed reproduces a failure.
//
// Inputs are drawn where each op is well conditioned: log and sqrt read softplus(x) + 0.5, a divisor is at least 0.2
// from 0, exp reads 2·tanh(x), matmul and conv weights are scaled by 1/sqrt(fan-in) so values stay O(1), and batch
// norm normalises at least 4 values per channel (fewer can have a near-zero variance that amplifies rounding).
import { Tensor, input } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import * as act from '../graph/activations.js';
import * as conv from '../graph/conv.js';
import { concat, slice, pad } from '../graph/shape_ops.js';
import { batchNormTrain, dropout } from '../graph/norm.js';
import { randn } from '../graph/random.js';
import * as seq from '../graph/attention.js';
import { COMPOSITES } from '../graph/composite_ops.js';
import type { FuzzDraw } from '../graph/composite.js';
import { ShapeError, fmt, sizeOf, broadcastShapes } from '../graph/shape.js';
import { grad } from '../autodiff/grad.js';
import { Rng } from '../util/rng.js';
import type { Backend } from '../backends/backend.js';
import type { Feeds } from '../schedule/plan.js';
import { CpuBackend } from '../backends/cpu/cpu_backend.js';
import { longestReductions, PARITY_ATOL, PARITY_ATOL_PER_SQRT_K, PARITY_RTOL } from './parity.js';

/** Scales checkParity's atol and rtol for fuzzed graphs (1: the same rule as `wgtrain check`). */
export const FUZZ_TOLERANCE = 1;
/** Largest tensor a fuzzed graph makes: keeps a case to milliseconds on the CPU reference. */
const MAX_ELEMENTS = 3000;
const DIMS = [1, 2, 3, 5, 7, 9, 13, 17];

export type Domain = { kind: 'normal'; scale: number } | { kind: 'away' } | { kind: 'unit' } | { kind: 'labels'; classes: number };

export interface FuzzCase {
  seed: number;
  /** The graph in one line, op by op, with shapes. */
  description: string;
  /** Op names drawn, in order (for coverage counts). */
  ops: string[];
  y: Tensor;
  /** y, then dL/dx for each float input. */
  outputs: Tensor[];
  feeds: Feeds;
  /** The command that rebuilds this case, when it is not `wgtrain fuzz --seed N` (the large-kernel tier's). */
  repro?: string;
}

export const reproCommand = (seed: number) => `npx wgtrain fuzz --seed ${seed} --cases 1`;

class Builder implements FuzzDraw {
  readonly rng: Rng;
  readonly inputs: { t: Tensor; domain: Domain }[] = [];
  readonly steps: string[] = [];
  readonly ops: string[] = [];
  /** Earlier values, which a binary op may combine with the current one (so graphs branch and rejoin). */
  readonly seen: Tensor[] = [];
  /** Which pass over the generators this seed's forced first op is in (see `fuzzCase`); set while that op is made. */
  round: number | undefined;
  constructor(seed: number) { this.rng = new Rng(seed); }

  int(lo: number, hi: number): number { return lo + this.rng.int(hi - lo + 1); }
  pick<T>(xs: readonly T[]): T { return xs[this.rng.int(xs.length)]; }
  chance(p: number): boolean { return this.rng.next() < p; }
  /**
   * One of k variants of an op: for the forced first op it steps with the pass over the generators, so consecutive
   * passes draw every variant (each graph op a variant brings is then covered by construction, not by chance).
   */
  variant(k: number): number { return this.round === undefined ? this.rng.int(k) : this.round % k; }
  dim(max = 17): number { return this.pick(DIMS.filter((d) => d <= max)); }

  fresh(shape: number[], domain: Domain | number = { kind: 'normal', scale: 1 }): Tensor {
    if (typeof domain === 'number') domain = { kind: 'normal', scale: domain };
    const t = input(shape, domain.kind === 'labels' ? 'i32' : 'f32', `x${this.inputs.length}`);
    this.inputs.push({ t, domain });
    return t;
  }
  /** A shape that broadcasts against `s`: a suffix of it, some dims set to 1. */
  broadcastable(s: readonly number[]): number[] {
    const keep = s.slice(this.int(0, s.length));
    return keep.map((d) => (this.chance(0.3) ? 1 : d));
  }
}

const describe = (t: Tensor) => `${t.name ?? t.op}${fmt(t.shape)}`;

interface OpGen { name: string; ok: (x: Tensor) => boolean; make: (b: Builder, x: Tensor) => Tensor }

const last = (x: Tensor) => x.shape[x.rank - 1];
const positive = (x: Tensor) => ops.add(act.softplus(x), 0.5);
const any = () => true;

function permutation(b: Builder, n: number): number[] {
  const p = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) { const j = b.rng.int(i + 1); [p[i], p[j]] = [p[j], p[i]]; }
  return p;
}

/** Split n into `parts` factors at random (each prime factor goes to a random part). */
function factorShape(b: Builder, n: number, parts: number): number[] {
  const out = new Array<number>(parts).fill(1);
  for (let p = 2, m = n; m > 1; p++) while (m % p === 0) { out[b.rng.int(parts)] *= p; m /= p; }
  return out;
}

const UNARY_GENS: OpGen[] = [
  ['neg', ops.neg], ['relu', ops.relu], ['sigmoid', ops.sigmoid], ['tanh', ops.tanh], ['abs', act.abs],
  ['softplus', act.softplus], ['gelu', act.gelu], ['step', act.step],
].map(([name, f]) => ({ name: name as string, ok: any, make: (_b, x) => (f as (x: Tensor) => Tensor)(x) }));

const OP_GENS: OpGen[] = [
  ...UNARY_GENS,
  { name: 'leakyRelu', ok: any, make: (b, x) => act.leakyRelu(x, b.pick([0.01, 0.2])) },
  { name: 'elu', ok: any, make: (b, x) => act.elu(x, b.pick([1, 0.5])) },
  { name: 'exp', ok: any, make: (_b, x) => ops.exp(ops.mul(ops.tanh(x), 2)) },
  { name: 'log', ok: any, make: (_b, x) => ops.log(positive(x)) },
  { name: 'sqrt', ok: any, make: (_b, x) => act.sqrt(positive(x)) },
  ...(['add', 'sub', 'mul'] as const).map((name): OpGen => ({
    name, ok: any,
    make: (b, x) => {
      // The other operand: an earlier value that broadcasts with x, else a fresh input of a broadcastable shape.
      const earlier = b.seen.filter((t) => t !== x && t.dtype === 'f32' && broadcasts(t.shape, x.shape) && sizeOf(broadcastShapes(name, t.shape, x.shape)) <= MAX_ELEMENTS);
      const other = earlier.length && b.chance(0.4) ? b.pick(earlier) : b.fresh(b.broadcastable(x.shape));
      return b.chance(0.5) ? ops[name](x, other) : ops[name](other, x);
    },
  })),
  {
    name: 'div', ok: any,
    make: (b, x) => b.chance(0.6) ? ops.div(x, b.fresh(b.broadcastable(x.shape), { kind: 'away' })) : ops.div(b.fresh(b.broadcastable(x.shape)), positive(x)),
  },
  { name: 'scalar', ok: any, make: (b, x) => b.pick([ops.add, ops.mul, ops.sub])(x, b.pick([-1.5, 0.5, 3])) },
  {
    name: 'matmul', ok: (x) => x.rank === 2 || x.rank === 3,
    make: (b, x) => {
      const r = x.rank, transA = b.chance(0.5), transB = b.chance(0.5), batch = r === 3 ? [x.shape[0]] : [];
      const N = b.dim();
      if (b.chance(0.7)) { // x on the left: op(x) is [M,K]
        const K = transA ? x.shape[r - 2] : x.shape[r - 1];
        const w = b.fresh([...batch, ...(transB ? [N, K] : [K, N])], { kind: 'normal', scale: 1 / Math.sqrt(K) });
        return ops.matmul(x, w, { transA, transB });
      }
      const K = transB ? x.shape[r - 1] : x.shape[r - 2]; // x on the right: op(x) is [K,N']
      const w = b.fresh([...batch, ...(transA ? [K, N] : [N, K])], { kind: 'normal', scale: 1 / Math.sqrt(K) });
      return ops.matmul(w, x, { transA, transB });
    },
  },
  ...(['sum', 'mean'] as const).map((name): OpGen => ({
    name, ok: (x) => x.rank >= 1,
    make: (b, x) => {
      const axes = [...Array(x.rank).keys()].filter(() => b.chance(0.5));
      return ops[name](x, axes.length ? axes : undefined, b.chance(0.5));
    },
  })),
  { name: 'logSoftmax', ok: (x) => x.rank >= 1, make: (_b, x) => act.logSoftmax(x) },
  { name: 'softmax', ok: (x) => x.rank >= 1, make: (_b, x) => ops.exp(act.logSoftmax(x)) },
  {
    name: 'softmaxCrossEntropy', ok: (x) => x.rank === 2,
    make: (b, x) => {
      const labels = b.fresh([x.shape[0]], { kind: 'labels', classes: x.shape[1] });
      return b.chance(0.5) ? ops.softmaxCrossEntropyRows(x, labels) : ops.softmaxCrossEntropy(x, labels);
    },
  },
  { name: 'maxout', ok: (x) => x.rank >= 1 && (last(x) % 2 === 0 || last(x) % 3 === 0), make: (_b, x) => act.maxout(x, last(x) % 2 === 0 ? 2 : 3) },
  { name: 'prelu', ok: any, make: (b, x) => act.prelu(x, b.fresh([x.rank >= 2 && b.chance(0.7) ? x.shape[1] : 1], { kind: 'normal', scale: 0.3 })) },
  {
    name: 'loss', ok: any,
    make: (b, x) => {
      const which = b.pick(['bce', 'mae', 'huber', 'mse'] as const);
      if (which === 'bce') return act.bceWithLogits(x, b.fresh([...x.shape], { kind: 'unit' }));
      const t = b.fresh([...x.shape]);
      return which === 'mae' ? act.mae(x, t) : which === 'huber' ? act.huber(x, t, b.pick([0.5, 1])) : ops.mse(x, t);
    },
  },
  { name: 'reshape', ok: (x) => x.size > 1, make: (b, x) => ops.reshape(x, factorShape(b, x.size, b.int(1, 4))) },
  { name: 'transpose', ok: (x) => x.rank >= 2, make: (b, x) => ops.transpose(x, b.chance(0.5) ? undefined : permutation(b, x.rank)) },
  {
    name: 'broadcastTo', ok: (x) => x.size * 3 <= MAX_ELEMENTS && x.rank < 4,
    make: (b, x) => ops.broadcastTo(x, [b.pick([2, 3]), ...x.shape.map((d) => (d === 1 ? b.dim(5) : d))]),
  },
  {
    name: 'concat', ok: (x) => x.rank >= 1 && x.size * 3 <= MAX_ELEMENTS,
    make: (b, x) => {
      const axis = b.int(0, x.rank - 1);
      const parts = [x, ...Array.from({ length: b.int(1, 2) }, () => b.fresh(x.shape.map((d, i) => (i === axis ? b.dim(5) : d))))];
      return concat(permutation(b, parts.length).map((i) => parts[i]), axis);
    },
  },
  {
    name: 'slice', ok: (x) => x.shape.some((d) => d > 1),
    make: (b, x) => {
      const begin = x.shape.map((d) => b.int(0, d - 1));
      return slice(x, begin, x.shape.map((d, i) => (b.chance(0.3) ? -1 : b.int(1, d - begin[i]))));
    },
  },
  {
    name: 'pad', ok: (x) => x.rank >= 1 && x.size * 9 <= MAX_ELEMENTS,
    make: (b, x) => pad(x, x.shape.map((): [number, number] => [b.int(0, 2), b.int(0, 2)])),
  },
  {
    name: 'conv2d', ok: (x) => x.rank === 4,
    make: (b, x) => {
      const C = x.shape[1], O = b.int(1, 4), kh = b.int(1, 3), kw = b.int(1, 3);
      const w = b.fresh([O, C, kh, kw], { kind: 'normal', scale: 1 / Math.sqrt(C * kh * kw) });
      return conv.conv2d(x, w, { stride: [b.int(1, 2), b.int(1, 2)], padding: [b.int(0, 1), b.int(0, 1)], dilation: b.pick([1, 1, 2]) }, b.chance(0.5) ? b.fresh([O]) : undefined);
    },
  },
  {
    name: 'pool', ok: (x) => x.rank === 4,
    make: (b, x) => {
      const k = b.int(2, 3), o = { stride: b.int(1, 3), padding: b.int(0, Math.floor(k / 2)) };
      return b.chance(0.5) ? conv.maxPool2d(x, k, o) : conv.avgPool2d(x, k, { ...o, countIncludePad: b.chance(0.5) });
    },
  },
  {
    name: 'batchNorm', ok: (x) => (x.rank === 2 || x.rank === 4) && x.size / x.shape[1] >= 4,
    make: (b, x) => batchNormTrain(x, b.fresh([x.shape[1]]), b.fresh([x.shape[1]])).y,
  },
  { name: 'dropout', ok: any, make: (b, x) => dropout(x, b.pick([0.2, 0.5]), b.int(0, 1000), { step: b.int(0, 50) }) },
  { name: 'randn', ok: any, make: (b, x) => ops.mul(x, randn([...x.shape], b.int(0, 1000), { step: b.int(0, 50) })) },
  // x as the table: ids drawn from [0, rows), repeats likely, so the gradient accumulates.
  { name: 'embedding', ok: (x) => x.rank === 2, make: (b, x) => seq.embedding(b.fresh([b.dim(9), b.dim(5)], { kind: 'labels', classes: x.shape[0] }), x) },
  // Indices of a fresh input (exact on both backends, so no near-tie flips a pick) pick rows of x.
  {
    name: 'topk', ok: (x) => x.rank === 2,
    make: (b, x) => seq.embedding(seq.topk(b.fresh([b.dim(9), x.shape[0]]), b.int(1, Math.min(3, x.shape[0]))), x),
  },
  {
    name: 'maskedSoftmax', ok: (x) => x.rank >= 2 && x.shape[x.rank - 2] <= last(x),
    make: (b, x) => seq.softmax(x, { causal: b.chance(0.5), lengths: b.chance(0.5) ? b.fresh([x.shape[0]], { kind: 'labels', classes: last(x) + 1 }) : undefined }),
  },
  {
    name: 'sequenceCrossEntropy', ok: (x) => x.rank === 3,
    make: (b, x) => seq.sequenceCrossEntropy(x, b.fresh([x.shape[0], x.shape[1]], { kind: 'labels', classes: last(x) }), { ignoreIndex: b.variant(2) === 0 ? 0 : undefined }),
  },
  {
    name: 'toImage', ok: (x) => x.rank !== 4 && x.size >= 9, // turn a vector-shaped value into NCHW so conv/pool can follow
    make: (b, x) => { const [n, c, h, w] = factorShape(b, x.size, 4); return ops.reshape(x, [n, c, h, w]); },
  },
  { name: 'flatten', ok: (x) => x.rank >= 3, make: (_b, x) => ops.reshape(x, [x.shape[0], x.size / x.shape[0]]) },
  // Composite ops bring their own generators (graph/composite_ops.ts).
  ...COMPOSITES.map((c): OpGen => ({ name: c.name, ok: c.fuzz.ok, make: c.fuzz.make })),
];

function broadcasts(a: readonly number[], b: readonly number[]): boolean {
  try { broadcastShapes('fuzz', a, b); return true; } catch { return false; }
}

const IMAGE_GENS = OP_GENS.filter((g) => ['conv2d', 'pool', 'batchNorm'].includes(g.name));

/** The names `fuzzCase` draws ops from. */
export const FUZZ_OPS = OP_GENS.map((g) => g.name);

function startValue(b: Builder): Tensor {
  const start = b.pick(['matrix', 'matrix', 'image', 'vector', 'batch'] as const);
  return start === 'image' ? b.fresh([b.int(1, 3), b.int(1, 3), b.int(3, 9), b.int(3, 9)])
    : start === 'vector' ? b.fresh([b.dim()])
      : start === 'batch' ? b.fresh([b.int(2, 3), b.dim(), b.dim()])
        : b.fresh([b.dim(33), b.dim(33)]);
}

/** The case a seed builds: deterministic, so a seed alone reproduces a failure. */
export function fuzzCase(seed: number): FuzzCase {
  const b = new Builder(seed);
  // The first op cycles through the generators with the seed, so every OP_GENS.length consecutive seeds draw every op
  // however many ops there are; the start value is redrawn until that op accepts it. The rest of the graph is random.
  const n = OP_GENS.length, first = OP_GENS[((seed % n) + n) % n];
  let x = startValue(b);
  for (let tries = 0; !first.ok(x) && tries < 20; tries++) { b.inputs.length = 0; x = startValue(b); }
  b.steps.push(describe(x));
  const depth = b.int(2, 6);
  let forced = first.ok(x) ? first : undefined;
  for (let tries = 0; b.ops.length < depth && tries < 50; tries++) {
    // Images would mostly leave through flatten before meeting a conv: draw the image ops half the time.
    const g = forced ?? (x.rank === 4 && b.chance(0.5) ? b.pick(IMAGE_GENS) : b.pick(OP_GENS));
    b.round = forced && Math.floor(seed / n);
    forced = undefined;
    if (!g.ok(x)) continue;
    const before = b.inputs.length;
    let y: Tensor;
    try {
      y = g.make(b, x);
    } catch (e) {
      // A draw the op rejects (a window larger than the image, say): drop its fresh inputs and draw again.
      if (!(e instanceof ShapeError)) throw e;
      b.inputs.length = before;
      continue;
    } finally {
      b.round = undefined;
    }
    if (y === x || y.size > MAX_ELEMENTS) { b.inputs.length = before; continue; }
    const extra = b.inputs.slice(before).filter((i) => i.t.dtype === 'f32').map((i) => describe(i.t));
    b.steps.push(`${g.name}${extra.length ? `(${extra.join(', ')})` : ''} -> ${fmt(y.shape)}`);
    b.ops.push(g.name);
    b.seen.push(x);
    x = y;
  }
  const R = input(x.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(x, R));
  const wrt = b.inputs.filter((i) => i.t.dtype === 'f32').map((i) => i.t);
  const outputs = [x, ...grad(L, wrt)];

  // Values come from their own stream, so the graph a seed draws does not depend on how many values it needs.
  const vr = new Rng(seed ^ 0x5bd1e995);
  const feeds: Feeds = new Map();
  for (const { t, domain } of b.inputs) feeds.set(t, values(vr, t.size, domain));
  feeds.set(R, values(vr, R.size, { kind: 'normal', scale: 1 }));
  return { seed, description: b.steps.join(' -> '), ops: b.ops, y: x, outputs, feeds };
}

export function values(r: Rng, n: number, d: Domain): Float32Array | Int32Array {
  if (d.kind === 'labels') return Int32Array.from({ length: n }, () => r.int(d.classes));
  return Float32Array.from({ length: n }, () => {
    if (d.kind === 'normal') return r.normal() * d.scale;
    if (d.kind === 'unit') return r.next();
    return (r.next() < 0.5 ? -1 : 1) * (0.2 + 1.3 * r.next()); // away from 0: a divisor
  });
}

/**
 * How far rounding alone moves each output, measured: the reference is rerun twice with every input and every
 * kernel's every output element scaled by 1 ± 2^-21 (a few float32 ulps, what a GPU's rounding and its looser
 * transcendentals do to each intermediate), and the spread is taken, times this factor. Some values are ill-conditioned
 * however the inputs are drawn: a gradient that is exactly 0 (a normalisation's gradient with respect to a shift of
 * its input) comes out as a cancellation of O(1) terms, and tanh's gradient 1 - y² from a saturated y keeps few
 * correct bits. No rule on |cpu| bounds those; this measures them. A wrong kernel is off by O(1), far above it.
 */
export const FUZZ_NOISE_FACTOR = 4;
const NUDGE = 2 ** -21;

export interface FuzzResult { seed: number; ok: boolean; description: string; ops: string[]; outputs: number; message?: string }

async function runAll(be: Backend, outputs: readonly Tensor[], feedsList: Feeds[]): Promise<(Float32Array | Int32Array)[][]> {
  const ex = be.compile(outputs);
  try {
    const all = [];
    for (const feeds of feedsList) {
      ex.run(feeds);
      all.push(await Promise.all(outputs.map((t) => ex.read(t))));
    }
    return all;
  } finally {
    ex.dispose();
  }
}

function nudge(r: Rng, a: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] *= 1 + (r.next() < 0.5 ? -NUDGE : NUDGE);
  return a;
}

/** One run of the reference with every input and every kernel output nudged (see FUZZ_NOISE_FACTOR). */
async function nudgedRun(ref: CpuBackend, outputs: readonly Tensor[], feeds: Feeds, seed: number): Promise<(Float32Array | Int32Array)[]> {
  const r = new Rng(seed);
  // A backend of its own running `ref`'s kernels, each nudging what it wrote.
  const noisy = new CpuBackend({ kernels: (op) => { const k = ref.kernelFor(op); return (n, ins, out) => { k(n, ins, out); nudge(r, out); }; } });
  const ex = noisy.compile(outputs);
  ex.run(new Map([...feeds].map(([t, v]) => [t, v instanceof Float32Array ? nudge(r, v.slice()) : v])));
  const got = await Promise.all(outputs.map((t) => ex.read(t)));
  ex.dispose();
  return got;
}

/**
 * Run one case on `gpu` and the CPU reference and compare y and every gradient, per element:
 *   |gpu - cpu| <= (atol + rtol·|cpu|)·FUZZ_TOLERANCE + FUZZ_NOISE_FACTOR·noise,
 * atol, rtol: checkParity's rule (K the longest reduction behind the output), noise: the reference's own spread when
 * its inputs and intermediates are nudged. `message` names the seed, the output, the worst element, the graph and the command to reproduce.
 */
export async function runFuzzCase(seed: number, gpu: Backend, cpu: CpuBackend = new CpuBackend(), build: (seed: number) => FuzzCase = fuzzCase): Promise<FuzzResult> {
  const c = build(seed);
  const [ref] = await runAll(cpu, c.outputs, [c.feeds]);
  const alts = [await nudgedRun(cpu, c.outputs, c.feeds, seed + 1), await nudgedRun(cpu, c.outputs, c.feeds, seed + 2)];
  const [got] = await runAll(gpu, c.outputs, [c.feeds]);
  const kEff = longestReductions(c.outputs);

  for (let i = 0; i < c.outputs.length; i++) {
    const t = c.outputs[i], want = ref[i], have = got[i], K = kEff.get(t)!;
    let scale = 0;
    for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    const atol = (PARITY_ATOL + (K > 1 ? PARITY_ATOL_PER_SQRT_K * Math.sqrt(K) * scale : 0)) * FUZZ_TOLERANCE, rtol = PARITY_RTOL * FUZZ_TOLERANCE;
    let worst = -1, worstRatio = 1, bad = 0, noiseAt = 0;
    for (let j = 0; j < want.length; j++) {
      const g = have[j], w = want[j];
      if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
      const noise = Math.max(...alts.map((a) => Math.abs(a[i][j] - w)));
      const err = Math.abs(g - w), tol = atol + rtol * Math.abs(w) + FUZZ_NOISE_FACTOR * (Number.isNaN(noise) ? 0 : noise);
      const ratio = Number.isNaN(err) ? Infinity : err / tol;
      if (ratio > 1) { bad++; if (ratio > worstRatio || worst < 0) { worst = j; worstRatio = ratio; noiseAt = noise; } }
    }
    if (bad) {
      const what = i === 0 ? `forward ${t}` : `gradient of L with respect to ${c.outputs.length > 1 ? gradName(c, i) : ''} (${t})`;
      const message = `fuzz seed ${seed}: ${what} differs between ${gpu.description} and the CPU reference in ${bad} of ${want.length} ` +
        `elements; worst at index ${worst}: gpu ${have[worst]} vs cpu ${want[worst]}, ${worstRatio.toFixed(2)}x its tolerance ` +
        `(atol ${atol.toExponential(2)}, rtol ${rtol}, K ${K}, rounding noise ${noiseAt.toExponential(2)}); graph: ${c.description}; reproduce: ${c.repro ?? reproCommand(seed)}`;
      return { seed, ok: false, description: c.description, ops: c.ops, outputs: c.outputs.length, message };
    }
  }
  return { seed, ok: true, description: c.description, ops: c.ops, outputs: c.outputs.length };
}

const gradName = (c: FuzzCase, i: number) => [...c.feeds.keys()].filter((t) => t.dtype === 'f32' && t.name !== 'R')[i - 1]?.name ?? `input ${i}`;
