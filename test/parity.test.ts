// CPU/WebGPU parity for every op, forward and backward: the same graph, built once, runs on the CPU reference and
// on WebGPU (Dawn; lavapipe on a machine without a GPU) from the same random inputs, and every output is compared.
// Outputs are y = op(inputs) and the gradients of L = sum(y · R), R a fixed random tensor of y's shape.
//
// Sizes come from {1, 7, 33, 257}, which divide none of the kernels' tiles (64x64x16 GEMM tiles, 256- and
// 64-invocation workgroups), so every edge guard runs.
//
// Tolerances (|gpu - cpu| <= atol + rtol·|cpu|, per output):
//   rtol 1e-5 (transcendental ops: 2e-5), atol 1e-6 for values that involve no reduction (K = 1);
//   for an output that is a sum of K terms (GEMM inner dimension, reduced axes, the summing-down of a broadcast
//   operand's gradient, softmax over C classes) atol grows to 1e-6 + 1e-6·sqrt(K)·max|cpu|: the CPU accumulates in
//   float64, the GPU in float32, whose rounding error grows like eps32·sqrt(K)·|sum| (eps32 ≈ 6e-8), so this keeps a
//   margin of about 15x over that estimate while still catching a single dropped or doubled term (a term is
//   ~|sum|/sqrt(K), far above the tolerance). Measured on lavapipe: the worst output uses ~1% of its tolerance for
//   reductions and GEMM, ~7% for tanh (PARITY_STATS=1 prints the ratio for every output).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import * as seq from '../src/graph/attention.js';
import * as act from '../src/graph/activations.js';
import { grad } from '../src/autodiff/grad.js';
import { COMPOSITES } from '../src/graph/composite_ops.js';
import { longestReductions } from '../src/check/parity.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Feeds } from '../src/schedule/plan.js';
import { launchFor, packedGemm, panelsFit } from '../src/backends/webgpu/kernels.js';
import { assertClose, maxAbs, randn, randu, randAway, randInt, runOn } from './helpers.js';

const RTOL = 1e-5;
const RTOL_TRANSCENDENTAL = 2e-5;
const ATOL = 1e-6;
const ATOL_PER_SQRT_K = 1e-6;

type Gen = (n: number, seed: number) => Float32Array;
interface Arg { shape: number[]; gen?: Gen; labels?: number }
interface Case {
  name: string;
  args: Arg[];
  f: (...xs: Tensor[]) => Tensor;
  /**
   * Reduction length behind each output, [forward, then one per float input's gradient]. Default: 1 for the
   * forward, and y.size / x.size for each gradient (the summing-down of a broadcast operand; 1 when none).
   */
  k?: ((y: Tensor, xs: Tensor[]) => number[]) | 'graph';
  transcendental?: boolean;
}

const normal: Gen = (n, s) => randn(n, s);
const scaled = (k: number): Gen => (n, s) => randn(n, s, k);
const uniform = (lo: number, hi: number): Gen => (n, s) => randu(n, s, lo, hi);
const f = (shape: number[], gen: Gen = normal): Arg => ({ shape, gen });
const labels = (B: number, C: number): Arg => ({ shape: [B], labels: C });

let gpu: WebGpuBackend;
const cpu = new CpuBackend();
const stats: string[] = [];

async function parity(c: Case, seed: number, on: WebGpuBackend = gpu): Promise<void> {
  const xs = c.args.map((a, i) => input(a.shape, a.labels ? 'i32' : 'f32', `x${i}`));
  const y = c.f(...xs);
  const R = input(y.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(y, R));
  const wrt = xs.filter((x) => x.dtype === 'f32');
  const grads = grad(L, wrt);
  const outputs = [y, ...grads];

  const feeds: Feeds = new Map();
  c.args.forEach((a, i) => {
    const n = xs[i].size;
    feeds.set(xs[i], a.labels ? randInt(n, a.labels, seed + i) : (a.gen ?? normal)(n, seed + i));
  });
  feeds.set(R, randn(y.size, seed + 100));

  // 'graph': the longest reduction on any path into each output, read off the graph (checkParity's rule).
  const kEff = c.k === 'graph' ? longestReductions(outputs) : undefined;
  const ks = kEff ? outputs.map((t) => kEff.get(t)!) : c.k && c.k !== 'graph' ? c.k(y, wrt) : [1, ...wrt.map((x) => y.size / x.size)];
  expect(ks.length).toBe(outputs.length);
  const want = await runOn(cpu, outputs, feeds);
  const got = await runOn(on, outputs, feeds);
  outputs.forEach((t, i) => {
    const scale = maxAbs(want[i]);
    const atol = ATOL + (ks[i] > 1 ? ATOL_PER_SQRT_K * Math.sqrt(ks[i]) * scale : 0);
    const rtol = c.transcendental ? RTOL_TRANSCENDENTAL : RTOL;
    const what = `${c.name}: ${i === 0 ? 'forward' : `d L / d ${wrt[i - 1].name}`} ${JSON.stringify(t.shape)} (K=${ks[i]}), webgpu vs cpu`;
    if (process.env.PARITY_STATS) {
      let m = 0;
      for (let j = 0; j < want[i].length; j++) m = Math.max(m, Math.abs(got[i][j] - want[i][j]) / (atol + rtol * Math.abs(want[i][j])));
      stats.push(`${m.toExponential(2)} ${what}`);
    }
    assertClose(got[i], want[i], { atol, rtol, what });
  });
}

