// Convolution and pooling: shape errors, gradients against finite differences (CPU), CPU-vs-WebGPU parity forward and
// backward, and a small CNN trained on MNIST on both backends in lockstep.
//
// Parity tolerances follow test/parity.test.ts: |gpu - cpu| <= atol + rtol·|cpu| with rtol 1e-5 and
// atol = 1e-6 + 1e-6·sqrt(K)·max|cpu|, K the number of terms summed into an output: C·KH·KW for a conv output,
// O·KH·KW for a conv input gradient (every output channel of every tap that read the pixel), N·OH·OW for the
// weight and bias gradients, KH·KW for an average, the number of windows covering a pixel for a pooling gradient,
// and 1 for a max (a comparison: exact).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import * as conv from '../src/graph/conv.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Feeds } from '../src/schedule/plan.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { DataLoader } from '../src/data/loader.js';
import { MODELS } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { setConvK4, setConvSlide } from '../src/backends/webgpu/conv.js';
import { setConvRule } from '../src/schedule/conv_algorithm.js';
import { gemmPaths } from '../src/check/fuzz_big.js';
import { assertClose, maxAbs, mulberry32, randn, runOn, finiteDifferenceCheck, weightedSum, type Gen } from './helpers.js';

interface Case { name: string; args: { shape: number[]; gen?: Gen }[]; f: (...xs: Tensor[]) => Tensor; k?: (y: Tensor, xs: Tensor[]) => number[] }

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

/** Distinct values at least 0.1 apart in random order: no two entries of a max-pool window within 2·eps of each other. */
const spread: Gen = (n, seed) => {
  const r = mulberry32(seed), v = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [v[i], v[j]] = [v[j], v[i]]; }
  return v;
};

/** The graph of every case: y = f(xs), L = sum(y · R) for a fixed random R, and dL/dx for every x. */
const build = weightedSum;

// ---- shape errors ----

describe('conv and pooling: shape errors', () => {
  const x = input([2, 3, 8, 8]);
  const cases: [string, () => unknown, RegExp][] = [
    ['channel mismatch', () => conv.conv2d(x, input([4, 5, 3, 3])), /conv2d: input \[2,3,8,8\] has 3 channels but weights \[4,5,3,3\] expect 5/],
    ['kernel larger than the padded input', () => conv.conv2d(x, input([4, 3, 11, 3]), { padding: 1 }), /conv2d: the 11x3 window .* is larger than the padded input 10x10 of \[2,3,8,8\]/],
    ['dilated kernel larger than the padded input', () => conv.conv2d(x, input([4, 3, 3, 3]), { dilation: 5 }), /conv2d: the 11x11 window \(kernel 3x3, dilation 5x5\) is larger/],
    ['input of rank 3', () => conv.conv2d(input([3, 8, 8]), input([4, 3, 3, 3])), /conv2d: expected input \[N,C,H,W\] and weights \[O,C,KH,KW\], got \[3,8,8\] and \[4,3,3,3\]/],
    ['stride 0', () => conv.conv2d(x, input([4, 3, 3, 3]), { stride: 0 }), /conv2d: stride must be an integer >= 1/],
    ['a stride of three dims', () => conv.conv2d(x, input([4, 3, 3, 3]), { stride: [1, 2, 3] as unknown as [number, number] }), /conv2d: stride must be an integer >= 1 or a pair of them, got \[1,2,3\]/],
    ['negative padding', () => conv.conv2d(x, input([4, 3, 3, 3]), { padding: [1, -1] }), /conv2d: padding must be an integer >= 0/],
    ['bias of the wrong length', () => conv.conv2dBias(conv.conv2d(x, input([4, 3, 3, 3])), input([3])), /conv2dBias: expected a bias \[4\] for output \[2,4,6,6\]/],
    ['pool window larger than the input', () => conv.maxPool2d(x, 9), /maxPool2d: the 9x9 window .* larger than the padded input 8x8/],
    ['pool padding over half the kernel', () => conv.avgPool2d(x, 3, { padding: 2 }), /avgPool2d: padding 2x2 is more than half the 3x3 kernel/],
    ['pool of rank 2', () => conv.maxPool2d(input([8, 8]), 2), /maxPool2d: expected an NCHW input of rank 4, got \[8,8\]/],
    ['col2im columns that do not match', () => conv.col2im(input([2, 27, 35]), [2, 3, 8, 8], { kh: 3, kw: 3, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 }), /col2im: columns \[2,27,35\] do not match image \[2,3,8,8\] .*expected \[2,27,36\]/],
    ['integer input', () => conv.conv2d(input([2, 3, 8, 8], 'i32'), input([4, 3, 3, 3])), /conv2d: expected a float32 tensor, got i32/],
  ];
  for (const [name, f, msg] of cases) {
    it(name, () => {
      expect(f).toThrowError(msg);
      try { f(); } catch (e) { expect((e as Error).name).toBe('ShapeError'); }
    });
  }
});

