// Shared test utilities: seeded random data, a closeness assertion that says where and by how much it failed,
// helpers that run one graph on a backend (or on CPU and WebGPU side by side) and read every output back, and the
// command line's one-line errors.
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import type { Backend } from '../src/backends/backend.js';
import { CpuBackend } from '../src/backends/index.js';
import type { Feeds } from '../src/schedule/plan.js';
import type { SpawnSyncReturns } from 'node:child_process';
import { expect } from 'vitest';

/** mulberry32: a tiny, fast, seedable 32-bit PRNG. Returns floats in [0, 1). Test data only, not for anything else. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` standard normal samples (Box-Muller over mulberry32), as float32. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r(), v = r(); // u in (0, 1]: log(u) is finite
    const m = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** `n` uniform samples in [lo, hi), as float32. */
export function randu(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** Uniform magnitudes in [lo, hi) with random signs: values kept at least `lo` away from 0 (kinks, poles). */
export function randAway(n: number, seed: number, lo = 0.2, hi = 1.5): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r());
  return out;
}

/** `n` integers in [0, hi). */
export function randInt(n: number, hi: number, seed: number): Int32Array {
  const r = mulberry32(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * hi);
  return out;
}

export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

export interface CloseOpts { atol?: number; rtol?: number; what?: string }

/**
 * Elementwise |actual - expected| <= atol + rtol·|expected| (NumPy's allclose). Equal infinities pass, NaN never
 * does. The failure message names the worst element (by how far past its tolerance it is), both values, the
 * tolerance, and how many elements failed.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOpts = {}): void {
  const { atol = 1e-6, rtol = 1e-5, what = 'value' } = opts;
  if (actual.length !== expected.length) {
    throw new Error(`${what}: got ${actual.length} elements, expected ${expected.length}`);
  }
  let worst = -1, worstExcess = 0, bad = 0, maxErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (a === e) continue; // exact, including equal infinities
    const err = Math.abs(a - e);
    const tol = atol + rtol * Math.abs(e);
    if (Number.isFinite(err)) maxErr = Math.max(maxErr, err);
    if (!(err <= tol)) { // NaN-safe: NaN or infinite error fails
      bad++;
      const excess = Number.isNaN(err) ? Infinity : err - tol;
      if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
    }
  }
  if (bad > 0) {
    const a = actual[worst], e = expected[worst];
    throw new Error(
      `${what}: ${bad} of ${actual.length} elements differ; worst at index ${worst}: actual ${a}, expected ${e}, ` +
        `|diff| ${Math.abs(a - e)} > tolerance ${atol + rtol * Math.abs(e)} (atol ${atol}, rtol ${rtol}); max |diff| overall ${maxErr}`,
    );
  }
}

/** Compile `outputs` on `backend`, run once with `feeds`, read every output back, dispose. */
export async function runOn(backend: Backend, outputs: readonly Tensor[], feeds: Feeds): Promise<(Float32Array | Int32Array)[]> {
  const ex = backend.compile(outputs);
  try {
    ex.run(feeds);
    const out: (Float32Array | Int32Array)[] = [];
    for (const t of outputs) out.push(await ex.read(t));
    return out;
  } finally {
    ex.dispose();
  }
}

/** Run the same graph on the CPU reference and on `gpu`, from the same feeds. */
export async function runBoth(
  outputs: readonly Tensor[],
  feeds: Feeds,
  gpu: Backend,
  cpu: Backend = new CpuBackend(),
): Promise<{ cpu: (Float32Array | Int32Array)[]; gpu: (Float32Array | Int32Array)[] }> {
  const c = await runOn(cpu, outputs, feeds);
  const g = await runOn(gpu, outputs, feeds);
  return { cpu: c, gpu: g };
}

/**
 * Central finite differences of the scalar L with respect to each input in `wrt`, on the CPU reference, compared with
 * the analytic gradients `grads` (graph nodes, same order). Each element is nudged by ±eps; the divisor is the
 * difference float32 actually stored, not 2·eps.
 */
export async function finiteDifferenceCheck(
  cpu: Backend, g: { wrt: readonly Tensor[]; L: Tensor; grads: readonly Tensor[]; feeds: Feeds },
  o: { name: string; eps?: number; atol?: number; rtol?: number },
): Promise<void> {
  const eps = o.eps ?? 1e-2;
  const analytic = await runOn(cpu, g.grads, g.feeds);
  const fwd = cpu.compile([g.L]);
  for (let k = 0; k < g.wrt.length; k++) {
    const x = g.feeds.get(g.wrt[k]) as Float32Array, numeric = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const x0 = x[j];
      x[j] = x0 + eps; const xp = x[j]; fwd.run(g.feeds); const lp = (await fwd.read(g.L))[0];
      x[j] = x0 - eps; const xm = x[j]; fwd.run(g.feeds); const lm = (await fwd.read(g.L))[0];
      x[j] = x0;
      numeric[j] = (lp - lm) / (xp - xm);
    }
    assertClose(analytic[k], numeric, { atol: o.atol ?? 2e-3, rtol: o.rtol ?? 1e-2, what: `${o.name}: d L / d x${k} (analytic vs finite difference)` });
  }
  fwd.dispose();
}

/** Test data for one input: n values from a seed. */
export type Gen = (n: number, seed: number) => Float32Array;

/**
 * The graph every op test differentiates: y = f(xs), L = sum(y · R) with a fixed random R (so every output element
 * gets its own weight), and dL/dx for each x. Inputs are fed from their generator (randn by default).
 */
export function weightedSum(c: { args: { shape: number[]; gen?: Gen }[]; f: (...xs: Tensor[]) => Tensor }, seed: number) {
  const xs = c.args.map((a, i) => input(a.shape, 'f32', `x${i}`));
  const y = c.f(...xs);
  const R = input(y.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(y, R));
  const feeds: Feeds = new Map(c.args.map((a, i) => [xs[i], (a.gen ?? randn)(xs[i].size, seed + i)]));
  feeds.set(R, randn(y.size, seed + 100));
  return { xs, y, L, grads: grad(L, xs), feeds };
}

/** Each run of the command line fails with one `wgtrain:` line matching its pattern, exit code 2 and no stack trace. */
export function expectUsageErrors(run: (args: string[]) => SpawnSyncReturns<string>, cases: [string[], RegExp][]): void {
  for (const [args, message] of cases) {
    const r = run(args);
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('wgtrain:'));
    expect(ours, `${args.join(' ')}\n${r.stderr}`).toHaveLength(1);
    expect(ours[0]).toMatch(message);
    expect(r.status, args.join(' ')).toBe(2);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }
}

/** A CSV table of n rows: two well-separated Gaussian-ish blobs per class in 3 features (a, b, c), labels as words in
 * the column 'kind' (red, green, blue): learnable in a few epochs. */
export function blobs(n: number): string {
  const rows = ['a,b,kind,c'];
  let s = 7;
  const r = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    rows.push(`${(k * 3 + r()).toFixed(3)},${(-k * 2 + r()).toFixed(3)},${['red', 'green', 'blue'][k]},${r().toFixed(3)}`);
  }
  return rows.join('\n') + '\n';
}