// ---- cases ----

const cases: Case[] = [];

// GEMM: op(A)[M,K] · op(B)[K,N], all four transposes, rank 2 and batch 3. dA reduces over N, dB over M.
// 21x1030 and 1030x45 take the skinny tiles (16-64 rows or columns by 128), as conv layers do; rank 2 only.
// [13,25,100] is a small conv layer's shape (16 rows or fewer, 64 columns or more: the subgroup kernel's 16 x 64 tile).
// N = 100, 68 and 36 are multiples of 4, whose untransposed B the subgroup kernel reads as vec4s (VEC_B); 68 leaves a
// 64-column tile with 4 columns.
// The subgroup kernel takes four k a step from K = 16 (K4; K = 25, 29, 33, 45 end on a partial step) and reads A as
// vec4s where K (untransposed, VEC_A) or M (transposed, VEC_AT) is a multiple of 4: [36, 45, 68] Aᵀ·B takes VEC_AT
// with a partial last step and a second row tile of 4 rows, and its A·B's dA (K = 68) VEC_A. A·Bᵀ with K a multiple
// of 4 reads Bᵀ's four k as vec4s (VEC_BT): [45, 28, 70] (a partial row tile, a 64-column tile and a 6-column one)
// and [9, 16, 33] (16-row tiles, one four-k step).
for (const [M, K, N] of [[33, 257, 7], [1, 7, 1], [257, 33, 257], [7, 1, 33], [21, 37, 1030], [1030, 19, 45], [13, 25, 100], [37, 29, 68], [70, 33, 36], [36, 45, 68], [45, 28, 70], [9, 16, 33]]) {
  for (const transA of [false, true]) for (const transB of [false, true]) {
    const a = transA ? [K, M] : [M, K], b = transB ? [N, K] : [K, N];
    const tag = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
    const k = () => [K, N, M];
    cases.push({ name: `matmul ${tag} [${a}]x[${b}]`, args: [f(a), f(b)], f: (x, w) => ops.matmul(x, w, { transA, transB }), k });
    if ((M !== 1 || N !== 1) && Math.max(M, N) < 1000) {
      cases.push({ name: `matmul batch 3 ${tag} [3,${a}]x[3,${b}]`, args: [f([3, ...a]), f([3, ...b])], f: (x, w) => ops.matmul(x, w, { transA, transB }), k });
    }
  }
}

// Binary arithmetic over [257,33] with broadcasting both ways, both operands broadcasting, and rank 3 against rank 2.
{
  const binops: [string, (a: Tensor | number, b: Tensor | number) => Tensor][] = [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div]];
  for (const [name, op] of binops) {
    const gen: Gen = name === 'div' ? (n, s) => randAway(n, s, 0.1, 3) : normal;
    const transcendental = name === 'div'; // WGSL allows 2.5 ulp for division
    const pairs: [number[], number[]][] = [
      [[257, 33], [257, 33]], [[257, 33], [33]], [[33], [257, 33]], [[257, 33], [257, 1]], [[257, 1], [257, 33]],
      [[257, 33], [1, 33]], [[257, 33], []], [[], [257, 33]], [[257, 1], [33]], [[7, 1, 33], [257, 1]], [[1], [7]],
    ];
    for (const [sa, sb] of pairs) {
      cases.push({ name: `${name} [${sa}] with [${sb}]`, args: [f(sa, gen), f(sb, gen)], f: (a, b) => op(a, b), transcendental });
    }
    cases.push({ name: `${name} [257,33] with the number 3`, args: [f([257, 33], gen)], f: (a) => op(a, 3), transcendental });
  }
}