// ---- gradient checks ----

// Central differences on the CPU, as in test/gradcheck.test.ts: eps 1e-2, atol 2e-3, rtol 1e-2. Max pooling reads
// inputs spread 0.1 apart, so no nudge changes a window's argmax; conv composites use tanh, which has no kink.
async function gradcheck(c: Case, seed: number): Promise<void> {
  const { xs, L, grads, feeds } = build(c, seed);
  await finiteDifferenceCheck(cpu, { wrt: xs, L, grads, feeds }, { name: c.name });
}

const convCase = (x: number[], w: number[], o: conv.ConvOpts, bias = false): Case => ({
  name: `conv2d x[${x}] w[${w}] ${JSON.stringify(o)}${bias ? ' + bias' : ''}`,
  args: bias ? [{ shape: x }, { shape: w }, { shape: [w[0]] }] : [{ shape: x }, { shape: w }],
  f: (a, b, c) => (bias ? conv.conv2dBias(conv.conv2d(a, b, o), c) : conv.conv2d(a, b, o)),
});

describe('conv and pooling: gradients vs central finite differences (CPU)', () => {
  const win = (k: number, s: number, p: number, d: number): conv.Window => ({ kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: d, dw: d });
  const cases: Case[] = [
    convCase([2, 3, 6, 7], [4, 3, 3, 3], {}),
    convCase([2, 3, 6, 7], [4, 3, 3, 3], { stride: 2, padding: 1 }, true),
    convCase([2, 3, 7, 7], [2, 3, 3, 3], { padding: 2, dilation: 2 }),
    convCase([1, 2, 7, 6], [3, 2, 2, 3], { stride: [2, 1], padding: [1, 0], dilation: [1, 2] }, true),
    { name: 'im2col [2,2,5,5] 3x3 stride 2 pad 1', args: [{ shape: [2, 2, 5, 5] }], f: (x) => conv.im2col(x, 3, { stride: 2, padding: 1 }) },
    { name: 'col2im [1,18,9] -> [1,2,5,5] 3x3 stride 2 pad 1 dilation 1', args: [{ shape: [1, 18, 9] }], f: (c) => conv.col2im(c, [1, 2, 5, 5], win(3, 2, 1, 1)) },
    { name: 'col2im [1,8,9] -> [1,2,5,5] 2x2 stride 1 pad 0 dilation 2', args: [{ shape: [1, 8, 9] }], f: (c) => conv.col2im(c, [1, 2, 5, 5], win(2, 1, 0, 2)) },
    { name: 'im2col [2,2,5,5] 3x3 stride 2 pad 1, channel-major columns', args: [{ shape: [2, 2, 5, 5] }], f: (x) => conv.im2colWin(x, win(3, 2, 1, 1), 'channel') },
    { name: 'col2im [18,2,9] -> [2,2,5,5] 3x3 stride 2 pad 1, channel-major columns', args: [{ shape: [18, 2, 9] }], f: (c) => conv.col2im(c, [2, 2, 5, 5], win(3, 2, 1, 1), 'channel') },
    { name: 'maxPool2d [2,2,6,7] 2x2', args: [{ shape: [2, 2, 6, 7], gen: spread }], f: (x) => conv.maxPool2d(x, 2) },
    { name: 'maxPool2d [2,2,6,10] 2x2 (even sides: a row of windows an invocation on WebGPU)', args: [{ shape: [2, 2, 6, 10], gen: spread }], f: (x) => conv.maxPool2d(x, 2) },
    { name: 'maxPool2d [1,2,7,7] 3x3 stride 2 pad 1 (overlapping)', args: [{ shape: [1, 2, 7, 7], gen: spread }], f: (x) => conv.maxPool2d(x, 3, { stride: 2, padding: 1 }) },
    { name: 'maxPool2d [1,1,5,6] 3x2 stride 1', args: [{ shape: [1, 1, 5, 6], gen: spread }], f: (x) => conv.maxPool2d(x, [3, 2], { stride: 1 }) },
    { name: 'avgPool2d [2,2,7,7] 3x3 stride 2 pad 1 (padding counted)', args: [{ shape: [2, 2, 7, 7] }], f: (x) => conv.avgPool2d(x, 3, { stride: 2, padding: 1 }) },
    { name: 'avgPool2d [2,2,7,7] 3x3 stride 2 pad 1 (padding not counted)', args: [{ shape: [2, 2, 7, 7] }], f: (x) => conv.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }) },
    { name: 'avgPool2d [1,2,6,5] 2x2', args: [{ shape: [1, 2, 6, 5] }], f: (x) => conv.avgPool2d(x, 2) },
    {
      name: 'composite: avgPool2d(tanh(conv2d(tanh(conv2d(x, w1) + b1), w2)))',
      args: [{ shape: [2, 2, 8, 8] }, { shape: [3, 2, 3, 3], gen: (n, s) => randn(n, s, 0.5) }, { shape: [3] }, { shape: [2, 3, 3, 3], gen: (n, s) => randn(n, s, 0.5) }],
      f: (x, w1, b1, w2) => conv.avgPool2d(ops.tanh(conv.conv2d(ops.tanh(conv.conv2dBias(conv.conv2d(x, w1, { padding: 1 }), b1)), w2, { stride: 2 })), 2),
    },
  ];
  cases.forEach((c, i) => it(c.name, async () => { await gradcheck(c, 7000 + 13 * i); }));

  // The gradient checks tie each gradient to its forward; this ties the forward to the definition of a convolution.
  it('conv2d equals the direct sum over the window (PyTorch semantics: cross-correlation, zero padding)', async () => {
    const [N, C, H, W, O, KH, KW] = [2, 3, 9, 8, 4, 3, 2], [sh, sw, ph, pw, dh, dw] = [2, 1, 1, 2, 2, 3];
    const x = input([N, C, H, W]), w = input([O, C, KH, KW]);
    const y = conv.conv2d(x, w, { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] });
    const xv = randn(x.size, 3), wv = randn(w.size, 4);
    const [got] = await runOn(cpu, [y], new Map([[x, xv], [w, wv]]));
    const [, , OH, OW] = y.shape;
    expect([OH, OW]).toEqual([Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1, Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1]);
    const want = new Float32Array(y.size);
    for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let s = 0;
      for (let c = 0; c < C; c++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
        const h = oh * sh - ph + i * dh, v = ow * sw - pw + j * dw;
        if (h >= 0 && h < H && v >= 0 && v < W) s += xv[((n * C + c) * H + h) * W + v] * wv[((o * C + c) * KH + i) * KW + j];
      }
      want[((n * O + o) * OH + oh) * OW + ow] = s;
    }
    assertClose(got, want, { atol: 1e-5, rtol: 1e-5, what: 'conv2d vs direct loops' });
  });

  it.each(['image', 'channel'] as const)('im2col and col2im are adjoint: <im2col(x), c> = <x, col2im(c)> (%s-major columns)', async (layout) => {
    const w = win(3, 2, 2, 2), xShape = [2, 3, 9, 8];
    const x = input(xShape), cols = input(conv.im2colWin(x, w, layout).shape);
    const lhs = ops.sum(ops.mul(conv.im2colWin(x, w, layout), cols)), rhs = ops.sum(ops.mul(x, conv.col2im(cols, xShape, w, layout)));
    const [a, b] = await runOn(cpu, [lhs, rhs], new Map([[x, randn(x.size, 1)], [cols, randn(cols.size, 2)]]));
    expect(Math.abs(a[0] - b[0])).toBeLessThan(1e-4 * Math.abs(a[0]) + 1e-4);
  });

  it('channel-major columns are the image-major ones with the batch moved inside', async () => {
    const w = win(3, 2, 1, 1), x = input([3, 2, 7, 6]);
    const img = conv.im2colWin(x, w, 'image'), ch = conv.im2colWin(x, w, 'channel');
    const [a, b] = await runOn(cpu, [ops.transpose(img, [1, 0, 2]), ch], new Map([[x, randn(x.size, 5)]]));
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});

