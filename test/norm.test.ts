// Batch norm and dropout: shape errors, values against their definitions, gradients against finite differences
// (CPU), CPU-vs-WebGPU parity forward and backward, running statistics, dropout masks, and a small MLP with both,
// trained on both backends in lockstep.
//
// Parity tolerances follow test/parity.test.ts: |gpu - cpu| <= atol + rtol·|cpu| with rtol 2e-5 (batch norm takes a
// square root and a division) and atol = 1e-6 + 1e-6·sqrt(K)·max|cpu|, K = the number of values behind each
// channel's statistics (N, or N·H·W): every output of batch norm, and every gradient, depends on per-channel sums of
// K terms. Measured on lavapipe the worst output uses about 2% of that (NORM_STATS=1 prints the ratios).
// Dropout has no tolerance: its mask is an integer comparison and a kept value one correctly rounded float32 product,
// so both backends must agree bit for bit.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, Variable, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { batchNormTrain, batchNormEval, runningUpdate, dropout, dropoutAdvance, DropoutCounter } from '../src/graph/norm.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Feeds } from '../src/schedule/plan.js';
import { shaderSource } from '../src/backends/webgpu/shaders.js';
import { BatchNorm1d, BatchNorm2d, Dropout, Residual, stateUpdates } from '../src/nn/norm.js';
import { Linear, ReLU, Sequential } from '../src/nn/module.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng, hash32 } from '../src/util/rng.js';
import { assertClose, maxAbs, mulberry32, randn, randu, randInt, runOn, finiteDifferenceCheck, weightedSum, type Gen } from './helpers.js';

interface Case { name: string; args: { shape: number[]; gen?: Gen }[]; f: (...xs: Tensor[]) => Tensor; k?: number }

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
const stats: string[] = [];
afterAll(() => {
  gpu?.dispose();
  if (process.env.NORM_STATS) console.log(stats.sort((a, b) => parseFloat(b) - parseFloat(a)).slice(0, 10).join('\n'));
});

const positive: Gen = (n, s) => randu(n, s, 0.5, 2);
const bnTrain = (x: Tensor, g: Tensor, b: Tensor) => batchNormTrain(x, g, b).y;
const bnEval = (x: Tensor, g: Tensor, b: Tensor, m: Tensor, v: Tensor) => batchNormEval(x, g, b, m, v);
/** Arguments of batch norm on x: x, gamma, beta (and the running mean and a positive running variance). */
const bnArgs = (x: number[], running = false) => {
  const C = x[1];
  const a = [{ shape: x }, { shape: [C], gen: positive }, { shape: [C] }];
  return running ? [...a, { shape: [C] }, { shape: [C], gen: positive }] : a;
};

/** y = f(xs), L = sum(y · R) for a fixed random R, and dL/dx for every x. */
const build = weightedSum;

// ---- shape errors ----

