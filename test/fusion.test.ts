// Fusion (src/schedule/fuse.ts): which nodes the scheduler fuses, that it never fuses away a value something else
// needs, and that fused kernels agree with the CPU reference (which runs each group node by node), forward and
// backward, on odd sizes.
//
// Tolerance: a fused group computes exactly the ops it replaces, in the same float32 order, so the GPU must agree
// with the CPU as closely as the unfused elementwise ops do: rtol 1e-5 (transcendental functions differ in the last
// bits between WGSL and JS), and the sums in the backward get atol 1e-5·√K·max|x| as in parity.test.ts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import * as act from '../src/graph/activations.js';
import { conv2d, conv2dBias, maxPool2d } from '../src/graph/conv.js';
import { layerNorm } from '../src/graph/norm.js';
import { setConvRule } from '../src/schedule/conv_algorithm.js';
import { attention } from '../src/graph/attention.js';
import { grad } from '../src/autodiff/grad.js';
import { plan } from '../src/schedule/plan.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Feeds } from '../src/schedule/plan.js';
import { fusedLaunch } from '../src/backends/webgpu/kernels.js';
import { ATTENTION_GEMM_BACKWARD } from '../src/backends/webgpu/attention.js';
import { assertClose, maxAbs, randn, randInt, runBoth, runOn } from './helpers.js';

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

const opsOf = (p: ReturnType<typeof plan>) => [...p.fused.values()].map((g) => g.nodes.map((n) => n.op).join('>'));