// ---- parity ----

const ATOL = 1e-6, ATOL_PER_SQRT_K = 1e-6, RTOL = 1e-5;

async function parity(c: Case, seed: number): Promise<void> {
  const { xs, y, grads, feeds } = build(c, seed);
  const outputs = [y, ...grads];
  const ks = c.k!(y, xs);
  expect(ks.length).toBe(outputs.length);
  const want = await runOn(cpu, outputs, feeds);
  const got = await runOn(gpu, outputs, feeds);
  outputs.forEach((t, i) => {
    const atol = ATOL + (ks[i] > 1 ? ATOL_PER_SQRT_K * Math.sqrt(ks[i]) * maxAbs(want[i]) : 0);
    const what = `${c.name}: ${i ? `d L / d x${i - 1}` : 'forward'} ${JSON.stringify(t.shape)} (K=${ks[i]}), webgpu vs cpu`;
    if (process.env.CONV_STATS) { // the worst element's share of its tolerance
      let m = 0;
      for (let j = 0; j < want[i].length; j++) m = Math.max(m, Math.abs(got[i][j] - want[i][j]) / (atol + RTOL * Math.abs(want[i][j])));
      console.log(`${m.toExponential(2)} ${what}`);
    }
    assertClose(got[i], want[i], { atol, rtol: RTOL, what });
  });
}

