// Autotuning on the device: every GEMM candidate and both conv algorithms agree with the CPU reference on odd sizes
// (the tuner may pick any of them), a tuned plan agrees with the rules' plan, and with tuning off nothing is measured.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { input, type Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { conv2d } from '../src/graph/conv.js';
import { grad } from '../src/autodiff/grad.js';
import { WebGpuBackend, CpuBackend } from '../src/backends/index.js';
import { GEMM_CANDIDATES, gemmVariantName } from '../src/backends/webgpu/gemm_variants.js';
import { Autotuner, clearAutotuneMemory, convKey, gemmKey } from '../src/schedule/autotune.js';
import { convShapeOf, CONV_ALGORITHMS } from '../src/schedule/conv_algorithm.js';
import { formatTune } from '../src/cli/tune.js';
import { regionOf } from '../src/graph/composite.js';
import type { Feeds } from '../src/schedule/plan.js';
import { randn, runOn, assertClose } from './helpers.js';

let be: WebGpuBackend, tiled: WebGpuBackend;
const cpu = new CpuBackend();
beforeAll(async () => { be = await WebGpuBackend.create({ autotune: false }); tiled = await WebGpuBackend.create({ autotune: false, gemm: 'tiled' }); });
afterAll(() => { be?.dispose(); tiled?.dispose(); });
afterEach(() => { for (const b of [be, tiled]) { b.tuner.pinned.clear(); b.tuner.used.clear(); } clearAutotuneMemory(); });

const feedsFor = (ts: Tensor[], seed: number): Feeds => new Map(ts.map((t, i) => [t, randn(t.size, seed + i, 0.5)]));

/** A small conv net's training gradients: conv (stride 2, odd sizes) + bias + relu, a second conv, a dense layer. */
function convNet() {
  const x = input([3, 2, 11, 9]), w1 = input([5, 2, 3, 3]), b1 = input([5]), w2 = input([4, 5, 3, 2]), wd = input([4 * 6 * 4, 7]);
  const h = ops.relu(conv2d(x, w1, { stride: 2, padding: 1 }, b1));
  const h2 = conv2d(h, w2, { padding: [1, 0] });
  const y = ops.matmul(ops.reshape(h2, [3, 4 * 6 * 4]), wd);
  const loss = ops.sum(ops.mul(y, y));
  const wrt = [x, w1, b1, w2, wd];
  return { outputs: [y, ...grad(loss, wrt)], feeds: feedsFor(wrt, 7), convs: [h.inputs[0], h2] };
}