describe('what fuses', () => {
  it('a long sum to one value runs as rows then their sums, whatever its shape, and agrees with a plain sum', async () => {
    // One workgroup summing 262,144 products took 1.7 ms on lavapipe; rows first run in parallel.
    for (const shape of [[32, 256, 32], [128 * 1031], [300, 200]]) {
      const x = input(shape), r = input(shape), L = ops.sum(ops.mul(x, r));
      const sums = plan([L]).steps.filter((s) => s.op === 'sum');
      expect(sums.map((s) => s.size), `${shape}`).toEqual([sums[0].size, 1]);
      expect(sums[0].size, `${shape}`).toBeGreaterThanOrEqual(64);
      const size = x.size, feeds = new Map([[x, randn(size, 3)], [r, randn(size, 4)]]);
      const { cpu: c, gpu: g } = await runBoth([L], feeds, gpu, cpu);
      let plain = 0;
      const [a, b] = [feeds.get(x)!, feeds.get(r)!];
      for (let i = 0; i < size; i++) plain += a[i] * b[i];
      assertClose(g[0], c[0], { rtol: 1e-5, atol: 1e-5 * Math.sqrt(size), what: `${shape} gpu` });
      assertClose(c[0], [plain], { rtol: 1e-4, atol: 1e-4 * Math.sqrt(size), what: `${shape} against float64` });
    }
    const prime = input([32771]); // no divisor to split by: one sum
    expect(plan([ops.sum(prime)]).steps.filter((s) => s.op === 'sum').length).toBe(1);
  });

  it('a dense layer is one GEMM (bias and ReLU in its epilogue), and the backward reads the ReLU output', () => {
    const x = input([5, 7]), w = input([7, 3]), b = input([3]);
    const h = ops.relu(ops.add(ops.matmul(x, w), b));
    const L = ops.sum(h);
    const [dw] = grad(L, [w]);
    const fused = plan([L, dw]), plain = plan([L, dw], [], { fuse: false });
    expect(opsOf(fused)).toEqual(['matmul>add>relu']);
    expect(fused.stats.kernels).toBe(plain.stats.kernels - 2);
    expect(fused.steps.some((s) => s.op === 'add' && s.shape.length === 2)).toBe(false);
  });

  it("a conv layer (conv2d with its bias, then ReLU) is one implicit-GEMM kernel, the bias and ReLU its epilogue", () => {
    const x = input([3, 2, 9, 9]), w = input([4, 2, 3, 3]), b = input([4]);
    const y = ops.relu(conv2d(x, w, { padding: 1 }, b));
    const p = plan([ops.sum(y)]), groups = [...p.fused.entries()];
    expect(groups.map(([, g]) => g.pattern?.kernel)).toEqual(['conv2d']);
    expect(groups[0][0]).toBe(y);
    expect(p.steps).toEqual([y, p.steps[1]]); // the conv kernel and the sum
  });

  it("a bias added after conv2d (outside the composite) still fuses with the ReLU after it, reading the conv kernel's NCHW output", () => {
    const x = input([3, 2, 9, 9]), w = input([4, 2, 3, 3]), b = input([4]);
    const y = ops.relu(conv2dBias(conv2d(x, w, { padding: 1 }), b));
    expect(opsOf(plan([ops.sum(y)])).filter((o) => !o.includes('im2col'))).toEqual(['add>relu>sum']);
  });

  it("a dense layer's backward applies the activation's gradient in the GEMM's epilogue: dH = (dY·Wᵀ) ∘ act'(H)", () => {
    const x = input([5, 7]), w1 = input([7, 6]), w2 = input([6, 3]);
    for (const [f, g] of [[ops.relu, 'relu_grad'], [ops.sigmoid, 'sigmoid_grad'], [ops.tanh, 'tanh_grad'], [act.gelu, 'gelu_grad']] as const) {
      const h = f(ops.matmul(x, w1));
      const [dw1] = grad(ops.sum(ops.matmul(h, w2)), [w1]);
      expect(opsOf(plan([dw1]))).toContain(`matmul>${g}`);
    }
    // A transformer's MLP: the activation on [batch, time, features], the products on [batch·time, features].
    const x3 = input([2, 5, 7]);
    const h3 = act.gelu(ops.reshape(ops.matmul(ops.reshape(x3, [10, 7]), w1), [2, 5, 6]));
    const [dx3] = grad(ops.sum(ops.matmul(ops.reshape(h3, [10, 6]), w2)), [x3]);
    expect(opsOf(plan([dx3]))).toContain('matmul>reshape>gelu_grad');
    // Not: a gradient whose other operand is the product itself, or a leaky ReLU's (not in the epilogue).
    const m = ops.matmul(x, w1);
    expect(opsOf(plan([ops.binary('relu_grad', m, m)]))).toEqual([]);
    const [dx] = grad(ops.sum(ops.matmul(act.leakyRelu(ops.matmul(x, w1)), w2)), [x]);
    expect(opsOf(plan([dx])).some((o) => o.startsWith('matmul>leaky'))).toBe(false);
  });

  it("each row's largest log-probability, maxout(logSoftmax(x), C), is one log-softmax kernel storing one value a row", () => {
    const x = input([6, 10]);
    expect(opsOf(plan([act.maxout(act.logSoftmax(x), 10)]))).toEqual(['log_softmax>maxout']);
    expect(opsOf(plan([act.maxout(act.logSoftmax(x), 5)]))).toEqual([]); // two values a row
    const l = act.logSoftmax(x);
    expect(opsOf(plan([act.maxout(l, 10), l]))).toEqual([]);
  });

  it("max pooling's backward applies the gradient of the ReLU before it, in one kernel", () => {
    const x = input([2, 3, 8, 8]), R = input([2, 3, 4, 4]);
    const [dx] = grad(ops.sum(ops.mul(maxPool2d(ops.relu(x), 2), R)), [x]);
    expect(opsOf(plan([dx]))).toContain('maxpool_grad>relu_grad');
  });

  it('never fuses away a value that is an output or has a second reader', () => {
    const x = input([4, 6]), b = input([6]);
    const s = ops.add(x, b);
    expect(opsOf(plan([ops.relu(s), s]))).toEqual([]); // s is an output
    expect(opsOf(plan([ops.add(ops.relu(s), ops.tanh(s))]))).toEqual([]); // s has two readers
    const t = ops.transpose(x);
    expect(opsOf(plan([ops.neg(t), t]))).toEqual([]);
  });

  it('does not chain a broadcast (an identity of a larger shape) onto the op it broadcasts', () => {
    const x = input([1, 6]);
    // relu [1,6] then broadcast to [5,6] must stay two kernels; the broadcast and the neg after it chain.
    expect(opsOf(plan([ops.neg(ops.broadcastTo(ops.relu(x), [5, 6]))]))).toEqual(['identity>neg']);
  });

  it('puts only a row bias and ReLU, sigmoid or tanh into a GEMM epilogue', () => {
    const x = input([5, 7]), w = input([7, 3]), b = input([3]), col = input([5, 1]);
    expect(opsOf(plan([ops.sigmoid(ops.add(b, ops.matmul(x, w)))]))).toEqual(['matmul>add>sigmoid']);
    expect(opsOf(plan([ops.add(ops.matmul(x, w), b)]))).toEqual(['matmul>add']);
    expect(opsOf(plan([ops.exp(ops.add(ops.matmul(x, w), b))]))).toEqual(['add>exp']); // no exp in the epilogue
    expect(opsOf(plan([ops.add(ops.matmul(x, w), col)]))).toEqual([]); // a column, not a row
  });

  it('layer norm is one kernel in inference, and in training one kernel each way (weight and bias gradients stay sums)', () => {
    const x = input([7, 33]), w = input([33]), b = input([33]), R = input([7, 33]);
    const y = layerNorm(ops.tanh(x), w, b);
    expect(plan([y]).steps.map((s) => s.op)).toEqual(['tanh', 'add']);
    expect([...plan([y]).fused.values()].map((g) => g.pattern?.kernel)).toEqual(['layer_norm']);
    expect([...plan([y]).fused.values()].map((g) => g.outputs)).toEqual([undefined]); // no x̂ where nothing reads it
    const L = ops.sum(ops.mul(y, R));
    const [dx, dw, db] = grad(L, [x, w, b]);
    const fused = plan([L, dx, dw, db]), plain = plan([L, dx, dw, db], [], { fuse: false });
    // Training: dx recomputes the row statistics from x instead of reading the ~20 backward nodes' results; dw sums
    // dy·x̂, so the forward kernel writes x̂ beside y, and nothing else of the forward composite is a step.
    const kernels = [...fused.fused.values()].flatMap((g) => g.pattern ? [g.pattern.kernel] : []);
    expect(kernels.sort()).toEqual(['layer_norm', 'layer_norm_grad']);
    const forward = [...fused.fused.values()].find((g) => g.pattern?.kernel === 'layer_norm')!;
    const xhat = forward.outputs![1]!;
    expect([forward.outputs!.length, forward.outputs![0], xhat.op, xhat.shape]).toEqual([2, y, 'mul', [7, 33]]);
    expect(fused.bufferOf.has(xhat)).toBe(true);
    const steps = fused.steps.map((s) => fused.fused.get(s)?.pattern?.kernel ?? fused.fused.get(s)?.nodes.map((n) => n.op).join('>') ?? s.op);
    expect(steps).toEqual(['tanh', 'layer_norm', 'mul>sum', 'layer_norm_grad', 'tanh_grad', 'mul', 'sum', 'sum']); // dw = sum(dy·x̂), db = sum(dy)
    expect(fused.stats.kernels).toBeLessThan(plain.stats.kernels - 25);
    // Relu after it: the relu runs on its own, reading the fused kernel's output.
    expect([...plan([ops.relu(y)]).fused.values()].map((g) => g.pattern?.kernel ?? g.nodes.map((n) => n.op).join('>'))).toEqual(['layer_norm']);
  });

  it("a mean's backward, 1 · (1/n) broadcast over the batch, is one constant: no kernel computes it", () => {
    const x = input([5, 7]);
    const [dx] = grad(ops.mean(ops.tanh(x)), [x]);
    const p = plan([dx]);
    expect(opsOf(p)).toEqual(['tanh>tanh_grad']); // the constant is the chain's operand, not a buffer it binds
    const c = dx.inputs.find((t) => t.op === 'const')!;
    expect([c.shape, c.attrs]).toEqual([[5, 7], { value: Math.fround(1 / 35) }]);
  });

  it("a product's gradient seeded with ones is the other factor itself, on both backends: x · 1 is x", async () => {
    const x = input([6, 9]), r = input([6, 9]), w = input([9]);
    const [dx, dr] = grad(ops.sum(ops.mul(x, r)), [x, r]);
    expect([dx, dr]).toEqual([r, x]); // no kernel multiplies by the broadcast ones
    const [dw] = grad(ops.sum(ops.mul(x, w)), [w]); // broadcast: still summed down to w's shape
    const feeds = new Map([[x, randn(54, 1)], [r, randn(54, 2)], [w, randn(9, 3)]]);
    const { cpu: c, gpu: g } = await runBoth([dx, dr, dw], feeds, gpu, cpu);
    expect(Array.from(c[0])).toEqual(Array.from(feeds.get(r)!));
    expect(Array.from(g[1])).toEqual(Array.from(feeds.get(x)!));
    const a = feeds.get(x)!, colSums = Array.from({ length: 9 }, (_, j) => [0, 1, 2, 3, 4, 5].reduce((s, i) => s + a[i * 9 + j], 0));
    assertClose(g[2], colSums, { rtol: 1e-5, atol: 1e-5 });
    assertClose(c[2], colSums, { rtol: 1e-5, atol: 1e-5 });
  });

  it('an upstream gradient given to grad (a vector-Jacobian product) is the gradient a loss sum(y · dy) sends: the same graph, and fused attention driven by it agrees on both backends', async () => {
    const [N, T, dh] = [3, 37, 16];
    const q = input([N, T, dh], 'f32', 'q'), k = input([N, T, dh], 'f32', 'k'), v = input([N, T, dh], 'f32', 'v'), R = input([N, T, dh], 'f32', 'R');
    const y = attention(q, k, v, { causal: true, recompute: true });
    const vjp = grad(y, [q, k, v], R), viaLoss = grad(ops.sum(ops.mul(y, R)), [q, k, v]);
    const kernels = (outs: Tensor[]) => [...plan(outs).fused.values()].flatMap((g) => (g.pattern ? [g.pattern.kernel] : [])).sort();
    expect(kernels([y, ...vjp])).toEqual(['attention', 'attention_grad']);
    const feeds: Feeds = new Map([[q, randn(q.size, 1, 1.5)], [k, randn(k.size, 2, 1.5)], [v, randn(v.size, 3)], [R, randn(R.size, 5)]]);
    const { cpu: want, gpu: got } = await runBoth([y, ...vjp, ...viaLoss], feeds, gpu, cpu);
    for (let i = 1; i <= 3; i++) {
      // dy·1 folds to dy, so the loss's gradient is the same graph: the same values, bit for bit, on each backend.
      expect(Array.from(want[i])).toEqual(Array.from(want[i + 3]));
      expect(Array.from(got[i])).toEqual(Array.from(got[i + 3]));
      assertClose(got[i], want[i], { atol: 1e-6 + 1e-6 * Math.sqrt(T * T * dh) * maxAbs(want[i]), rtol: 2e-5, what: `d${'qkv'[i - 1]}` });
    }
  });

  it("a sum of each row of a chain (its trailing dims, 64 rows or more) runs in the chain's kernel and adds as the reduce kernel would: the same bits", async () => {
    const x = input([32, 256, 32]), r = input([32, 256, 32]), a = input([100, 50]), b = input([100, 50]), c = input([70, 3, 11]), t = input([40, 80]), u = input([80, 40]);
    // A long sum's first half (over a reshape), a row sum, a row mean, two trailing dims, a transposed operand.
    expect(opsOf(plan([ops.sum(ops.mul(x, r))]))).toEqual(['mul>reshape>sum']);
    expect(opsOf(plan([ops.sum(ops.tanh(a), 1)]))).toEqual(['tanh>sum']);
    expect(opsOf(plan([ops.mean(ops.mul(a, b), -1)]))).toEqual(['mul>sum>mul']);
    expect(opsOf(plan([ops.sum(ops.exp(c), [1, 2])]))).toEqual(['exp>sum']);
    expect(opsOf(plan([ops.sum(ops.mul(ops.transpose(t), u), 1)]))).toEqual(['transpose>mul>sum']);
    // Not fused: fewer than 64 rows, a sum over a leading dim, a map with a second reader, a bare row sum.
    expect(opsOf(plan([ops.sum(ops.tanh(input([63, 50])), 1)]))).toEqual([]);
    expect(opsOf(plan([ops.sum(ops.tanh(input([50, 100])), 0)]))).toEqual([]);
    const m = ops.tanh(a);
    expect(opsOf(plan([m, ops.sum(m, 1)]))).toEqual([]);
    expect(opsOf(plan([ops.mul(ops.sum(a, 1), 2)]))).toEqual([]);

    const cases: [Tensor[], (...xs: Tensor[]) => Tensor, number | number[]][] = [
      [[a, b], (p, q) => ops.mul(p, q), 1], [[c], (p) => ops.exp(ops.mul(p, 0.3)), [1, 2]],
      [[t, u], (p, q) => ops.sub(ops.transpose(p), q), 1], [[x, r], (p, q) => ops.mul(p, q), [0, 1, 2]],
    ];
    for (const [ins, f, axes] of cases) {
      const feeds: Feeds = new Map(ins.map((v, i) => [v, randn(v.size, 40 + i)]));
      const fused = ops.sum(f(...ins), axes), map = f(...ins), unfused = ops.sum(map, axes);
      const what = `${JSON.stringify(ins[0].shape)} axes ${axes}`;
      expect(opsOf(plan([unfused, map])).filter((g) => g.includes('sum')), what).toEqual([]); // the map is an output: its sum stays the reduce kernel's
      const [got] = await runOn(gpu, [fused], feeds), [plain] = await runOn(gpu, [unfused, map], feeds), [want] = await runOn(cpu, [fused], feeds);
      expect(Array.from(got), what).toEqual(Array.from(plain));
      assertClose(got, want, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(ins[0].size / got.length), what });
    }
  });

  it('chains at most four elementwise ops per kernel, those after the first unary or with a constant operand', () => {
    const x = input([4, 6]), y = input([4, 6]);
    expect(opsOf(plan([ops.tanh(ops.relu(ops.neg(ops.exp(ops.sigmoid(x)))))]))).toEqual(['sigmoid>exp>neg>relu']);
    expect(opsOf(plan([ops.binary('relu_grad', ops.sub(1e-5, ops.add(x, y)), 1)]))).toEqual(['add>sub>relu_grad']);
    expect(opsOf(plan([ops.mul(ops.neg(x), y)]))).toEqual([]); // y is no constant: two kernels
  });

  it("a sum of a chain's every element, and a constant factor after it, run in the chain's kernel", () => {
    const x = input([6, 5]), y = input([6, 5]);
    // The training accuracy's count (src/train/losses.ts) and a mean.
    expect(opsOf(plan([ops.sum(ops.binary('relu_grad', ops.sub(1e-5, ops.add(x, y)), 1))]))).toEqual(['add>sub>relu_grad>sum']);
    expect(opsOf(plan([ops.mean(x)]))).toEqual(['sum>mul']);
    expect(opsOf(plan([ops.mean(ops.tanh(x))]))).toEqual(['tanh>sum>mul']);
    // Not fused: a sum along one axis, a sum with a second reader, a factor that is no constant.
    expect(opsOf(plan([ops.sum(ops.tanh(x), 0)]))).toEqual([]);
    const s = ops.sum(ops.tanh(x));
    expect(opsOf(plan([ops.mul(s, 2), s]))).toEqual(['tanh>sum']);
    expect(opsOf(plan([ops.mul(ops.sum(x), ops.sum(y))]))).toEqual([]);
  });
});