// Unary elementwise, over [257,33] at ordinary ranges and, for the overflow-prone ones, at extreme arguments.
cases.push(
  { name: 'neg', args: [f([257, 33])], f: ops.neg },
  { name: 'relu', args: [f([257, 33])], f: ops.relu },
  { name: 'sigmoid', args: [f([257, 33], scaled(4))], f: ops.sigmoid, transcendental: true },
  { name: 'sigmoid of x in [-50, 50]', args: [f([257, 33], uniform(-50, 50))], f: ops.sigmoid, transcendental: true },
  { name: 'tanh', args: [f([257, 33], scaled(2))], f: ops.tanh, transcendental: true },
  { name: 'tanh of x in [-50, 50]', args: [f([257, 33], uniform(-50, 50))], f: ops.tanh, transcendental: true },
  { name: 'exp', args: [f([257, 33], scaled(3))], f: ops.exp, transcendental: true },
  { name: 'exp of x in [-80, 80]', args: [f([257, 33], uniform(-80, 80))], f: ops.exp, transcendental: true },
  { name: 'log of x in [1e-3, 100]', args: [f([257, 33], uniform(1e-3, 100))], f: ops.log, transcendental: true },
  { name: 'sqrt of x in [1e-3, 100]', args: [f([257, 33], uniform(1e-3, 100))], f: (x) => ops.unary('sqrt', x), transcendental: true },
  { name: 'abs', args: [f([257, 33])], f: (x) => ops.unary('abs', x) },
  { name: 'neg [1]', args: [f([1])], f: ops.neg },
  { name: 'tanh [7,1,33] (rank 3)', args: [f([7, 1, 33])], f: ops.tanh, transcendental: true },
);

// Maps of a size that is a multiple of 4 take four elements an invocation (elementwise.wgsl VEC4) where every input
// is the output's shape, a scalar, or repeats with a period of a multiple of 4; the sizes above, all odd, never do.
// Every unary and binary op here, and the fused chains of its gradients, at such sizes; 'vec4 launch' below checks
// which shapes take it.
const VEC4_BINARY_PAIRS: [number[], number[]][] = [[[36, 68], [36, 68]], [[36, 68], [68]], [[68], [36, 68]], [[36, 68], []], [[], [36, 68]], [[3, 20, 12], [20, 12]], [[36, 6], [6]]];
{
  const binops: [string, (a: Tensor | number, b: Tensor | number) => Tensor][] = [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div]];
  for (const [name, op] of binops) {
    const gen: Gen = name === 'div' ? (n, s) => randAway(n, s, 0.1, 3) : normal;
    for (const [sa, sb] of VEC4_BINARY_PAIRS) cases.push({ name: `${name} [${sa}] with [${sb}] (vec4)`, args: [f(sa, gen), f(sb, gen)], f: (a, b) => op(a, b), transcendental: name === 'div' });
    cases.push({ name: `${name} [36,68] with the number 3 (vec4)`, args: [f([36, 68], gen)], f: (a) => op(a, 3), transcendental: name === 'div' });
  }
  const unary: [string, (x: Tensor) => Tensor, Gen?][] = [
    ['neg', ops.neg], ['relu', ops.relu], ['sigmoid', ops.sigmoid, scaled(4)], ['tanh', ops.tanh, scaled(2)], ['exp', ops.exp, scaled(3)],
    ['log', ops.log, uniform(1e-3, 100)], ['sqrt', (x) => ops.unary('sqrt', x), uniform(1e-3, 100)], ['abs', (x) => ops.unary('abs', x)],
    ['leaky_relu', (x) => act.leakyRelu(x, 0.1)], ['elu', (x) => act.elu(x, 1)], ['softplus', act.softplus, scaled(3)], ['gelu', act.gelu, scaled(2)],
  ];
  for (const [name, fn, gen] of unary) cases.push({ name: `${name} [36,68] (vec4)`, args: [f([36, 68], gen)], f: fn, transcendental: true });
  cases.push({ name: 'tanh(x) + b [12,1] with b [1] (vec4, a one-element bias: the perceptron\'s decision)', args: [f([12, 1]), f([1])], f: (x, b) => ops.add(ops.tanh(x), b), transcendental: true });
  // By rows (strided, the last dim kept, a multiple of 4): transposes, and broadcasts that keep rows whole.
  cases.push(
    { name: 'transpose [3,5,8] perm [1,0,2] (vec4 rows)', args: [f([3, 5, 8])], f: (x) => ops.transpose(x, [1, 0, 2]) },
    { name: 'transpose [5,3,4] perm [1,0,2] (vec4 rows of one vec4)', args: [f([5, 3, 4])], f: (x) => ops.transpose(x, [1, 0, 2]) },
    { name: 'transpose [6,5,5] perm [1,0,2] (rows of 5, the shortest by rows: ROW_MIN 4)', args: [f([6, 5, 5])], f: (x) => ops.transpose(x, [1, 0, 2]) },
    { name: 'transpose [2,3,3,2,8] perm [2,0,3,1,4] (vec4 rows: attention\'s heads)', args: [f([2, 3, 3, 2, 8])], f: (x) => ops.transpose(x, [2, 0, 3, 1, 4]) },
    { name: 'mul [5,1,12] with [1,3,12] (vec4 rows)', args: [f([5, 1, 12]), f([1, 3, 12])], f: (a, b) => ops.mul(a, b) },
    { name: 'x - mean(x) over rows [6,5,12] (vec4 rows, b constant along a row)', args: [f([6, 5, 12])], f: (x) => ops.sub(x, ops.mean(x, -1, true)), k: () => [12, 12] },
    { name: 'mul [5,1,12] with [5,3,1] (vec4 rows, b constant along a row)', args: [f([5, 1, 12]), f([5, 3, 1])], f: (a, b) => ops.mul(a, b), k: (y, [a, b]) => [1, y.size / a.size, y.size / b.size] },
    { name: 'sub [5,3,8] with [] (vec4 rows, a scalar)', args: [f([5, 3, 8]), f([])], f: (a, b) => ops.sub(ops.transpose(a, [1, 0, 2]), b) },
  );
  // A chain fused into one map (relu(x·w + b)'s relu(· + b), tanh(x)·3 - 1).
  cases.push({ name: 'relu(x + b) [12,68] (vec4, fused chain)', args: [f([12, 68]), f([68])], f: (x, b) => ops.relu(ops.add(x, b)) });
  cases.push({ name: 'tanh(x)·3 - 1 [36,68] (vec4, fused chain)', args: [f([36, 68])], f: (x) => ops.sub(ops.mul(ops.tanh(x), 3), 1), transcendental: true });
}