describe('conv and pooling: WebGPU vs CPU reference, forward and backward', () => {
  const cases: Case[] = [];
  // N=3, C=7, 33x33 (odd, and divides no 64/256 workgroup), O=5: kernels 3 and 5, strides 1 and 2, paddings 0-2,
  // dilations 1 and 2, a non-square window, with and without bias, and N=1 (no broadcast of the weights).
  const convs: [number[], number[], conv.ConvOpts][] = [
    [[3, 7, 33, 33], [5, 7, 3, 3], { padding: 1 }],
    [[3, 7, 33, 33], [5, 7, 5, 5], { stride: 2, padding: 2 }],
    [[3, 7, 33, 33], [5, 7, 3, 3], { stride: 2, dilation: 2 }],
    [[3, 7, 33, 33], [5, 7, 5, 5], {}],
    [[3, 7, 33, 33], [5, 7, 3, 5], { stride: [2, 1], padding: [1, 2], dilation: [2, 1] }],
    [[1, 7, 33, 33], [5, 7, 5, 5], { stride: 2, padding: 1, dilation: 2 }],
  ];
  convs.forEach(([x, w, o], i) => {
    const c = convCase(x, w, o, i % 2 === 0);
    c.k = (y, xs) => {
      const nohw = y.size / y.shape[1];
      return [w[1] * w[2] * w[3], w[0] * w[2] * w[3], nohw, ...(xs.length > 2 ? [nohw] : [])];
    };
    cases.push(c);
  });
  // Pooling on odd sizes: 2x2 (the last row and column fall outside every window), 3x3 stride 2 with and without
  // padding, 3x3 stride 1 (every pixel in up to 9 windows), non-square windows. 2x2 and 3x2 with their default
  // stride tile the image: the max backward's one-invocation-per-window path (TILED in shaders/pool.wgsl).
  const pools: [number | [number, number], conv.PoolOpts][] = [[2, {}], [[3, 2], {}], [3, { stride: 2 }], [3, { stride: 2, padding: 1 }], [3, { stride: 1, padding: 1 }], [[3, 2], { stride: [2, 1], padding: [1, 0] }]];
  const covering = (k: conv.Pair, o: conv.PoolOpts) => {
    const [kh, kw] = typeof k === 'number' ? [k, k] : k, s = o.stride ?? k, [sh, sw] = typeof s === 'number' ? [s, s] : s;
    return Math.ceil(kh / sh) * Math.ceil(kw / sw);
  };
  for (const layout of ['image', 'channel'] as const) {
    const w: conv.Window = { kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1 };
    cases.push({ name: `im2col [3,7,33,33] 3x3 stride 2 pad 1, ${layout}-major columns`, args: [{ shape: [3, 7, 33, 33] }], f: (x) => conv.im2colWin(x, w, layout), k: () => [1, 4] });
  }
  for (const [k, o] of pools) {
    const shape = [3, 7, 33, 33];
    const kk = typeof k === 'number' ? k * k : k[0] * k[1];
    cases.push({ name: `maxPool2d [${shape}] ${JSON.stringify(k)} ${JSON.stringify(o)}`, args: [{ shape }], f: (x) => conv.maxPool2d(x, k, o), k: () => [1, covering(k, o)] });
    for (const countIncludePad of [true, false]) {
      if (!countIncludePad && !o.padding) continue; // the same as counted when nothing is padding
      cases.push({
        name: `avgPool2d [${shape}] ${JSON.stringify(k)} ${JSON.stringify({ ...o, countIncludePad })}`, args: [{ shape }],
        f: (x) => conv.avgPool2d(x, k, { ...o, countIncludePad }), k: () => [kk, covering(k, o)],
      });
    }
  }
  // 2x2 on even sides: one invocation per row of windows, both image rows read as vec2s (PAIR in shaders/pool.wgsl).
  cases.push({ name: 'maxPool2d [3,7,34,30] 2 {}', args: [{ shape: [3, 7, 34, 30] }], f: (x) => conv.maxPool2d(x, 2), k: () => [1, 1] });
  // Width a multiple of 4: two windows a load (QUAD).
  cases.push({ name: 'maxPool2d [3,7,34,28] 2 {}', args: [{ shape: [3, 7, 34, 28] }], f: (x) => conv.maxPool2d(x, 2), k: () => [1, 1] });
  // An image of whole fours of outputs (28 x 27): the implicit forward stores vec4s (VEC_Y), with the bias.
  {
    const c = convCase([3, 7, 28, 27], [5, 7, 3, 3], { padding: 1 }, true);
    c.k = (y) => { const nohw = y.size / y.shape[1]; return [7 * 9, 5 * 9, nohw, nohw]; };
    cases.push(c);
  }
  cases.forEach((c, i) => it(c.name, async () => { await parity(c, 9000 + 17 * i); }));
  // The bias gradient rides on the implicit weight gradient (a column of ones, ONES in shaders/conv_gemm.wgsl): with
  // split k ([3,7,33,33], 3267 pixels) and without ([2,3,6,7] at stride 2), four k a step and one, each checked
  // against the CPU above.
  const dbCases = [[[3, 7, 33, 33], [5, 7, 3, 3], { padding: 1 }], [[2, 3, 6, 7], [4, 3, 3, 3], { stride: 2, padding: 1 }]] as const;
  it.each(dbCases.flatMap((c) => [[...c, true], [...c, false]] as const))('conv2d x%j w%j %j + bias, k4 %j: db from the weight gradient\'s step', async (x, w, o, four) => {
    // The bias inside the composite, as the layers pass it (convCase adds it after).
    const c = { ...convCase([...x], [...w], o, true), f: (a: Tensor, b: Tensor, bias: Tensor) => conv.conv2d(a, b, o, bias) }, { y, grads } = build(c, 1);
    setConvK4(four);
    try {
      const paths = gemmPaths(gpu, [y, ...grads]).filter((p) => p.startsWith('implicit conv dw'));
      expect(paths, paths.join('; ')).toHaveLength(1);
      expect(paths[0]).toMatch(x[0] === 3 ? / split k \d+ .*\+ db$/ : /^implicit conv dw \d+x\d+.* \+ db$/);
      expect(paths[0].includes(' k4')).toBe(four);
      await parity({ ...c, k: (yy) => { const nohw = yy.size / yy.shape[1]; return [w[1] * w[2] * w[3], w[0] * w[2] * w[3], nohw, nohw]; } }, 4242);
    } finally {
      setConvK4();
    }
  });
});