describe('batch norm and dropout: shape errors', () => {
  const x = input([4, 3]), c3 = input([3]), v = Variable.zeros([3]);
  const cases: [string, () => unknown, RegExp][] = [
    ['input of rank 3', () => batchNormTrain(input([4, 3, 5]), c3, c3), /batchNorm: expected input \[batch, features\] or \[N, C, H, W\], got \[4,3,5\]/],
    ['gamma of the wrong length', () => batchNormTrain(x, input([4]), c3), /batchNorm: gamma \[4\] does not match input \[4,3\] \(expected \[3\], one value per channel\)/],
    ['running variance of the wrong shape', () => batchNormEval(x, c3, c3, c3, input([3, 1])), /batchNorm: runningVar \[3,1\] does not match input \[4,3\]/],
    ['one value per channel in training', () => batchNormTrain(input([1, 3, 1, 1]), c3, c3), /batchNorm: input \[1,3,1,1\] has 1 value per channel \(expected more than one in training mode/],
    ['integer input', () => batchNormTrain(input([4, 3], 'i32'), c3, c3), /batchNorm: expected a float32 tensor, got i32 \[4,3\]/],
    ['running update of a computed tensor', () => runningUpdate(c3, c3, 0.1), /runningUpdate: target .* must be a Variable/],
    ['running update of another shape', () => runningUpdate(v.tensor, input([4]), 0.1), /runningUpdate: target \[3\] and value \[4\] differ/],
    ['running update momentum over 1', () => runningUpdate(v.tensor, c3, 1.5), /runningUpdate: momentum 1.5 is out of range/],
    ['dropout p = 1', () => dropout(x, 1, 0, { step: 0 }), /dropout: drop probability 1 is out of range \(expected 0 <= p < 1\)/],
    ['dropout p < 0', () => dropout(x, -0.1, 0, { step: 0 }), /dropout: drop probability -0.1 is out of range/],
    ['Dropout module p = 1', () => new Dropout(1), /Dropout: drop probability 1 is out of range/],
    ['BatchNorm1d given images', () => new BatchNorm1d(3).forward(input([2, 3, 4, 4])), /BatchNorm1d: expected input \[batch, 3\], got \[2,3,4,4\]/],
    ['BatchNorm2d with the wrong channel count', () => new BatchNorm2d(3).forward(input([2, 4, 4, 4])), /BatchNorm2d: expected input \[N, 3, H, W\], got \[2,4,4,4\]/],
    ['Residual whose body changes the shape', () => new Residual(new Linear(3, 5, { rng: new Rng(1) })).forward(x), /Residual: the body maps \[4,3\] to \[4,5\] \(expected the same shape/],
  ];
  for (const [name, f, msg] of cases) {
    it(name, () => {
      expect(f).toThrowError(msg);
      try { f(); } catch (e) { expect((e as Error).name).toBe('ShapeError'); }
    });
  }
});

// ---- batch norm against its definition ----

/** Float64 batch norm of NCHW (or [B, C] as H = W = 1) with the given statistics, or the batch's own when absent. */
function bnReference(x: Float32Array, shape: number[], g: Float32Array, b: Float32Array, stats?: { mean: Float32Array; var: Float32Array }) {
  const [N, C] = shape, HW = shape.length === 4 ? shape[2] * shape[3] : 1, K = N * HW, eps = 1e-5;
  const y = new Float64Array(x.length), mean = new Float64Array(C), vr = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const at = (n: number, j: number) => (n * C + c) * HW + j;
    let s = 0;
    for (let n = 0; n < N; n++) for (let j = 0; j < HW; j++) s += x[at(n, j)];
    const m = s / K;
    let q = 0;
    for (let n = 0; n < N; n++) for (let j = 0; j < HW; j++) q += (x[at(n, j)] - m) ** 2;
    mean[c] = m; vr[c] = q / K;
    const mu = stats ? stats.mean[c] : m, v = stats ? stats.var[c] : q / K;
    for (let n = 0; n < N; n++) for (let j = 0; j < HW; j++) y[at(n, j)] = ((x[at(n, j)] - mu) / Math.sqrt(v + eps)) * g[c] + b[c];
  }
  return { y, mean, var: vr, K };
}

describe('batch norm: values against the definition (CPU and WebGPU)', () => {
  for (const shape of [[7, 5], [3, 4, 5, 7]]) {
    it(`train and eval mode, [${shape}]`, async () => {
      const x = input(shape), C = shape[1], g = input([C]), b = input([C]), rm = input([C]), rv = input([C]);
      const tr = batchNormTrain(x, g, b);
      const ev = batchNormEval(x, g, b, rm, rv);
      const xv = randn(x.size, 1, 2), gv = randu(C, 2, 0.5, 2), bv = randn(C, 3), rmv = randn(C, 4), rvv = randu(C, 5, 0.5, 2);
      const feeds: Feeds = new Map([[x, xv], [g, gv], [b, bv], [rm, rmv], [rv, rvv]]);
      const want = bnReference(xv, shape, gv, bv);
      expect(tr.count).toBe(want.K);
      for (const be of [cpu, gpu]) {
        const [y, m, v, ye] = await runOn(be, [tr.y, tr.mean, tr.var, ev], feeds);
        assertClose(y, want.y, { atol: 1e-5, rtol: 1e-5, what: `${be.name} train-mode output` });
        assertClose(m, want.mean, { atol: 1e-6, rtol: 1e-5, what: `${be.name} batch mean` });
        assertClose(v, want.var, { atol: 1e-6, rtol: 1e-5, what: `${be.name} batch variance (biased)` });
        assertClose(ye, bnReference(xv, shape, gv, bv, { mean: rmv, var: rvv }).y, { atol: 1e-5, rtol: 1e-5, what: `${be.name} eval-mode output` });
      }
    });
  }
});

// ---- gradient checks ----

// Central differences on the CPU, as in test/gradcheck.test.ts: eps 1e-2, atol 2e-3, rtol 1e-2. Batch norm is smooth,
// and its inputs have per-channel spreads of order 1, far above eps. Dropout is checked at a fixed step (nothing in
// these graphs advances the counter), so every evaluation of L uses the same mask.
async function gradcheck(c: Case, seed: number): Promise<void> {
  const { xs, L, grads, feeds } = build(c, seed);
  await finiteDifferenceCheck(cpu, { wrt: xs, L, grads, feeds }, { name: c.name });
}

describe('batch norm and dropout: gradients vs central finite differences (CPU)', () => {
  const counter: DropoutCounter = { step: 3 };
  const cases: Case[] = [
    { name: 'batch norm, train mode, [5,3]', args: bnArgs([5, 3]), f: bnTrain },
    { name: 'batch norm, train mode, [2,3,2,3] (NCHW)', args: bnArgs([2, 3, 2, 3]), f: bnTrain },
    { name: 'batch norm, train mode, [3,1,1,2] (NCHW, 1x2 images)', args: bnArgs([3, 1, 1, 2]), f: bnTrain },
    { name: 'batch norm, eval mode, [4,3] (running stats as inputs)', args: bnArgs([4, 3], true), f: bnEval },
    { name: 'batch norm, eval mode, [2,2,3,2] (NCHW)', args: bnArgs([2, 2, 3, 2], true), f: bnEval },
    { name: 'dropout p = 0.5 [4,5]', args: [{ shape: [4, 5] }], f: (x) => dropout(x, 0.5, 7, counter) },
    { name: 'dropout p = 0.3 after tanh, used twice', args: [{ shape: [3, 4] }], f: (x) => ops.mul(dropout(ops.tanh(x), 0.3, 9, counter), x) },
  ];
  cases.forEach((c, i) => it(c.name, async () => { await gradcheck(c, 6000 + 13 * i); }));
});

// ---- parity ----

describe('batch norm: WebGPU vs CPU reference, forward and backward', () => {
  const cases: Case[] = [];
  const train = (x: number[]) => cases.push({ name: `train mode [${x}]`, args: bnArgs(x), f: bnTrain });
  const evalm = (x: number[]) => cases.push({ name: `eval mode [${x}]`, args: bnArgs(x, true), f: bnEval });
  for (const x of [[257, 33], [7, 33], [33, 7], [257, 1], [7, 1, 33, 33], [1, 7, 33, 33], [33, 7, 1, 7], [7, 33, 7, 1]]) train(x);
  for (const x of [[1, 7], [257, 33], [1, 7, 33, 33], [7, 33, 1, 1]]) evalm(x);
  cases.forEach((c, i) => it(c.name, async () => {
    const { y, grads, feeds } = build(c, 8000 + 17 * i);
    const outputs = [y, ...grads];
    const K = y.size / y.shape[1];
    const want = await runOn(cpu, outputs, feeds);
    const got = await runOn(gpu, outputs, feeds);
    outputs.forEach((t, k) => {
      const atol = 1e-6 + 1e-6 * Math.sqrt(K) * maxAbs(want[k]), rtol = 2e-5;
      const what = `batch norm ${c.name}: ${k ? `d L / d x${k - 1}` : 'forward'} ${JSON.stringify(t.shape)} (K=${K}), webgpu vs cpu`;
      if (process.env.NORM_STATS) {
        let m = 0;
        for (let j = 0; j < want[k].length; j++) m = Math.max(m, Math.abs(got[k][j] - want[k][j]) / (atol + rtol * Math.abs(want[k][j])));
        stats.push(`${m.toExponential(2)} ${what}`);
      }
      assertClose(got[k], want[k], { atol, rtol, what });
    });
  }));
});

// ---- running statistics ----

describe('batch norm: running statistics', () => {
  it('three training steps move the running mean and (unbiased) variance as PyTorch does, on both backends', async () => {
    const shape = [7, 5, 3, 3], C = 5;
    const bn = new BatchNorm2d(C, { name: 'bn' });
    const x = input(shape, 'f32', 'x');
    const y = bn.forward(x);
    const updates = stateUpdates(bn);
    expect(updates.map((u) => u.op)).toEqual(['running_update', 'running_update']);
    const batches = [0, 1, 2].map((s) => randn(x.size, 50 + s, 1 + s).map((v) => v + s - 1));
    const rm = new Float64Array(C), rv = new Float64Array(C).fill(1);
    for (const xb of batches) {
      const r = bnReference(xb, shape, new Float32Array(C).fill(1), new Float32Array(C), undefined);
      for (let c = 0; c < C; c++) {
        rm[c] = 0.9 * rm[c] + 0.1 * r.mean[c];
        rv[c] = 0.9 * rv[c] + 0.1 * r.var[c] * (r.K / (r.K - 1));
      }
    }
    const final: Record<string, Float32Array[]> = {};
    for (const be of [cpu, gpu] as Backend[]) {
      const ex = be.compile([y], updates);
      for (const xb of batches) ex.run(new Map([[x, xb]]));
      final[be.name] = [await be.readVariable(bn.runningMean), await be.readVariable(bn.runningVar)];
      ex.dispose();
    }
    assertClose(final.cpu[0], rm, { atol: 1e-6, rtol: 1e-5, what: 'cpu running mean vs float64 reference' });
    assertClose(final.cpu[1], rv, { atol: 1e-6, rtol: 1e-5, what: 'cpu running var vs float64 reference' });
    // K = 63 values per channel behind each statistic: the parity tolerance of a reduction of 63 terms.
    const atol = (a: Float32Array) => 1e-6 + 1e-6 * Math.sqrt(63) * maxAbs(a);
    assertClose(final.webgpu[0], final.cpu[0], { atol: atol(final.cpu[0]), rtol: 2e-5, what: 'running mean, webgpu vs cpu' });
    assertClose(final.webgpu[1], final.cpu[1], { atol: atol(final.cpu[1]), rtol: 2e-5, what: 'running var, webgpu vs cpu' });

    // Eval mode normalises with them: the same on both backends, and per the definition.
    bn.eval();
    const ye = bn.forward(x);
    expect(stateUpdates(bn)).toEqual([]);
    const feeds: Feeds = new Map([[x, batches[0]]]);
    const [yc] = await runOn(cpu, [ye], feeds);
    const [yg] = await runOn(gpu, [ye], feeds);
    const want = bnReference(batches[0], shape, new Float32Array(C).fill(1), new Float32Array(C), { mean: final.cpu[0], var: final.cpu[1] }).y;
    assertClose(yc, want, { atol: 1e-5, rtol: 1e-5, what: 'eval with running stats, cpu vs definition' });
    assertClose(yg, yc, { atol: 1e-5, rtol: 2e-5, what: 'eval with running stats, webgpu vs cpu' });
  });
});

// ---- dropout ----

/** Run hash32 over (a, b, c) triples on the GPU through the dropout shader's hash_probe entry point. */
async function gpuHash(triples: Uint32Array): Promise<Uint32Array> {
  const device = gpu.device, n = triples.length / 3;
  const module = device.createShaderModule({ code: shaderSource('dropout', { ADVANCE: false }) });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'hash_probe' } });
  const src = device.createBuffer({ size: triples.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const dst = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  device.queue.writeBuffer(src, 0, triples);
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 3, resource: { buffer: src } }, { binding: 4, resource: { buffer: dst } }] });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  device.queue.submit([enc.finish()]);
  const out = await gpu.readBuffer(dst, n * 4, 'i32', 'reading hash_probe');
  src.destroy(); dst.destroy();
  return new Uint32Array(out.buffer);
}