interface Case { name: string; shapes: number[][]; f: (...xs: Tensor[]) => Tensor; forwardOnly?: boolean }

async function parity(c: Case, seed: number, be: WebGpuBackend = gpu): Promise<void> {
  const xs = c.shapes.map((s, i) => input(s, 'f32', `x${i}`));
  const y = c.f(...xs);
  const R = input(y.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(y, R));
  // y is consumed by the loss only: outputs are the gradients and L, so y's chain can fuse.
  const outputs = c.forwardOnly ? [L] : [L, ...grad(L, xs)];
  expect(plan(outputs).fused.size).toBeGreaterThan(0);
  const feeds: Feeds = new Map([...xs.map((x, i) => [x, randn(x.size, seed + i)] as const), [R, randn(R.size, seed + 99)]]);
  const { cpu: want, gpu: got } = await runBoth(outputs, feeds, be, cpu);
  outputs.forEach((t, i) => {
    const K = i === 0 ? y.size : 64; // L sums every element; a gradient sums at most a broadcast dim
    assertClose(got[i], want[i], { atol: 1e-6 + 1e-5 * Math.sqrt(K) * maxAbs(want[i]), rtol: 1e-5, what: `${c.name}: ${i ? `dL/dx${i - 1}` : 'L'}` });
  });
}