// Reductions: forward reduces x.size / y.size terms; the gradient is a broadcast (no reduction).
{
  const k = (y: Tensor, [x]: Tensor[]) => [x.size / y.size, 1];
  const reductions: [number[], number | number[] | undefined][] = [
    [[257, 33], 0], [[257, 33], 1], [[257, 33], -1], [[257, 33], undefined], [[257, 33], [0, 1]],
    [[7, 33, 257], 1], [[7, 33, 257], [0, 2]], [[7, 33, 257], 2], [[7, 33, 257], [1, 2]], [[7, 33, 257], 0],
    [[1, 7], 0], [[1, 7], 1], [[257], 0], [[1], undefined],
    [[129, 7, 37], undefined], // over 32k elements to one value: rows first, then their sums (ops.sum)
    // Innermost kept dims contiguous, a multiple of 4: four outputs an invocation (reduce.wgsl VEC4), as a dense
    // layer's bias gradient and a conv layer's sum over the batch; the last two keep a strided outer dim.
    [[33, 68], 0], [[9, 4, 7, 4], 0], [[7, 5, 12], 1], [[5, 9, 2, 8], [0, 2]],
  ];
  for (const [name, op] of [['sum', ops.sum], ['mean', ops.mean]] as const) {
    for (const [shape, axes] of reductions) for (const keepDims of [false, true]) {
      cases.push({ name: `${name} [${shape}] axes ${JSON.stringify(axes) ?? 'all'} keepDims ${keepDims}`, args: [f(shape)], f: (x) => op(x, axes, keepDims), k });
    }
  }
}

// Layout: reshape (a view), transpose (a strided copy), broadcastTo (a strided copy; its gradient sums).
cases.push(
  { name: 'reshape [257,33] -> [33,257]', args: [f([257, 33])], f: (x) => ops.reshape(x, [33, 257]) },
  { name: 'reshape [7,33,257] -> [-1,257]', args: [f([7, 33, 257])], f: (x) => ops.reshape(x, [-1, 257]) },
  { name: 'reshape [257,33] -> [8481]', args: [f([257, 33])], f: (x) => ops.reshape(x, [8481]) },
  { name: 'reshape of a computed value', args: [f([257, 33])], f: (x) => ops.reshape(ops.tanh(x), [33, 257]), transcendental: true },
  { name: 'transpose [257,33] (default)', args: [f([257, 33])], f: (x) => ops.transpose(x) },
  { name: 'transpose [1,7] (default)', args: [f([1, 7])], f: (x) => ops.transpose(x) },
  { name: 'transpose [7,33,257] (default: last two)', args: [f([7, 33, 257])], f: (x) => ops.transpose(x) },
  { name: 'transpose [7,33,257] perm [2,0,1]', args: [f([7, 33, 257])], f: (x) => ops.transpose(x, [2, 0, 1]) },
  { name: 'transpose [7,33,257] perm [1,2,0]', args: [f([7, 33, 257])], f: (x) => ops.transpose(x, [1, 2, 0]) },
  { name: 'broadcastTo [33] -> [257,33]', args: [f([33])], f: (x) => ops.broadcastTo(x, [257, 33]) },
  { name: 'broadcastTo [257,1] -> [257,33]', args: [f([257, 1])], f: (x) => ops.broadcastTo(x, [257, 33]) },
  { name: 'broadcastTo [] -> [257,33]', args: [f([])], f: (x) => ops.broadcastTo(x, [257, 33]) },
  { name: 'broadcastTo [33,1] -> [7,33,257]', args: [f([33, 1])], f: (x) => ops.broadcastTo(x, [7, 33, 257]) },
  { name: 'broadcastTo [1] -> [7]', args: [f([1])], f: (x) => ops.broadcastTo(x, [7]) },
  // Rank 6, the WebGPU kernels' maximum: every slot of the shape/stride uniforms is in use.
  { name: 'transpose rank 6 [2,7,1,3,5,2] perm [5,3,1,0,4,2]', args: [f([2, 7, 1, 3, 5, 2])], f: (x) => ops.transpose(x, [5, 3, 1, 0, 4, 2]) },
  { name: 'mul rank 6 [2,7,1,3,1,2] with [7,5,3,1,2]', args: [f([2, 7, 1, 3, 1, 2]), f([7, 5, 3, 1, 2])], f: (a, b) => ops.mul(a, b) },
);
{
  const k = (y: Tensor, [x]: Tensor[]) => [x.size / y.size, 1];
  for (const axes of [[0, 2, 4], [1, 3, 5], [0, 1, 2, 3, 4, 5], [5]]) {
    cases.push({ name: `sum rank 6 [2,7,3,1,5,2] axes ${JSON.stringify(axes)}`, args: [f([2, 7, 3, 1, 5, 2])], f: (x) => ops.sum(x, axes), k });
  }
}

