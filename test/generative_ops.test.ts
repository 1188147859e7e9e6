// The ops the generative models need, against their definitions: transposed convolution as PyTorch defines it (a
// scatter of each input pixel's weighted kernel) and as conv2d's adjoint; upsampling by PyTorch's index formulas;
// randn's samples on both backends (the same numbers, a standard normal, redrawn per step); the step unit.
// Their gradcheck, parity and fuzz cases run with every op's (composite_ops.ts, gradcheck, parity, fuzz tests).
import { describe, it, expect, beforeAll } from 'vitest';
import { input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { conv2d, convTranspose2d } from '../src/graph/conv.js';
import { upsample2d } from '../src/graph/resample.js';
import { randn as randnOp } from '../src/graph/random.js';
import { dropoutAdvance } from '../src/graph/norm.js';
import { step } from '../src/graph/activations.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import { assertClose, randn, runOn } from './helpers.js';

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });

/** PyTorch's conv_transpose2d, written as its definition: out[n,o,i·s-p+kh·d, j·s-p+kw·d] += x[n,c,i,j]·w[c,o,kh,kw]. */
function convTransposeLoops(x: Float32Array, xs: number[], w: Float32Array, ws: number[], s: number, p: number, d: number, op: number) {
  const [N, C, H, W] = xs, [, O, KH, KW] = ws;
  const OH = (H - 1) * s - 2 * p + d * (KH - 1) + op + 1, OW = (W - 1) * s - 2 * p + d * (KW - 1) + op + 1;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
    const v = x[((n * C + c) * H + i) * W + j];
    for (let o = 0; o < O; o++) for (let a = 0; a < KH; a++) for (let b = 0; b < KW; b++) {
      const y = i * s - p + a * d, z = j * s - p + b * d;
      if (y >= 0 && y < OH && z >= 0 && z < OW) out[((n * O + o) * OH + y) * OW + z] += v * w[((c * O + o) * KH + a) * KW + b];
    }
  }
  return { out, shape: [N, O, OH, OW] };
}

describe('convTranspose2d', () => {
  for (const [s, p, d, op] of [[1, 0, 1, 0], [2, 1, 1, 1], [3, 2, 1, 2], [2, 0, 2, 1]]) {
    it(`matches its definition, stride ${s} padding ${p} dilation ${d} output padding ${op}, on CPU and WebGPU`, async () => {
      const xs = [2, 3, 5, 4], ws = [3, 2, 3, 3];
      const xv = randn(120, 1), wv = randn(54, 2);
      const x = input(xs), w = input(ws);
      const y = convTranspose2d(x, w, { stride: s, padding: p, dilation: d, outputPadding: op });
      const want = convTransposeLoops(xv, xs, wv, ws, s, p, d, op);
      expect(y.shape).toEqual(want.shape);
      for (const be of [cpu, gpu]) {
        const [got] = await runOn(be, [y], new Map([[x, xv], [w, wv]]));
        assertClose(got, want.out, { atol: 1e-5, rtol: 1e-4, what: be.description });
      }
    });
  }

  it('is the adjoint of conv2d: <convT(x, w), y> = <x, conv2d(y, w)>', async () => {
    const x = input([2, 4, 3, 4]), w = input([4, 3, 3, 3]), y = input([2, 3, 6, 8]);
    const o = { stride: 2, padding: 1, outputPadding: 1 };
    const t = convTranspose2d(x, w, o);
    expect(t.shape).toEqual([2, 3, 6, 8]);
    const lhs = ops.sum(ops.mul(t, y)), rhs = ops.sum(ops.mul(x, conv2d(y, w, o)));
    const [a, b] = await runOn(cpu, [lhs, rhs], new Map([[x, randn(96, 3)], [w, randn(108, 4)], [y, randn(288, 5)]]));
    expect(Math.abs(a[0] - b[0])).toBeLessThan(1e-3 * Math.max(1, Math.abs(b[0])));
  });
});