describe('fused kernels: WebGPU vs CPU reference, forward and backward', () => {
  const cases: Case[] = [
    { name: 'relu(x + b), [33,257] + [257]', shapes: [[33, 257], [257]], f: (x, b) => ops.relu(ops.add(x, b)) },
    { name: 'tanh(x · y), [7,13]', shapes: [[7, 13], [7, 13]], f: (x, y) => ops.tanh(ops.mul(x, y)) },
    // Forward only: leaky ReLU's gradient reads its input, which then has two readers and does not fuse.
    { name: 'leaky_relu(x - s) with its slope (the second op\'s alpha), [1,9] - []', shapes: [[1, 9], []], f: (x, s) => act.leakyRelu(ops.sub(x, s), -0.3), forwardOnly: true },
    { name: 'x + transpose(y) (rows of 9), [5,3,9]', shapes: [[5, 3, 9], [3, 5, 9]], f: (x, y) => ops.add(x, ops.transpose(y, [1, 0, 2])) },
    { name: 'sigmoid(transpose(x)) (rows of 1), [3,7,5] -> [5,3,7] -> [3,5,7]', shapes: [[7, 3, 5]], f: (x) => ops.sigmoid(ops.transpose(x, [2, 1, 0])) },
    { name: 'relu(transpose(x) + b), a conv-like [O,N,P] -> [N,O,P] with bias [O,1]', shapes: [[4, 3, 25], [4, 1]], f: (x, b) => ops.relu(ops.add(ops.transpose(x, [1, 0, 2]), b)) },
    { name: 'dense relu(x·W + b), [33,70]·[70,45] + [45] (GEMM epilogue)', shapes: [[33, 70], [70, 45], [45]], f: (x, w, b) => ops.relu(ops.add(ops.matmul(x, w), b)) },
    { name: 'dense tanh(b + x·Wᵀ), [7,9]·[5,9]ᵀ + [1,5] (GEMM epilogue)', shapes: [[7, 9], [5, 9], [1, 5]], f: (x, w, b) => ops.tanh(ops.add(b, ops.matmul(x, w, { transB: true }))) },
    { name: 'dense sigmoid(x·W + b), [130,66]·[66,70] + [70] (8x8 blocks, GEMM epilogue)', shapes: [[130, 66], [66, 70], [70]], f: (x, w, b) => ops.sigmoid(ops.add(ops.matmul(x, w), b)) },
    // The backward's dH = (dY·Wᵀ) ∘ act'(H) in the second product's epilogue; the first layer's bias keeps dH's readers apart.
    { name: 'dense relu(x·W1)·W2, [33,70]·[70,45]·[45,9] (relu_grad in the GEMM epilogue)', shapes: [[33, 70], [70, 45], [45, 9]], f: (x, w1, w2) => ops.matmul(ops.relu(ops.matmul(x, w1)), w2) },
    { name: 'dense tanh(x·W1)·W2, [130,66]·[66,70]·[70,67] (tanh_grad in the GEMM epilogue)', shapes: [[130, 66], [66, 70], [70, 67]], f: (x, w1, w2) => ops.matmul(ops.tanh(ops.matmul(x, w1)), w2) },
    { name: 'dense sigmoid(x·W1)·W2, [3,5]·[5,2]·[2,7] (sigmoid_grad in the GEMM epilogue)', shapes: [[3, 5], [5, 2], [2, 7]], f: (x, w1, w2) => ops.matmul(ops.sigmoid(ops.matmul(x, w1)), w2) },
    { name: 'dense gelu(x·W1)·W2, [33,70]·[70,45]·[45,9] (gelu_grad in the GEMM epilogue)', shapes: [[33, 70], [70, 45], [45, 9]], f: (x, w1, w2) => ops.matmul(act.gelu(ops.matmul(x, w1)), w2) },
    { name: 'MLP on [3,11,70]: gelu(x·W1) through reshapes, ·W2 (gelu_grad in the GEMM epilogue, through the reshape)', shapes: [[3, 11, 70], [70, 45], [45, 9]],
      f: (x, w1, w2) => ops.matmul(ops.reshape(act.gelu(ops.reshape(ops.matmul(ops.reshape(x, [33, 70]), w1), [3, 11, 45])), [33, 45]), w2) },
    { name: 'dense x·W + b, [3,5]·[5,2] + [2] (GEMM epilogue, no activation)', shapes: [[3, 5], [5, 2], [2]], f: (x, w, b) => ops.add(ops.matmul(x, w), b) },
    // Outputs a multiple of 4 wide: the subgroup kernel stores vec4s through the epilogue (STORE_V4), reading the
    // bias, or the activation's values, as vec4s.
    { name: 'dense relu(x·W + b), [33,70]·[70,44] + [44] (GEMM epilogue, vec4 stores)', shapes: [[33, 70], [70, 44], [44]], f: (x, w, b) => ops.relu(ops.add(ops.matmul(x, w), b)) },
    { name: 'dense sigmoid(x·W1 + b)·W2, [130,66]·[66,72]·[72,67] (64-column tiles, both epilogues, vec4 stores)', shapes: [[130, 66], [66, 72], [72], [72, 67]], f: (x, w1, b, w2) => ops.matmul(ops.sigmoid(ops.add(ops.matmul(x, w1), b)), w2) },
    { name: 'dense gelu(x·W1)·W2, [33,70]·[70,44]·[44,9] (gelu_grad in the GEMM epilogue, vec4 stores)', shapes: [[33, 70], [70, 44], [44, 9]], f: (x, w1, w2) => ops.matmul(act.gelu(ops.matmul(x, w1)), w2) },
    { name: 'maxPool2d(relu(x)) 2x2, [3,4,9,7] (backward: relu_grad in the tiled pooling backward)', shapes: [[3, 4, 9, 7]], f: (x) => maxPool2d(ops.relu(x), 2) },
    { name: 'maxPool2d(relu(x)) 2x2, [2,3,8,6] (backward: relu_grad in the pooling backward by rows of windows)', shapes: [[2, 3, 8, 6]], f: (x) => maxPool2d(ops.relu(x), 2) },
    { name: 'maxPool2d(relu(x)) 2x2, [2,3,8,12] (backward: relu_grad in the pooling backward by rows of windows, two windows a load)', shapes: [[2, 3, 8, 12]], f: (x) => maxPool2d(ops.relu(x), 2) },
    { name: 'maxPool2d(relu(x)) 3x3 stride 2 pad 1, [2,3,8,9] (backward: relu_grad in the pooling backward)', shapes: [[2, 3, 8, 9]], f: (x) => maxPool2d(ops.relu(x), 3, { stride: 2, padding: 1 }) },
    { name: 'conv2d + bias + relu, [3,2,9,9] * [4,2,3,3]', shapes: [[3, 2, 9, 9], [4, 2, 3, 3], [4]], f: (x, w, b) => ops.relu(conv2dBias(conv2d(x, w, { padding: 1 }), b)) },
    // Every case's loss L = sum(y · R) is itself a chain and its sum in one kernel; these add sums inside y.
    { name: 'a count: sum(relu_grad(0.5 - (a + b), 1)), [37] (a chain with constants on either side, summed)', shapes: [[37], [37]], f: (a, b) => ops.sum(ops.binary('relu_grad', ops.sub(0.5, ops.add(a, b)), 1)), forwardOnly: true },
    { name: 'mean(tanh(x)), [5,7,9] (the sum and its factor in the chain; the backward a constant)', shapes: [[5, 7, 9]], f: (x) => ops.mean(ops.tanh(x)) },
    { name: 'maxout(logSoftmax(x), 37), [9,37] (the log-softmax kernel storing each row\'s max)', shapes: [[9, 37]], f: (x) => act.maxout(act.logSoftmax(x), 37), forwardOnly: true },
    { name: 'maxout(logSoftmax(x), 5), [5] (one row)', shapes: [[5]], f: (x) => act.maxout(act.logSoftmax(x), 5), forwardOnly: true },
    { name: 'mean(x), [1003] (a bare sum and its factor)', shapes: [[1003]], f: (x) => ops.mean(x) },
    { name: 'relu(2 - exp(x · y)) · 3, [9,11] (four ops chained, the fifth on its own)', shapes: [[9, 11], [9, 11]], f: (x, y) => ops.mul(ops.relu(ops.sub(2, ops.exp(ops.mul(x, y)))), 3), forwardOnly: true },
    { name: 'sum(tanh(x) · y, -1), [67,33] (each row summed in the chain\'s kernel)', shapes: [[67, 33], [67, 33]], f: (x, y) => ops.sum(ops.mul(ops.tanh(x), y), -1) },
    { name: 'mean((x - y)·(x - y), [1, 2]), [65,3,7] (d has two reads: d·d, its row sums and their 1/n in one kernel)', shapes: [[65, 3, 7], [65, 3, 7]], f: (x, y) => { const d = ops.sub(x, y); return ops.mean(ops.mul(d, d), [1, 2]); }, forwardOnly: true },
    { name: 'sum(relu(transpose(x) + b)), [4,3,25] (a strided chain summed)', shapes: [[4, 3, 25], [4, 1]], f: (x, b) => ops.sum(ops.relu(ops.add(ops.transpose(x, [1, 0, 2]), b))), forwardOnly: true },
  ];
  cases.forEach((c, i) => it(c.name, async () => { await parity(c, 500 + 11 * i); }));

  // The epilogues live in the store the three GEMM kernels share (shaders/gemm_store.wgsl): each kernel runs them.
  for (const gemm of ['tiled', 'packed'] as const) {
    it(`the GEMM epilogues on the ${gemm} kernel: relu(x·W1 + b)·W2, [67,70]·[70,66]·[66,65]`, async () => {
      const be = await WebGpuBackend.create({ gemm });
      try {
        await parity({ name: gemm, shapes: [[67, 70], [70, 66], [66], [66, 65]], f: (x, w1, b, w2) => ops.matmul(ops.relu(ops.add(ops.matmul(x, w1), b)), w2) }, 900, be);
      } finally { be.dispose(); }
    });
  }
});