// Losses. Softmax cross-entropy reduces over C classes per row (and the mean over B rows); its gradient is per row.
{
  const logits = (s: number): Gen => (n, seed) => randn(n, seed, s);
  const large: Gen = uniform(-50, 50); // exp(50) alone is 5e21: only a max-subtracted softmax stays finite and exact
  for (const [B, C] of [[33, 7], [257, 10], [1, 7], [7, 1]]) {
    for (const [tag, gen] of [['', logits(3)], [' logits in [-50, 50]', large]] as const) {
      cases.push({
        name: `softmaxCrossEntropyRows B=${B} C=${C}${tag}`, args: [f([B, C], gen), labels(B, C)], f: (z, y) => ops.softmaxCrossEntropyRows(z, y),
        transcendental: true, k: () => [C, C],
      });
      cases.push({
        name: `softmaxCrossEntropy (mean) B=${B} C=${C}${tag}`, args: [f([B, C], gen), labels(B, C)], f: ops.softmaxCrossEntropy,
        transcendental: true, k: () => [B * C, C],
      });
    }
  }
  cases.push({ name: 'mse [257,33]', args: [f([257, 33]), f([257, 33])], f: ops.mse, k: (_, [x]) => [x.size, 1, 1] });
  cases.push({ name: 'mse [1,7]', args: [f([1, 7]), f([1, 7])], f: ops.mse, k: () => [7, 1, 1] });
}

// Sequence-model ops on odd sizes. Ids and lengths are int32 inputs (`labels(...)` draws them); embedding gradients sum
// up to every position's row (K = positions); softmax rows reduce over their keys. RMSNorm and attention are composites
// (their cases come from COMPOSITES below). Top-k's indices pick embedding rows, so the forward compares the picks exactly.
{
  const ids = (shape: number[], V: number): Arg => ({ shape, labels: V });
  const ties: Gen = (n, s) => Float32Array.from(randInt(n, 5, s)); // few distinct values: ties everywhere
  cases.push(
    { name: 'embedding [7,33] ids into [13,257]', args: [ids([7, 33], 13), f([13, 257])], f: seq.embedding, k: () => [1, 7 * 33] },
    { name: 'embedding [1] id into [1,7]', args: [ids([1], 1), f([1, 7])], f: seq.embedding, k: () => [1, 1] },
    // Rows a multiple of 4 long: the vec4 lookup and gradient.
    { name: 'embedding [7,33] ids into [13,36]', args: [ids([7, 33], 13), f([13, 36])], f: seq.embedding, k: () => [1, 7 * 33] },
    { name: 'embedding [5] ids into [2,4]', args: [ids([5], 2), f([2, 4])], f: seq.embedding, k: () => [1, 5] },
    // 33 vec4s a row: two whole chunks of the lookup and a partial one (257 floats: 17 chunks, the last of one).
    { name: 'embedding [3,5] ids into [6,132]', args: [ids([3, 5], 6), f([6, 132])], f: seq.embedding, k: () => [1, 15] },
    { name: 'softmax [257,33]', args: [f([257, 33], scaled(3))], f: (x) => seq.softmax(x), transcendental: true, k: () => [33, 33] },
    { name: 'softmax [7,1] (one key)', args: [f([7, 1])], f: (x) => seq.softmax(x), transcendental: true, k: () => [1, 1] },
    { name: 'softmax causal [3,33,33]', args: [f([3, 33, 33], scaled(3))], f: (x) => seq.softmax(x, { causal: true }), transcendental: true, k: () => [33, 33] },
    { name: 'softmax causal [3,7,33] (Tq < Tk)', args: [f([3, 7, 33], scaled(3))], f: (x) => seq.softmax(x, { causal: true }), transcendental: true, k: () => [33, 33] },
    { name: 'softmax lengths [7,5,33]', args: [f([7, 5, 33], scaled(3)), ids([7], 34)], f: (x, l) => seq.softmax(x, { lengths: l }), transcendental: true, k: () => [33, 33] },
    { name: 'softmax causal and lengths [7,33,33] logits in [-50, 50]', args: [f([7, 33, 33], uniform(-50, 50)), ids([7], 34)], f: (x, l) => seq.softmax(x, { causal: true, lengths: l }), transcendental: true, k: () => [33, 33] },
    { name: 'sequenceCrossEntropy [3,33,7]', args: [f([3, 33, 7], scaled(3)), ids([3, 33], 7)], f: (z, y) => seq.sequenceCrossEntropy(z, y), transcendental: true, k: () => [3 * 33 * 7, 7] },
    { name: 'sequenceCrossEntropy [3,33,7] ignoring label 2', args: [f([3, 33, 7], scaled(3)), ids([3, 33], 7)], f: (z, y) => seq.sequenceCrossEntropy(z, y, { ignoreIndex: 2 }), transcendental: true, k: () => [3 * 33 * 7, 7] },
    { name: 'topk k=7 of [33,257] picking rows of [257,5]', args: [f([33, 257]), f([257, 5])], f: (x, t) => seq.embedding(seq.topk(x, 7), t), k: () => [1, 1, 33 * 7] },
    { name: 'topk k=3 of [7,33] with ties', args: [f([7, 33], ties), f([33, 5])], f: (x, t) => seq.embedding(seq.topk(x, 3), t), k: () => [1, 1, 21] },
    { name: 'argmax of [257,7] with ties', args: [f([257, 7], ties), f([7, 3])], f: (x, t) => seq.embedding(seq.argmax(x), t), k: () => [1, 1, 257] },
  );
}