describe('implicit-GEMM convolution: four k a step', () => {
  // K4 walks k in the one-k loop's order, so the two must agree to the bit: forward, dx and dw (split k included), on
  // C = 1 (K = 25 for the forward, a tail of one k), 1x1, dilation, odd channels and 32-row, 64-wide tiles; A read
  // as vec4s (K a multiple of 4) by the last layer's forward and by the dw of the first and last.
  const shapes: [number[], number[], conv.ConvOpts][] = [
    [[3, 1, 28, 27], [16, 1, 5, 5], { padding: 2 }],
    [[3, 7, 33, 33], [5, 7, 3, 3], { padding: 1 }],
    [[5, 33, 15, 13], [40, 33, 3, 3], { padding: 1, dilation: 2 }],
    [[4, 9, 11, 11], [70, 9, 1, 1], {}],
    [[12, 16, 14, 14], [32, 16, 5, 5], { padding: 2 }],
  ];
  // The sliding window (SLIDE) adds in another order; these compare the K4 walk itself.
  beforeAll(() => setConvSlide(false));
  afterAll(() => { setConvK4(); setConvSlide(); });
  const seen = new Set<string>();
  it.each(shapes)('conv2d x%j w%j %j: bit-identical to one k a step', async (xs, ws, o) => {
    const x = input(xs), w = input(ws);
    const y = ops.tanh(conv.conv2d(x, w, o)), R = input(y.shape);
    const outputs = [y, ...grad(ops.sum(ops.mul(y, R)), [x, w])];
    const feeds: Feeds = new Map([[x, randn(x.size, 1)], [w, randn(w.size, 2, 1 / Math.sqrt(ws[1] * ws[2] * ws[3]))], [R, randn(y.size, 3)]]);
    const run = async (on: boolean) => {
      setConvK4(on);
      const paths = gemmPaths(gpu, outputs).filter((p) => p.startsWith('implicit conv'));
      expect(paths.map((p) => p.split(' ')[2]).sort(), 'forward, dx and dw all implicit').toEqual(['dw', 'dx', 'forward']);
      expect(paths.every((p) => p.includes(' k4') === on), paths.join('; ')).toBe(true);
      for (const p of paths) seen.add(p);
      return runOn(gpu, outputs, feeds);
    };
    const one = await run(false), four = await run(true);
    four.forEach((v, i) => expect(Array.from(v), `output ${i}`).toEqual(Array.from(one[i])));
  });
  it('the cases took the vec4 loads of A in the forward and in dw (split k), and the vec4 stores of the forward', () => {
    for (const want of [/^implicit conv forward .* k4 vec-A vec-Y$/, /^implicit conv forward .* k4 vec-Y$/, /^implicit conv dw .*split k .* k4 vec-A$/]) {
      expect([...seen].some((p) => want.test(p)), `${want} (taken: ${[...seen].join('; ')})`).toBe(true);
    }
  });
});