// The implicit-GEMM conv kernels (shaders/conv_gemm.wgsl) against the composite they replace (im2col, GEMM, col2im,
// run node by node on the CPU), forward with its epilogue and both gradients, on sizes that divide no tile: strides,
// padding, dilation, 1x1, odd channels, one image, a weight gradient long enough to split k; on the subgroup kernel
// where the adapter has subgroups, and on the kernel without them (gemm 'tiled') always.
describe('implicit-GEMM conv2d: WebGPU kernels vs the composite', () => {
  let tiled: WebGpuBackend;
  beforeAll(async () => { tiled = await WebGpuBackend.create({ gemm: 'tiled' }); });
  afterAll(() => { tiled?.dispose(); setConvRule(); });
  type ConvCase = { name: string; x: number[]; w: number[]; o: Parameters<typeof conv2d>[2]; bias?: boolean; act?: (t: Tensor) => Tensor };
  const cases: ConvCase[] = [
    { name: 'pad 1, bias, ReLU epilogue', x: [3, 5, 9, 7], w: [6, 5, 3, 3], o: { padding: 1 }, bias: true, act: ops.relu },
    { name: 'stride [2,3], pad [1,0], dilation [2,1], tanh epilogue', x: [2, 3, 11, 10], w: [33, 3, 3, 2], o: { stride: [2, 3], padding: [1, 0], dilation: [2, 1] }, act: ops.tanh },
    { name: '1x1, odd channels, bias', x: [2, 7, 5, 3], w: [17, 7, 1, 1], o: {}, bias: true },
    { name: 'one image, 5x5 pad 2 stride 2, sigmoid epilogue', x: [1, 3, 8, 9], w: [4, 3, 5, 5], o: { stride: 2, padding: 2 }, bias: true, act: ops.sigmoid },
    { name: 'split-k weight gradient (K = 8·20·20), 16 channels', x: [8, 16, 20, 20], w: [16, 16, 3, 3], o: { padding: 1 }, bias: true, act: ops.relu },
  ];
  // Every pass implicit (the default rule sends a strided input gradient to im2col: see the last case).
  for (const c of cases) {
    it(c.name, async () => {
      setConvRule(() => 'implicit');
      const x = input(c.x, 'f32', 'x'), w = input(c.w, 'f32', 'w'), b = input([c.w[0]], 'f32', 'b');
      const z = conv2d(x, w, c.o, c.bias ? b : undefined), y = c.act ? c.act(z) : z;
      const R = input(y.shape, 'f32', 'R'), wrt = c.bias ? [x, w, b] : [x, w];
      const grads = grad(ops.sum(ops.mul(y, R)), wrt), outputs = [y, ...grads];
      const p = plan(outputs), kernels = [...p.fused.values()].flatMap((g) => (g.pattern ? [g.pattern.kernel] : [])).sort();
      expect(kernels).toEqual(['conv2d', 'conv2d_dw', 'conv2d_dx']);
      expect(p.steps.filter((s) => !p.fused.has(s)).map((s) => s.op).filter((op) => op === 'im2col' || op === 'col2im' || op === 'matmul')).toEqual([]);
      if (c.act) expect(p.fused.get(y)?.pattern?.kernel).toBe('conv2d');
      const [N, C] = c.x, [O, , KH, KW] = c.w, P = y.shape[2] * y.shape[3];
      const feeds: Feeds = new Map([[x, randn(x.size, 1)], [w, randn(w.size, 2, 1 / Math.sqrt(C * KH * KW))], [b, randn(O, 3)], [R, randn(R.size, 4)]]);
      if (!c.bias) feeds.delete(b);
      // Reductions: C·KH·KW per output, O·KH·KW per input pixel, N·OH·OW per weight and bias.
      const K = [C * KH * KW, O * KH * KW, N * P, N * P];
      for (const [be, what] of [[gpu, gpu.ctx.gemm], [tiled, 'tiled']] as const) {
        const { cpu: want, gpu: got } = await runBoth(outputs, feeds, be, cpu);
        outputs.forEach((_, i) => {
          assertClose(got[i], want[i], { atol: 1e-6 + 1e-5 * Math.sqrt(K[i]) * maxAbs(want[i]), rtol: 2e-5, what: `${c.name} (${what}): ${['y', 'dx', 'dw', 'db'][i]}` });
        });
      }
      setConvRule();
    });
  }
  it('the default rule: a strided input gradient runs as a GEMM and col2im, the other passes implicit', async () => {
    setConvRule();
    const x = input([2, 3, 9, 8], 'f32', 'x'), w = input([5, 3, 3, 3], 'f32', 'w'), R = input([2, 5, 5, 4], 'f32', 'R');
    const y = conv2d(x, w, { stride: 2, padding: 1 });
    const outputs = [y, ...grad(ops.sum(ops.mul(y, R)), [x, w])];
    const p = plan(outputs);
    expect([...p.fused.values()].flatMap((g) => (g.pattern ? [g.pattern.kernel] : [])).sort()).toEqual(['conv2d', 'conv2d_dw']);
    expect(p.steps.filter((s) => !p.fused.has(s)).map((s) => s.op)).toEqual(expect.arrayContaining(['matmul', 'col2im']));
    const feeds: Feeds = new Map([[x, randn(x.size, 1)], [w, randn(w.size, 2, 0.2)], [R, randn(R.size, 3)]]);
    const { cpu: want, gpu: got } = await runBoth(outputs, feeds, gpu, cpu);
    const K = [27, 45, 40];
    outputs.forEach((_, i) => assertClose(got[i], want[i], { atol: 1e-6 + 1e-5 * Math.sqrt(K[i]) * maxAbs(want[i]), rtol: 2e-5, what: `default rule: ${['y', 'dx', 'dw'][i]}` }));
  });
});