// Composite ops, from the examples each one declares beside itself (src/graph/composite_ops.ts).
for (const c of COMPOSITES) {
  for (const e of c.examples) cases.push({ name: `${e.name} (composite)`, args: e.shapes.map((s) => f(s)), f: e.f, transcendental: true, k: 'graph' });
}

// A small MLP, end to end: every kernel in one plan, with temp-buffer reuse.
cases.push({
  name: 'MLP: softmaxCrossEntropy(relu(x·W1 + b1)·W2 + b2), B=33, 257 -> 33 -> 10',
  args: [f([33, 257]), f([257, 33], scaled(0.1)), f([33]), f([33, 10], scaled(0.3)), f([10]), labels(33, 10)],
  f: (x, w1, b1, w2, b2, y) => ops.softmaxCrossEntropy(ops.add(ops.matmul(ops.relu(ops.add(ops.matmul(x, w1), b1)), w2), b2), y),
  transcendental: true,
  k: () => [33 * 10, 257 * 33, 257 * 33, 33 * 33, 33 * 10, 33],
});

// The GEMM cases, the dense-layer epilogues and the MLP again on each GEMM kernel by name: the default backend runs
// whichever its adapter takes (on lavapipe 'subgroup', matmul_subgroup.wgsl for every product), and a GPU or a browser without 8-lane subgroups runs 'tiled'; 'packed' runs every product, small and odd ones included,
// through the packing passes and the packed kernel (128-row tiles from M = 256: [257,33]x[33,257], [1030,19]x[19,45]
// and the 259-row dense layer below; 64-row tiles under that).
const PACKED_SHAPE = { M: 513, K: 67, N: 1025 };
const gemmCases = cases.filter((c) => c.name.startsWith('matmul') || c.name.startsWith('MLP'));
gemmCases.push(
  { name: 'dense relu(x·W + b) [33,70]·[70,45] (epilogue)', args: [f([33, 70]), f([70, 45]), f([45])], f: (x, w, b) => ops.relu(ops.add(ops.matmul(x, w), b)), k: () => [70, 45, 33, 33] },
  { name: 'dense relu(x·Wᵀ + b) [259,37]·[70,37]ᵀ (epilogue)', args: [f([259, 37]), f([70, 37]), f([70])], f: (x, w, b) => ops.relu(ops.add(ops.matmul(x, w, { transB: true }), b)), k: () => [37, 70, 259, 259] },
  { name: 'dense sigmoid(b + x·Wᵀ) [7,9]·[5,9]ᵀ (epilogue)', args: [f([7, 9]), f([5, 9]), f([5])], f: (x, w, b) => ops.sigmoid(ops.add(b, ops.matmul(x, w, { transB: true }))), transcendental: true, k: () => [9, 5, 7, 7] },
  // Large, with 513 x 1025 dividing no 64-tile: 128-row packed tiles under 'packed', several row and column tiles of
  // matmul_subgroup (four k a step, K ending on a partial step) under 'subgroup'.
  { name: `matmul [${PACKED_SHAPE.M},${PACKED_SHAPE.K}]x[${PACKED_SHAPE.K},${PACKED_SHAPE.N}] (large)`, args: [f([PACKED_SHAPE.M, PACKED_SHAPE.K]), f([PACKED_SHAPE.K, PACKED_SHAPE.N])], f: (x, w) => ops.matmul(x, w), k: () => [PACKED_SHAPE.K, PACKED_SHAPE.N, PACKED_SHAPE.M] },
);
// packedGemm in kernels.ts: with four k a step the subgroup kernel is ahead of packing on every product measured.
it(`'subgroup' runs every product on matmul_subgroup, the ${PACKED_SHAPE.M}x${PACKED_SHAPE.K}x${PACKED_SHAPE.N} above and 1024³ included; 'packed' packs`, () => {
  const { M, K, N } = PACKED_SHAPE;
  for (const [m, k, n, transB] of [[M, K, N, false], [1024, 1024, 1024, false], [64, 32768, 576, true], [128, 784, 256, false]] as const) {
    expect(packedGemm(m, n, k, transB)).toBe(false);
    expect(launchFor(ops.matmul(input([m, k]), input(transB ? [n, k] : [k, n]), { transB }), 'subgroup').shader).toBe('matmul_subgroup');
  }
  const l = launchFor(ops.matmul(input([M, K]), input([K, N])), 'packed');
  expect([...(l.before ?? []).map((b) => b.shader), l.shader]).toEqual(['gemm_pack', 'gemm_pack', 'matmul_packed']);
  expect(l.defines?.ROWS128).toBe(true);
  expect(launchFor(ops.matmul(input([255, K]), input([K, N])), 'packed').defines?.ROWS128).toBe(false);
});
// elementwise.wgsl's VEC4: which of the maps above take four elements an invocation, and which input reads vec4s.
it('vec4 launch: maps of a multiple of 4 elements whose inputs are the same shape, scalars or repeat in whole vec4s', () => {
  const vec4 = (t: Tensor) => { const d = launchFor(t).defines ?? {}; return [d.VEC4, d.VEC4_A, d.VEC4_B]; };
  const want = [[true, true, true], [true, true, true], [true, true, true], [true, true, false], [true, false, true], [true, true, true], [false, false, false]];
  expect(VEC4_BINARY_PAIRS.map(([sa, sb]) => vec4(ops.add(input(sa), input(sb))))).toEqual(want);
  expect(vec4(ops.tanh(input([36, 68])))).toEqual([true, true, false]);
  // A one-element input whose size-1 dims have strides (a bias [1] over [4, 1]) is a scalar too.
  expect(vec4(ops.add(input([4, 1]), input([1])))).toEqual([true, true, false]);
  expect(vec4(ops.tanh(input([257, 33])))).toEqual([false, false, false]); // odd: one element an invocation
  expect(vec4(ops.add(input([36, 68]), input([36, 1])))).toEqual([true, true, false]); // by rows, b one element a row
  expect(launchFor(ops.add(input([36, 68]), input([68]))).workgroups[0]).toBe(Math.ceil((36 * 68) / 4 / 256));
  // By rows: the last dim kept, a multiple of 4, each input contiguous along it at offsets that are multiples of 4.
  const rows = (t: Tensor) => { const d = launchFor(t).defines ?? {}; return [d.ROWS, d.VEC4]; };
  expect(rows(ops.transpose(input([2, 3, 3, 2, 8]), [2, 0, 3, 1, 4]))).toEqual([true, true]);
  expect(rows(ops.mul(input([5, 1, 12]), input([1, 3, 12])))).toEqual([true, true]);
  expect(rows(ops.transpose(input([3, 5, 10]), [1, 0, 2]))).toEqual([true, false]); // rows of 10
  expect(rows(ops.mul(input([5, 1, 12]), input([5, 3, 1])))).toEqual([true, true]); // b constant along the row: one element
  expect(launchFor(ops.sub(input([16, 8, 12]), input([16, 8, 1]))).defines?.VEC4_B).toBe(false);
  expect(rows(ops.transpose(input([12, 8])))).toEqual([true, false]); // the last dim not kept: [8, 12] read down columns
  expect(rows(ops.transpose(input([6, 5, 5]), [1, 0, 2]))).toEqual([true, false]); // rows of 5
  expect(rows(ops.transpose(input([6, 5, 3]), [1, 0, 2]))).toEqual([false, false]); // rows of 3: per element
});
// The packed operands live in scratch textures of at most 32M vec4s (PANEL_TEXTURE_TEXELS); a product whose panels
// would not fit runs on matmul_subgroup instead, even when 'packed' is asked for.
it('a product whose packed panels would overflow a scratch texture runs unpacked', () => {
  expect(panelsFit(1024, 1024, 1024, 1)).toBe(true);
  expect(panelsFit(4096, 64, 40_000, 1)).toBe(false); // A: 4096 / 4 x 40000 = 41M vec4s
  expect(launchFor(ops.matmul(input([4096, 40_000]), input([40_000, 64])), 'packed').shader).toBe('matmul_subgroup');
  expect(launchFor(ops.matmul(input([1024, 1024]), input([1024, 1024])), 'packed').shader).toBe('matmul_packed');
});
for (const kernel of ['tiled', 'subgroup', 'packed'] as const) {
  describe(`parity: the '${kernel}' GEMM kernel`, () => {
    let be: WebGpuBackend | undefined;
    let why = '', adapter = '';
    beforeAll(async () => {
      try { be = await WebGpuBackend.create({ gemm: kernel }); adapter = be.description; } catch (e) { why = (e as Error).message; }
      if (!be) { const probe = await WebGpuBackend.create({ gemm: 'tiled' }); adapter = probe.description; probe.dispose(); }
    });
    afterAll(() => be?.dispose());
    // lavapipe (CI, and a CPU-only Linux box) offers 8-lane subgroups, so there both kernels must run; elsewhere the
    // subgroup kernel may be unavailable, and the test says why.
    it('is available on this adapter', () => {
      if (kernel === 'tiled' || /llvmpipe/i.test(adapter)) expect(why).toBe('');
      else if (!be) expect(why).toMatch(/subgroup/);
      if (be) expect(be.ctx.gemm).toBe(kernel);
    });
    gemmCases.forEach((c, i) => {
      it(c.name, async () => { if (be) await parity(c, 9000 + 31 * i, be); });
    });
  });
}