/** PyTorch's upsample, by its index formulas: nearest reads floor(o/scale); bilinear (align_corners=False) interpolates at (o+0.5)/scale-0.5. */
function upsampleLoops(x: Float32Array, [N, C, H, W]: number[], s: number, mode: 'nearest' | 'bilinear'): Float64Array {
  const OH = H * s, OW = W * s, out = new Float64Array(N * C * OH * OW);
  const src = (o: number, n: number) => {
    const f = Math.max((o + 0.5) / s - 0.5, 0), i0 = Math.floor(f), i1 = Math.min(i0 + 1, n - 1);
    return [Math.min(i0, n - 1), i1, f - i0] as const;
  };
  for (let nc = 0; nc < N * C; nc++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
    const at = (a: number, b: number) => x[(nc * H + a) * W + b];
    let v: number;
    if (mode === 'nearest') v = at(Math.floor(i / s), Math.floor(j / s));
    else {
      const [a0, a1, fa] = src(i, H), [b0, b1, fb] = src(j, W);
      v = (1 - fa) * ((1 - fb) * at(a0, b0) + fb * at(a0, b1)) + fa * ((1 - fb) * at(a1, b0) + fb * at(a1, b1));
    }
    out[(nc * OH + i) * OW + j] = v;
  }
  return out;
}

describe('upsample2d', () => {
  for (const mode of ['nearest', 'bilinear'] as const) {
    for (const [shape, s] of [[[2, 3, 5, 3], 2], [[1, 2, 1, 4], 3], [[1, 1, 4, 7], 4]] as const) {
      it(`${mode} x${s} on [${shape}] matches PyTorch's formula on CPU and WebGPU`, async () => {
        const n = (shape as readonly number[]).reduce((a, b) => a * b, 1), xv = randn(n, 7);
        const x = input([...shape]), y = upsample2d(x, s, mode);
        expect(y.shape).toEqual([shape[0], shape[1], shape[2] * s, shape[3] * s]);
        const want = upsampleLoops(xv, [...shape], s, mode);
        for (const be of [cpu, gpu]) {
          const [got] = await runOn(be, [y], new Map([[x, xv]]));
          assertClose(got, want, { atol: 1e-6, rtol: 1e-5, what: `${mode} ${be.description}` });
        }
      });
    }
  }
});

describe('randn', () => {
  it('draws the same numbers on CPU and WebGPU, a standard normal, and new ones at each step of its counter', async () => {
    const counter = { step: 5 };
    const z = randnOp([257, 129], 42, counter);
    const [c] = await runOn(cpu, [z], new Map());
    const [g] = await runOn(gpu, [z], new Map());
    // Only the float32 log, sqrt and cos of the GPU differ from the reference.
    assertClose(g, c, { atol: 2e-5, rtol: 2e-5, what: 'randn GPU vs CPU' });
    let m = 0, v = 0, tail = 0;
    for (const x of c) { m += x; v += x * x; if (Math.abs(x) > 1.96) tail++; }
    m /= c.length; v = v / c.length - m * m;
    // 33153 draws: the mean's standard error is 0.0055, the variance's 0.0078, the 5% tail's 0.0012.
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.04);
    expect(Math.abs(tail / c.length - 0.05)).toBeLessThan(0.007);
    // A compiled step with the counter's advance draws anew at each run, without recompiling, on both backends.
    for (const be of [cpu, gpu]) {
      counter.step = 5;
      const ex = be.compile([z], [dropoutAdvance(counter)]);
      ex.run(new Map()); const first = await ex.read(z);
      ex.run(new Map()); const second = await ex.read(z);
      ex.dispose();
      assertClose(first, c, { atol: 2e-5, rtol: 2e-5, what: `${be.description} step 5` });
      expect(counter.step).toBe(7);
      let same = 0;
      for (let i = 0; i < first.length; i++) if (first[i] === second[i]) same++;
      expect(same).toBeLessThan(5);
    }
  });
});

describe('step', () => {
  it('is 1 where x > 0 and 0 elsewhere (0 at 0) on both backends', async () => {
    const x = input([5]);
    const y = step(x);
    for (const be of [cpu, gpu]) {
      const [got] = await runOn(be, [y], new Map([[x, Float32Array.from([-2, -1e-7, 0, 1e-7, 3])]]));
      expect(Array.from(got)).toEqual([0, 0, 0, 1, 1]);
    }
  });
});