// The fused layer norm kernels against the composite they replace (the CPU reference runs the composite's nodes one by
// one), on sizes that divide no workgroup: forward alone (inference), and dx, dweight, dbias in training.
describe('fused layer norm: WebGPU kernel vs the composite', () => {
  // [65, 12], [3, 7, 128] and [1, 4]: features a multiple of 4, read as vec4s (VEC4).
  for (const shape of [[7, 33], [257, 7], [3, 5, 129], [2, 1], [65, 3], [65, 12], [3, 7, 128], [1, 4]]) {
    it(`layerNorm [${shape}]`, async () => {
      const C = shape[shape.length - 1];
      const x = input(shape, 'f32', 'x'), w = input([C], 'f32', 'w'), b = input([C], 'f32', 'b'), R = input(shape, 'f32', 'R');
      const y = layerNorm(x, w, b, 1e-4);
      // Training: y and the gradients, the forward kernel writing x̂ for dweight beside y.
      const grads = [y, ...grad(ops.sum(ops.mul(y, R)), [x, w, b])];
      const feeds: Feeds = new Map([[x, randn(x.size, 1, 2).map((v, i) => v + (i % C) * 0.1)], [w, randn(C, 2)], [b, randn(C, 3)], [R, randn(x.size, 4)]]);
      for (const [outputs, kernel] of [[[y], 'layer_norm'], [grads, 'layer_norm_grad']] as const) {
        expect([...plan(outputs).fused.values()].map((g) => g.pattern?.kernel)).toContain(kernel);
        if (outputs === grads) expect([...plan(outputs).fused.values()].find((g) => g.pattern?.kernel === 'layer_norm')?.outputs?.length).toBe(2);
        const { cpu: want, gpu: got } = await runBoth(outputs, feeds, gpu, cpu);
        // Each output sums at most C terms per row (dweight and dbias sum over rows: their reduce kernels, as before).
        outputs.forEach((t, i) => {
          const K = t === grads[2] || t === grads[3] ? x.size / C : C;
          assertClose(got[i], want[i], { atol: 1e-6 + 1e-5 * Math.sqrt(Math.max(K, C)) * maxAbs(want[i]), rtol: 2e-5, what: `${kernel} [${shape}] output ${i}` });
        });
      }
    });
  }
});