describe('implicit-GEMM convolution: a window sliding along each row of k (SLIDE)', () => {
  // The forward and the input gradient with unit column stride and dilation and at least 16 rows of k, against the
  // CPU reference: rows that are not whole blocks of 16 (16-row tiles: 13, 19, 33), 8 or 4 (narrow, N < 64) pixels,
  // odd M in either pass, KW of 1, 7 and 9, row stride and dilation (the input gradient forced implicit: the rule
  // would take im2col for a stride), a last step of k with unused rows, bias and an activation on the store.
  const shapes: [number[], number[], conv.ConvOpts, boolean][] = [
    [[3, 16, 14, 13], [32, 16, 5, 5], { padding: 2 }, true],
    [[2, 16, 9, 33], [12, 16, 5, 5], { padding: 2 }, true],
    [[2, 9, 11, 19], [7, 9, 3, 7], { padding: [1, 3] }, false],
    [[2, 8, 15, 12], [6, 8, 3, 3], { stride: [2, 1], padding: 1, dilation: [2, 1] }, true],
    [[4, 20, 5, 6], [3, 20, 1, 1], {}, false],
    [[1, 2, 12, 10], [4, 2, 9, 9], { padding: 4 }, true],
    [[1, 16, 5, 6], [16, 16, 3, 3], { padding: 1 }, false],
  ];
  beforeAll(() => setConvRule(() => 'implicit'));
  afterAll(() => setConvRule());
  const seen = new Set<string>();
  shapes.forEach(([x, w, o, bias], i) => {
    // The bias inside the composite, as the layers pass it: the forward's store adds it, and tanh, its epilogue.
    const c = convCase(x, w, o, bias);
    c.f = (a, b, bb) => ops.tanh(conv.conv2d(a, b, o, bias ? bb : undefined));
    c.k = (y, xs) => { const nohw = y.size / y.shape[1]; return [w[1] * w[2] * w[3], w[0] * w[2] * w[3], nohw, ...(xs.length > 2 ? [nohw] : [])]; };
    it(`${c.name}, tanh`, async () => {
      const { y, grads } = build(c, 1);
      const paths = gemmPaths(gpu, [y, ...grads]).filter((p) => p.startsWith('implicit conv'));
      const rows = (p: 'forward' | 'dx') => (p === 'forward' ? w[1] : w[0]) * w[2] >= 16;
      for (const p of ['forward', 'dx'] as const) {
        expect(paths.some((q) => q.startsWith(`implicit conv ${p} `) && q.includes(' slide')), `${p}: ${paths.join('; ')}`).toBe(rows(p));
      }
      paths.forEach((p) => seen.add(p));
      await parity(c, 7000 + 13 * i);
    });
  });
  it('the cases took the permuted weights read as vec4s (rows of k whole fours) and the plain ones, and 16 x 128 tiles, in both passes', () => {
    for (const p of ['forward', 'dx']) {
      expect([...seen].some((q) => q.startsWith(`implicit conv ${p} 16x128 `) && q.includes(' slide')), `${p} 16x128 (taken: ${[...seen].join('; ')})`).toBe(true);
      for (const vec of [true, false]) {
        const want = [...seen].some((q) => q.startsWith(`implicit conv ${p} `) && q.includes(' k4 vec-A') === vec && q.includes(' slide'));
        expect(want, `${p} slide ${vec ? 'with' : 'without'} vec-A (taken: ${[...seen].join('; ')})`).toBe(true);
      }
    }
  });
});