describe('autotune candidates (webgpu)', () => {
  it('runs every GEMM candidate of both families correctly: odd sizes, transposes, a batch, an epilogue', async () => {
    const cases = [
      { M: 37, N: 70, K: 67, transA: false, transB: false, batch: 1 },
      { M: 65, N: 129, K: 66, transA: true, transB: false, batch: 1 },
      { M: 70, N: 67, K: 131, transA: false, transB: true, batch: 1 },
      { M: 17, N: 9, K: 65, transA: true, transB: true, batch: 3 },
    ];
    for (const [i, c] of cases.entries()) {
      const ashape = c.transA ? [c.K, c.M] : [c.M, c.K], bshape = c.transB ? [c.N, c.K] : [c.K, c.N];
      const b3 = (s: number[]) => (c.batch > 1 ? [c.batch, ...s] : s);
      const a = input(b3(ashape)), b = input(b3(bshape)), bias = input([c.N]);
      const m = ops.matmul(a, b, c);
      const out = c.batch > 1 ? m : ops.relu(ops.add(m, bias)); // 2-D: the bias and ReLU ride as the GEMM's epilogue
      const feeds = feedsFor(c.batch > 1 ? [a, b] : [a, b, bias], 3);
      const [want] = await runOn(cpu, [out], feeds);
      const key = gemmKey({ ...c, dtype: 'f32' });
      // The subgroup family where the adapter has 8-lane subgroups (lavapipe); the tiled one on every adapter, on the
      // first and last case (its pipelines are slow to compile on lavapipe: both transposes, the epilogue and a batch).
      const families = be.gemmFamily === 'subgroup' ? [be] : [];
      if (i === 0 || i === cases.length - 1 || be.gemmFamily !== 'subgroup') families.push(tiled);
      for (const b of families) {
        for (const { variant } of GEMM_CANDIDATES[b.gemmFamily as 'subgroup' | 'tiled']) {
          const name = gemmVariantName(variant);
          b.tuner.pinned.clear();
          b.tuner.pin({ [key]: name });
          const [got] = await runOn(b, [out], feeds);
          assertClose(got, want, { atol: 1e-4, rtol: 1e-4, what: `${name} on ${JSON.stringify(c)}` });
          expect(b.tuner.used.get(key)).toEqual({ choice: name, source: 'recorded' });
        }
      }
    }
  });

  it('runs both conv algorithms for every pass correctly (strided, padded, odd sizes)', async () => {
    const { outputs, feeds, convs } = convNet();
    const want = await runOn(cpu, outputs, feeds);
    const keys = convs.flatMap((c) => (['forward', 'dx', 'dw'] as const).map((pass) => convKey(pass, convShapeOf(regionOf(c)!), 'f32')));
    for (const alg of CONV_ALGORITHMS) {
      be.tuner.pinned.clear();
      be.tuner.pin(Object.fromEntries(keys.map((k) => [k, alg])));
      const got = await runOn(be, outputs, feeds);
      got.forEach((g, i) => assertClose(g, want[i], { atol: 1e-3, rtol: 1e-3, what: `${alg}, output ${i}` }));
      // the first conv's input gradient (x is a feed) and the second's are both in the graph
      for (const k of keys) expect(be.tuner.used.get(k)).toEqual({ choice: alg, source: 'recorded' });
    }
  });
});

describe('autotune (webgpu)', () => {
  it('measures each conv pass and GEMM class once, and the tuned plan agrees with the rules\' plan', async () => {
    const tuned = await WebGpuBackend.create({ autotune: true });
    try {
      const { outputs, feeds } = convNet();
      const rows = await tuned.tune(outputs);
      expect(rows.some((r) => r.key.startsWith('conv dx'))).toBe(true);
      expect(rows.some((r) => r.key.startsWith('gemm'))).toBe(true);
      for (const r of rows) {
        expect(Object.keys(r.candidates).length).toBeGreaterThan(1);
        expect(Object.keys(r.candidates)).toContain(r.winner);
        expect(r.source).toBe('tuned');
      }
      const again = await tuned.tune(outputs); // cached: same winners, nothing measured anew
      expect(again.map((r) => [r.key, r.winner])).toEqual(rows.map((r) => [r.key, r.winner]));
      for (const r of again) expect(r).toMatchObject({ source: 'tuned', now: false });
      expect(formatTune(again, 'x', 'y', 0)).toMatch(/\| cache \|$/m);
      const got = await runOn(tuned, outputs, feeds);
      for (const r of rows) expect(tuned.tuner.used.get(r.key)).toEqual({ choice: r.winner, source: 'tuned' });
      const rules = await runOn(be, outputs, feeds);
      got.forEach((g, i) => assertClose(g, rules[i], { atol: 1e-3, rtol: 1e-3, what: `output ${i}` }));
    } finally {
      tuned.dispose();
    }
  });

  it('measures and records nothing when off', async () => {
    const { outputs, feeds } = convNet();
    const rows = await be.tune(outputs);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toMatchObject({ candidates: {}, source: 'rule', winner: r.rule });
    const probe = new Autotuner(be.tuner.adapter, true);
    for (const r of rows) expect(probe.wants(r.key)).toBe(true);
    await runOn(be, outputs, feeds);
    expect(be.tuner.used.size).toBe(0); // a rules-only run records no choices
  });
});