describe('parity: WebGPU vs CPU reference, forward and backward', () => {
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => {
    gpu?.dispose();
    if (process.env.PARITY_STATS) console.log(stats.sort().reverse().slice(0, 40).join('\n'));
  });

  it('runs on a real WebGPU adapter', () => {
    expect(gpu.name).toBe('webgpu');
    expect(gpu.description.length).toBeGreaterThan(0);
  });

  cases.forEach((c, i) => {
    it(c.name, async () => { await parity(c, 5000 + 31 * i); });
  });

  // 65535·256 + 7 elements: over the 65535 workgroups one grid dimension allows, so the elementwise kernel runs on a
  // 2-D grid and the last 7 elements come from the second row of workgroups.
  it('a 16.8M-element elementwise op (2-D dispatch grid), flat and broadcast', async () => {
    const n = 65535 * 256 + 7;
    const a = input([n], 'f32', 'a'), b = input([n], 'f32', 'b'), s = input([1], 'f32', 's');
    const prod = ops.mul(a, b); // contiguous operands: the flat path
    const shifted = ops.sub(a, s); // a broadcast operand: the strided path
    const av = randu(n, 1, -2, 2), bv = randu(n, 2, -2, 2), sv = new Float32Array([0.5]);
    const feeds: Feeds = new Map([[a, av], [b, bv], [s, sv]]);
    const [p, q] = (await runOn(gpu, [prod, shifted], feeds)) as Float32Array[];
    expect(p.length).toBe(n);
    // Both ops are exactly rounded in float32, so the GPU must agree bit for bit with Math.fround of the product.
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (p[i] !== Math.fround(av[i] * bv[i]) || q[i] !== Math.fround(av[i] - 0.5)) { bad = i; break; }
    }
    const msg = bad < 0 ? '' : `element ${bad} of ${n}: a·b = ${p[bad]} (expected ${Math.fround(av[bad] * bv[bad])}), ` +
      `a - s = ${q[bad]} (expected ${Math.fround(av[bad] - 0.5)})`;
    expect(bad, msg).toBe(-1);
  });

  // 70,000 output rows: one reduce workgroup per output element, over 65535, so the reduction also uses a 2-D grid.
  it('a sum with 70,000 outputs (2-D dispatch grid in the reduce kernel)', async () => {
    const x = input([70_000, 7], 'f32', 'x');
    const y = ops.sum(x, 1);
    const feeds: Feeds = new Map([[x, randn(70_000 * 7, 9)]]);
    const [want] = await runOn(cpu, [y], feeds);
    const [got] = await runOn(gpu, [y], feeds);
    assertClose(got, want, { atol: ATOL + ATOL_PER_SQRT_K * Math.sqrt(7) * maxAbs(want), rtol: RTOL, what: 'sum [70000,7] axis 1' });
  });

  it('an executable replays: a second run with new feeds gives the new result on both backends', async () => {
    const x = input([33, 7], 'f32', 'x'), w = input([7, 257], 'f32', 'w');
    const y = ops.tanh(ops.matmul(x, w));
    for (const be of [cpu, gpu]) {
      const ex = be.compile([y]);
      for (const seed of [1, 2]) {
        const feeds: Feeds = new Map([[x, randn(33 * 7, seed)], [w, randn(7 * 257, seed + 10)]]);
        ex.run(feeds);
        const [want] = await runOn(cpu, [y], feeds);
        assertClose(await ex.read(y), want, { atol: ATOL + ATOL_PER_SQRT_K * Math.sqrt(7), rtol: RTOL_TRANSCENDENTAL, what: `${be.name} replay seed ${seed}` });
      }
      ex.dispose();
    }
  });
});