describe('dropout', () => {
  it('the WGSL hash32 reproduces the pinned values of test/data.test.ts and the CPU on 4096 random triples', async () => {
    const pinned: [number, number, number, number][] = [
      [0, 0, 0, 0x944fb554], [1, 2, 3, 0xa6fde042], [42, 7, 123456, 0x6601d30d], [0xffffffff, 0xffffffff, 0xffffffff, 0xded8da68], [12345, 0, 1, 0x5d62913a],
    ];
    const r = mulberry32(77), n = 4096;
    const triples = new Uint32Array(3 * (pinned.length + n));
    pinned.forEach(([a, b, c], i) => triples.set([a, b, c], 3 * i));
    for (let i = 3 * pinned.length; i < triples.length; i++) triples[i] = Math.floor(r() * 2 ** 32);
    const got = await gpuHash(triples);
    expect(Array.from(got.subarray(0, pinned.length))).toEqual(pinned.map((p) => p[3]));
    let bad = -1;
    for (let i = 0; i < got.length && bad < 0; i++) if (got[i] !== hash32(triples[3 * i], triples[3 * i + 1], triples[3 * i + 2])) bad = i;
    expect(bad, `first mismatch at triple ${bad}`).toBe(-1);
  });

  it('masks agree bit for bit on both backends, drop a fraction close to p, and scale kept values by 1/(1-p)', async () => {
    const shape = [257, 33], n = 257 * 33;
    const xv = randu(n, 3, 0.5, 2); // no zeros: a zero output means dropped
    for (const p of [0.1, 0.5, 0.9]) {
      const x = input(shape), y = dropout(x, p, 1234, { step: 17 });
      const feeds: Feeds = new Map([[x, xv]]);
      const [yc] = await runOn(cpu, [y], feeds);
      const [yg] = await runOn(gpu, [y], feeds);
      expect(Array.from(yg)).toEqual(Array.from(yc));
      let dropped = 0;
      const scale = Math.fround(1 / (1 - p));
      for (let i = 0; i < n; i++) {
        const keep = hash32(1234, 17, i) >= Math.floor(p * 2 ** 32);
        expect(yc[i]).toBe(keep ? Math.fround(xv[i] * scale) : 0);
        if (!keep) dropped++;
      }
      // Binomial(n, p): within 4 standard deviations.
      expect(Math.abs(dropped / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('a new step draws a new mask without recompiling, the same on both backends; the backward uses the forward mask', async () => {
    const x = input([33, 7]), R = input([33, 7]);
    const counter: DropoutCounter = { step: 5 };
    const y = dropout(x, 0.5, 99, counter);
    const [dx] = grad(ops.sum(ops.mul(y, R)), [x]);
    const feeds: Feeds = new Map([[x, randu(x.size, 1, 0.5, 2)], [R, randu(x.size, 2, 0.5, 2)]]);
    const rv = feeds.get(R)!;
    const seen: Record<string, Float32Array[]> = { cpu: [], webgpu: [] };
    for (const be of [cpu, gpu] as Backend[]) {
      const ex = be.compile([y, dx]);
      for (const step of [5, 6, 5]) {
        counter.step = step;
        ex.run(feeds);
        const [yv, gv] = [await ex.read(y), await ex.read(dx)] as Float32Array[];
        for (let i = 0; i < yv.length; i++) expect(gv[i]).toBe(yv[i] === 0 ? 0 : Math.fround(rv[i] * 2));
        seen[be.name].push(yv);
      }
      ex.dispose();
    }
    for (let s = 0; s < 3; s++) expect(Array.from(seen.webgpu[s])).toEqual(Array.from(seen.cpu[s]));
    const kept = (a: Float32Array) => Array.from(a, (v) => v !== 0);
    expect(kept(seen.cpu[1])).not.toEqual(kept(seen.cpu[0]));
    expect(kept(seen.cpu[2])).toEqual(kept(seen.cpu[0]));
  });

  it('the dropout_advance effect moves the counter once per run, after the step has used it', async () => {
    const x = input([7, 33]);
    const counter: DropoutCounter = { step: 0 };
    const y = dropout(x, 0.5, 5, counter);
    const feeds: Feeds = new Map([[x, randu(x.size, 4, 0.5, 2)]]);
    const masks: Record<string, boolean[][]> = { cpu: [], webgpu: [] };
    for (const be of [cpu, gpu] as Backend[]) {
      counter.step = 10;
      const ex = be.compile([y], [dropoutAdvance(counter)]);
      for (let r = 0; r < 3; r++) { ex.run(feeds); masks[be.name].push(Array.from(await ex.read(y), (v) => v !== 0)); }
      expect(counter.step).toBe(13);
      ex.dispose();
    }
    expect(masks.webgpu).toEqual(masks.cpu);
    // Run r used step 10 + r.
    masks.cpu.forEach((m, r) => expect(m).toEqual(Array.from({ length: x.size }, (_, i) => hash32(5, 10 + r, i) >= 2 ** 31)));
  });

  it('the Dropout module: identity in eval mode, distinct masks for two calls, and an advance effect', async () => {
    const d = new Dropout(0.5, 3), x = input([7, 33]);
    d.eval();
    expect(d.forward(x)).toBe(x);
    expect(new Dropout(0).forward(x)).toBe(x);
    d.train();
    const [a, b] = [d.forward(x), d.forward(x)];
    expect(stateUpdates(new Sequential(d)).map((u) => u.op)).toEqual(['dropout_advance']);
    const ones = new Float32Array(x.size).fill(1);
    const [va, vb] = await runOn(gpu, [a, b], new Map([[x, ones]]));
    let same = 0;
    for (let i = 0; i < va.length; i++) if ((va[i] === 0) === (vb[i] === 0)) same++;
    expect(same / va.length).toBeLessThan(0.65); // independent masks agree on ~half the elements
  });
});

// ---- training ----

/** An MLP with batch norm and dropout, trained a few steps on a fixed batch; the same seeds on every backend. */
async function trainMlp(be: Backend, steps: number) {
  const rng = new Rng(11), B = 16;
  const model = new Sequential(
    new Linear(8, 33, { rng }), new BatchNorm1d(33), ReLU(), new Dropout(0.2, 5),
    new Linear(33, 4, { rng, init: 'xavier' }),
  );
  const x = input([B, 8], 'f32', 'x'), labels = input([B], 'i32', 'labels');
  const loss = ops.softmaxCrossEntropy(model.forward(x), labels);
  const params = model.parameters();
  const grads = grad(loss, params.map((p) => p.tensor));
  const ex = be.compile([loss], [...new SGD({ lr: 0.1, momentum: 0.9 }).updates(params, grads), ...stateUpdates(model)]);
  const feeds: Feeds = new Map<Tensor, Float32Array | Int32Array>([[x, randn(B * 8, 21)], [labels, randInt(B, 4, 22)]]);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) { ex.run(feeds); losses.push((await ex.read(loss))[0]); }
  const bn = model.layers[1] as BatchNorm1d;
  const running = [await be.readVariable(bn.runningMean), await be.readVariable(bn.runningVar)];
  ex.dispose();
  return { losses, running };
}

describe('an MLP with batch norm and dropout, CPU reference vs WebGPU', () => {
  // Losses and running statistics agree to atol 1e-4 + rtol 1e-3: float32 sums in a different order drift slowly.
  it('trains 10 steps with matching losses and running statistics, and the loss falls', async () => {
    const c = await trainMlp(cpu, 10);
    const g = await trainMlp(gpu, 10);
    assertClose(g.losses, c.losses, { atol: 1e-4, rtol: 1e-3, what: 'loss per step' });
    g.running.forEach((r, i) => assertClose(r, c.running[i], { atol: 1e-4, rtol: 1e-3, what: i ? 'running var' : 'running mean' }));
    expect(c.running[0].some((v) => v !== 0)).toBe(true);
    expect(c.losses[9]).toBeLessThan(0.7 * c.losses[0]);
  });
});