// ---- training ----

async function trainSteps(be: Backend, steps: number, B: number) {
  const { train } = await loadMnist({ limitTrain: B * steps, limitTest: 1 });
  normalize(train.x, MNIST_MEAN, MNIST_STD);
  const model = MODELS.cnn.build(new Rng(5));
  const trainer = new ClassifierTrainer(be, model, new SGD({ lr: 0.01, momentum: 0.9 }), train.featureShape);
  const losses: number[] = [];
  for (const b of new DataLoader(train, { batchSize: B, seed: 4 }).batches(0)) {
    const g = trainer.trainStep(b.x, b.y, b.size);
    losses.push((await g.ex.read(g.loss))[0]);
  }
  const weights = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
  trainer.dispose();
  return { losses, weights };
}

describe('the cnn model on MNIST, CPU reference vs WebGPU', () => {
  // lr 0.01: the zero-initialised last layer starts at uniform predictions, and with batches of 16 the loss is noisy
  // (the CPU's last three average 1.80 against ln 10 = 2.30 at the start).
  // Losses agree to atol 1e-4 + rtol 1e-3 per step, weights to 1e-4 + 1e-3: float32 sums in a different order
  // (and, rarely, a max-pool argmax flipped between two near-equal activations) drift apart slowly with the step.
  it('trains 12 steps of batch 16 with matching losses and weights, and the loss falls', async () => {
    const c = await trainSteps(cpu, 12, 16);
    const g = await trainSteps(gpu, 12, 16);
    if (process.env.CONV_STATS) console.log(c.losses.map((l, i) => `${l.toFixed(5)} ${(g.losses[i] - l).toExponential(2)}`).join('\n'));
    assertClose(g.losses, c.losses, { atol: 1e-4, rtol: 1e-3, what: 'loss per step' });
    g.weights.forEach((w, i) => assertClose(w, c.weights[i], { atol: 1e-4, rtol: 1e-3, what: `parameter ${i}` }));
    expect(c.losses[0]).toBeCloseTo(Math.log(10), 5); // the classifier starts at zero: uniform predictions
    const last = c.losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(last).toBeLessThan(0.85 * Math.log(10));
  });
});