// The fused attention kernels against the composite they replace (the CPU reference runs the composite's GEMMs and
// masked softmax node by node), forward and the three gradients, on query counts that divide neither the 64-query
// workgroup nor the 32-key tile, head sizes 8, 16 and 64, causal and not; then with per-row lengths (what a generating
// step uses, some rows seeing no key), fewer queries than keys, and shapes that stay composite.
describe('fused attention: WebGPU kernels vs the composite', () => {
  const check = async (name: string, [N, Tq, Tk, dh]: number[], o: { causal?: boolean; lengths?: boolean }, fused = true, be: WebGpuBackend = gpu) => {
    // `recompute` asks for the fused backward (the default; spelled out so the case stays one if that changes).
    const q = input([N, Tq, dh], 'f32', 'q'), k = input([N, Tk, dh], 'f32', 'k'), v = input([N, Tk, dh], 'f32', 'v'), R = input([N, Tq, dh], 'f32', 'R');
    const lengths = o.lengths ? input([N], 'i32', 'lengths') : undefined;
    const y = attention(q, k, v, { causal: o.causal, lengths, recompute: true });
    const grads = grad(ops.sum(ops.mul(y, R)), [q, k, v]);
    const kernels = (outs: Tensor[]) => [...plan(outs).fused.values()].flatMap((g) => (g.pattern ? [g.pattern.kernel] : [])).sort();
    expect(kernels([y])).toEqual(fused ? ['attention'] : []);
    expect(kernels([y, ...grads])).toEqual(fused ? ['attention', 'attention_grad'] : []);
    // The forward and the gradient step are linked (the forward hands the gradient its rows' logsumexp); alone, not.
    const links = (outs: Tensor[]) => [...plan(outs).fused.values()].filter((g) => g.pattern).map((g) => g.link);
    if (fused) { expect(links([y, ...grads])).toEqual([0, 0]); expect(links([y])).toEqual([undefined]); }
    const feeds: Feeds = new Map([[q, randn(q.size, 1, 1.5)], [k, randn(k.size, 2, 1.5)], [v, randn(v.size, 3)], [R, randn(R.size, 5)]]);
    if (lengths) feeds.set(lengths, randInt(N, Tk + 1, 4));
    const outs = [y, ...grads];
    const { cpu: want, gpu: got } = await runBoth(outs, feeds, be, cpu);
    // The output sums Tk weighted values (each weight from a dh-term dot product); a gradient sums over both the
    // queries and the keys.
    outs.forEach((_, i) => {
      const K = i === 0 ? Tk * dh : Tq * Tk * dh;
      assertClose(got[i], want[i], { atol: 1e-6 + 1e-6 * Math.sqrt(K) * maxAbs(want[i]), rtol: 2e-5, what: `${name}: ${['y', 'dq', 'dk', 'dv'][i]}` });
    });
  };
  for (const T of [1, 7, 33, 129]) for (const dh of [8, 16, 64]) for (const causal of [false, true]) {
    const name = `attention N=3 T=${T} dh=${dh}${causal ? ' causal' : ''}`;
    it(name, async () => { await check(name, [3, T, T, dh], { causal }); });
  }
  // dh = 32, the widest head the subgroup kernels take (8 vec4s a row), with a partial last block of rows.
  it('attention N=2 T=129 dh=32 causal', async () => { await check('T=129 dh=32 causal', [2, 129, 129, 32], { causal: true }); });
  it('with lengths, causal, Tq 33 < Tk 70', async () => { await check('lengths causal', [5, 33, 70, 16], { causal: true, lengths: true }); });
  it('one query against 129 cached keys with lengths (a generating step)', async () => { await check('generating step', [4, 1, 129, 32], { lengths: true }); });
  // On an adapter with 8-lane subgroups (lavapipe) the cases above run shaders/attention_subgroup.wgsl; the GEMM
  // kernel 'tiled' turns subgroups off, so these run the workgroup-memory kernels every other adapter gets.
  it('without subgroups (gemm tiled): the workgroup-memory kernels, odd sizes, masks', async () => {
    const tiled = await WebGpuBackend.create({ gemm: 'tiled' });
    try {
      await check('tiled T=33 dh=16 causal', [3, 33, 33, 16], { causal: true }, true, tiled);
      await check('tiled T=129 dh=64', [2, 129, 129, 64], {}, true, tiled);
      await check('tiled T=7 dh=8', [3, 7, 7, 8], {}, true, tiled);
      await check('tiled lengths causal', [5, 33, 70, 16], { causal: true, lengths: true }, true, tiled);
    } finally { tiled.dispose(); }
  });
  it('one step for the gradients asked for: dk alone, and dq with dv, each against the composite', async () => {
    for (const wrt of [[1], [0, 2]]) {
      const [N, T, dh] = [3, 37, 16];
      const q = input([N, T, dh], 'f32', 'q'), k = input([N, T, dh], 'f32', 'k'), v = input([N, T, dh], 'f32', 'v'), R = input([N, T, dh], 'f32', 'R');
      const y = attention(q, k, v, { causal: true, recompute: true });
      const grads = grad(ops.sum(ops.mul(y, R)), wrt.map((i) => [q, k, v][i]));
      // Without y among the outputs nothing computes the forward's output, which the step reads: it stays composite.
      expect([...plan(grads).fused.values()].filter((g) => g.pattern?.kernel === 'attention_grad')).toEqual([]);
      const outs = [y, ...grads];
      const steps = [...plan(outs).fused.values()].filter((g) => g.pattern?.kernel === 'attention_grad');
      expect(steps.map((g) => (g.outputs ?? []).map((t) => (t ? grads.indexOf(t) : -1)))).toEqual([wrt.length === 1 ? [-1, 0] : [0, -1, 1]]);
      const feeds: Feeds = new Map([[q, randn(q.size, 1, 1.5)], [k, randn(k.size, 2, 1.5)], [v, randn(v.size, 3)], [R, randn(R.size, 5)]]);
      const { cpu: want, gpu: got } = await runBoth(outs, feeds, gpu, cpu);
      grads.forEach((_, i) => assertClose(got[i + 1], want[i + 1], { atol: 1e-6 + 1e-6 * Math.sqrt(T * T * dh) * maxAbs(want[i + 1]), rtol: 2e-5, what: `d${'qkv'[wrt[i]]} of [${wrt}]` }));
    }
  });
  // The two strategies of the gradient step: the GEMM backward (five batched products on the subgroup GEMM, P and dS
  // in scratch) where P and dS fit ATTENTION_GEMM_BACKWARD.maxBytes, else the fused gradient kernels. Both against
  // the composite and against each other, on odd sizes, sizes whose key count is a multiple of 4 (the epilogue's
  // vec4 stores), masks and lengths; with the cap at 0 the same plan takes the fused kernels.
  describe('gradient strategies: GEMM backward vs fused gradient kernels', () => {
    // joint: S and dP in one product (ATTENTION_GEMM_BACKWARD.joint), four products in all; else five. saveScores: the
    // forward saves S where it can (dh <= 32, Tk a multiple of 4), and the first product computes dP alone.
    const strategies = async (name: string, [N, Tq, Tk, dh]: number[], o: { causal?: boolean; lengths?: boolean; joint?: boolean; vecBT?: boolean; skipMasked?: boolean; saveScores?: boolean }) => {
      const q = input([N, Tq, dh], 'f32', 'q'), k = input([N, Tk, dh], 'f32', 'k'), v = input([N, Tk, dh], 'f32', 'v'), R = input([N, Tq, dh], 'f32', 'R');
      const lengths = o.lengths ? input([N], 'i32', 'lengths') : undefined;
      const y = attention(q, k, v, { causal: o.causal, lengths, recompute: true });
      const outs = [y, ...grad(ops.sum(ops.mul(y, R)), [q, k, v])];
      const feeds: Feeds = new Map([[q, randn(q.size, 11, 1.5)], [k, randn(k.size, 12, 1.5)], [v, randn(v.size, 13)], [R, randn(R.size, 15)]]);
      if (lengths) feeds.set(lengths, randInt(N, Tk + 1, 14));
      const step = [...plan(outs).fused].find(([, g]) => g.pattern?.kernel === 'attention_grad')!;
      const forward = [...plan(outs).fused].find(([, g]) => g.pattern?.kernel === 'attention')!;
      const launches = () => { const l = fusedLaunch(step[0], step[1], gpu.ctx.gemm); return [...(l.before ?? []), l]; };
      const shaders = () => launches().map((x) => x.shader);
      // Linked, the stats pass (D alone) takes up to ATTENTION_GEMM_BACKWARD.dRows = 256 rows a workgroup, in
      // blocks of 32 (D_BLOCKS): the sizes here above 32 rows run several blocks a workgroup.
      const dBlocks = launches()[0].constants?.D_BLOCKS ?? 1;
      expect([launches()[0].defines?.STATS_D, dBlocks]).toEqual(dh <= 32 ? [true, Math.min(8, Math.ceil(Tq / 32))] : [false, 1]);
      const cap = ATTENTION_GEMM_BACKWARD.maxBytes, joint = o.joint ?? true, save = o.saveScores ?? true;
      const saves = save && dh <= 32 && Tk % 4 === 0;
      const want = await runOn(cpu, outs, feeds);
      let viaGemm: (Float32Array | Int32Array)[];
      Object.assign(ATTENTION_GEMM_BACKWARD, { joint, vecBT: o.vecBT ?? true, skipMasked: o.skipMasked ?? true, saveScores: save });
      try {
        expect(shaders().filter((s) => s === 'matmul_subgroup')).toHaveLength(joint || saves ? 4 : 5);
        // Saving, the forward writes the scores and the first product reads them (ATTN_S), computing dP alone.
        expect(fusedLaunch(forward[0], forward[1], gpu.ctx.gemm).defines?.FWD_SCORES).toBe(saves);
        const fromScores = launches().map((l) => !!l.defines?.ATTN_S);
        expect([fromScores[1], fromScores.filter(Boolean).length]).toEqual([saves, saves ? 1 : 0]);
        viaGemm = await runOn(gpu, outs, feeds);
      } finally { Object.assign(ATTENTION_GEMM_BACKWARD, { joint: true, vecBT: true, skipMasked: true, saveScores: true }); }
      let viaKernels: (Float32Array | Int32Array)[];
      ATTENTION_GEMM_BACKWARD.maxBytes = 0;
      try {
        expect(shaders()).not.toContain('matmul_subgroup');
        viaKernels = await runOn(gpu, outs, feeds);
      } finally { ATTENTION_GEMM_BACKWARD.maxBytes = cap; }
      outs.forEach((_, i) => {
        const K = i === 0 ? Tk * dh : Tq * Tk * dh, what = `${name}: ${['y', 'dq', 'dk', 'dv'][i]}`;
        const tol = (ref: ArrayLike<number>) => ({ atol: 1e-6 + 1e-6 * Math.sqrt(K) * maxAbs(ref), rtol: 2e-5 });
        assertClose(viaGemm[i], want[i], { ...tol(want[i]), what: `${what}, GEMM backward vs composite` });
        assertClose(viaGemm[i], viaKernels[i], { ...tol(want[i]), what: `${what}, GEMM backward vs fused gradient kernels` });
      });
    };
    for (const T of [1, 7, 33, 64, 129]) for (const causal of [false, true]) {
      it(`N=3 T=${T} dh=16${causal ? ' causal' : ''}`, async () => { await strategies(`T=${T}`, [3, T, T, 16], { causal }); });
    }
    it('dh 8 and 32, causal', async () => {
      await strategies('dh 8', [2, 37, 37, 8], { causal: true });
      await strategies('dh 32', [2, 40, 40, 32], { causal: true });
    });
    it('lengths, causal, Tq < Tk (a multiple of 4 and not)', async () => {
      await strategies('lengths 33x70', [5, 33, 70, 16], { causal: true, lengths: true });
      await strategies('lengths 20x68', [5, 20, 68, 16], { causal: true, lengths: true });
      await strategies('lengths 1x129', [4, 1, 129, 32], { lengths: true });
    });
    it('S and dP as two products (joint off) agree too: causal and not, dh 8 and 32, lengths', async () => {
      await strategies('two products T=33', [3, 33, 33, 16], { joint: false });
      await strategies('two products T=129 causal', [2, 129, 129, 32], { causal: true, joint: false });
      await strategies('two products dh 8', [2, 37, 37, 8], { causal: true, joint: false });
      await strategies('two products lengths 33x70', [5, 33, 70, 16], { causal: true, lengths: true, joint: false });
      await strategies('two products T=64 causal, no saved scores', [3, 64, 64, 16], { causal: true, joint: false, saveScores: false });
    });
    it('scores saved by the forward (saveScores) and recomputed (joint S and dP) agree: causal and not, dh 8 and 32, lengths, Tq < Tk', async () => {
      for (const saveScores of [true, false]) {
        await strategies(`T=36 ${saveScores}`, [3, 36, 36, 16], { saveScores });
        await strategies(`T=132 causal ${saveScores}`, [2, 132, 132, 32], { causal: true, saveScores });
        await strategies(`dh 8 T=44 causal ${saveScores}`, [2, 44, 44, 8], { causal: true, saveScores });
        await strategies(`lengths 20x68 ${saveScores}`, [5, 20, 68, 16], { causal: true, lengths: true, saveScores });
        await strategies(`masked tiles stored, T=100 causal ${saveScores}`, [2, 100, 100, 32], { causal: true, skipMasked: false, saveScores });
      }
    });
    it('causal P and dS tiles wholly past the diagonal are never read: a causal region after a full one in one step (the full one leaves its values in the shared scratch)', async () => {
      const [N, T, dh] = [2, 70, 16];
      const q = input([N, T, dh], 'f32', 'q'), k = input([N, T, dh], 'f32', 'k'), v = input([N, T, dh], 'f32', 'v'), R = input([N, T, dh], 'f32', 'R');
      // The backward runs the outer (full) region's gradient step before the inner (causal) one's.
      const y = attention(attention(q, k, v, { causal: true, recompute: true }), k, v, { recompute: true });
      const outs = [y, ...grad(ops.sum(ops.mul(y, R)), [q, k, v])];
      const feeds: Feeds = new Map([[q, randn(q.size, 21, 1.5)], [k, randn(k.size, 22, 1.5)], [v, randn(v.size, 23)], [R, randn(R.size, 25)]]);
      const steps = [...plan(outs).fused].filter(([, g]) => g.pattern?.kernel === 'attention_grad');
      expect(steps.map(([n, g]) => [!!g.pattern!.attrs.causal, fusedLaunch(n, g, gpu.ctx.gemm).shader])).toEqual(expect.arrayContaining([[true, 'matmul_subgroup'], [false, 'matmul_subgroup']]));
      const want = await runOn(cpu, outs, feeds), got = await runOn(gpu, outs, feeds);
      outs.forEach((_, i) => assertClose(got[i], want[i], { atol: 1e-6 + 1e-6 * Math.sqrt(T * T * dh) * maxAbs(want[i]) * 4, rtol: 1e-4, what: ['y', 'dq', 'dk', 'dv'][i] }));
    });
    it('kᵀ and vᵀ read a scalar at a time (vecBT off) agree too', async () => {
      await strategies('vecBT off T=64 causal', [2, 64, 64, 32], { causal: true, vecBT: false });
      await strategies('masked tiles stored T=64 causal', [2, 64, 64, 32], { causal: true, skipMasked: false });
      await strategies('vecBT off, two products, lengths 33x70', [5, 33, 70, 16], { causal: true, lengths: true, joint: false, vecBT: false });
    });
    it('P and dS over the cap take the fused gradient kernels (O(T) memory)', () => {
      const T = 64, N = Math.ceil(ATTENTION_GEMM_BACKWARD.maxBytes / (8 * T * T)) + 1;
      const q = input([N, T, 16]), k = input([N, T, 16]), v = input([N, T, 16]), R = input([N, T, 16]);
      const y = attention(q, k, v, { causal: true, recompute: true });
      const outs = [y, ...grad(ops.sum(ops.mul(y, R)), [q, k, v])];
      const [n, g] = [...plan(outs).fused].find(([, f]) => f.pattern?.kernel === 'attention_grad')!;
      const l = fusedLaunch(n, g, gpu.ctx.gemm);
      expect([...(l.before ?? []), l].map((x) => x.shader)).not.toContain('matmul_subgroup');
    });
  });
  it('head sizes over 64 or not a multiple of 4 stay composite', async () => {
    await check('dh 96', [2, 7, 7, 96], {}, false);
    await check('dh 6', [2, 7, 7, 6], { causal: true }, false);
  });
  it('self-attention on one tensor (q = k = v) stays composite: a kernel gives one of the three gradients, not their sum', () => {
    const x = input([2, 7, 8]), R = input([2, 7, 8]);
    const y = attention(x, x, x, { causal: true, recompute: true });
    const g = grad(ops.sum(ops.mul(y, R)), [x]);
    expect([...plan([y, ...g]).fused.values()].map((f) => f.pattern?.kernel).filter(Boolean)).toEqual([]);
  });
  it('training fuses the backward by default from 64 keys on; below, or with recompute false, it keeps the composite (the backward reads the stored weights) and inference fuses', () => {
    const kernelsOf = (T: number, recompute?: boolean) => {
      const q = input([2, T, 8]), k = input([2, T, 8]), v = input([2, T, 8]), R = input([2, T, 8]);
      const y = attention(q, k, v, { causal: true, recompute });
      return [...plan([y, ...grad(ops.sum(ops.mul(y, R)), [q, k, v])]).fused.values()].map((f) => f.pattern?.kernel).filter(Boolean).sort();
    };
    expect(kernelsOf(64)).toEqual(['attention', 'attention_grad']);
    expect(kernelsOf(63)).toEqual([]);
    expect(kernelsOf(64, false)).toEqual([]);
    const q = input([2, 7, 8]), k = input([2, 7, 8]), v = input([2, 7, 8]), R = input([2, 7, 8]);
    const y = attention(q, k, v, { causal: true, recompute: false });
    const g = grad(ops.sum(ops.mul(y, R)), [q, k, v]);
    expect([...plan([y, ...g]).fused.values()].map((f) => f.pattern?.kernel).filter(Boolean)).toEqual([]);
    expect([...plan([y]).fused.values()].map((f) => f.pattern?.kernel)).toEqual(['attention']);
  });
});
