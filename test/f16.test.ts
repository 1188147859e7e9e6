// Mixed precision (--precision f16): the f16 rounding of the CPU reference, which values the plan stores in half
// precision, and CPU/WebGPU parity of whole training steps with f16 storage.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Tensor, Variable } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { roundF16 } from '../src/graph/f16.js';
import { plan } from '../src/schedule/plan.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import { assertClose, randn, randInt } from './helpers.js';

describe('roundF16', () => {
  it('rounds to the nearest half, ties to even, overflowing to infinity from 65520', () => {
    expect(roundF16(1)).toBe(1);
    expect(roundF16(1 + 2 ** -11)).toBe(1); // a tie: to the even neighbour
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundF16(0.1)).toBe(0.0999755859375);
    expect(roundF16(65504)).toBe(65504);
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(65520)).toBe(Infinity);
    expect(roundF16(-1e6)).toBe(-Infinity);
    expect(roundF16(2 ** -24)).toBe(2 ** -24); // the smallest subnormal
    expect(roundF16(2 ** -26)).toBe(0);
    expect(roundF16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundF16(NaN)).toBeNaN();
  });
});

describe('f16 plans', () => {
  it('stores values between f16-capable kernels in half precision; outputs, effects and softmax-xent keep f32', () => {
    const x = input([5, 7], 'f32', 'x'), y = input([5], 'i32', 'y');
    const w = new Variable(randn(7 * 3, 1), [7, 3], 'w');
    const h = ops.relu(ops.matmul(x, w.tensor));
    const loss = ops.softmaxCrossEntropy(h, y);
    const [gw] = grad(loss, [w.tensor]);
    const p = plan([loss, gw], [], { precision: 'f16' });
    expect(p.half.size).toBeGreaterThan(0);
    expect(p.half.has(loss)).toBe(false);
    expect(p.half.has(gw)).toBe(false);
    for (const t of p.half) expect(['matmul', 'relu', 'relu_grad', 'transpose', 'sum', 'mul', 'add']).toContain(t.op);
    expect(plan([loss, gw]).half.size).toBe(0);
  });
});

describe('f16 parity', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());

  it('an MLP step with f16 storage agrees with the CPU reference rounding at the same points', async () => {
    const B = 33, D = 29, H = 65, C = 10;
    const x = input([B, D], 'f32', 'x'), y = input([B], 'i32', 'y');
    const w1 = new Variable(randn(D * H, 2, 0.2), [D, H], 'w1'), b1 = new Variable(randn(H, 3, 0.1), [H], 'b1');
    const w2 = new Variable(randn(H * C, 4, 0.2), [H, C], 'w2');
    const h = ops.relu(ops.add(ops.matmul(x, w1.tensor), b1.tensor));
    const loss = ops.softmaxCrossEntropy(ops.matmul(h, w2.tensor), y);
    const gs = grad(ops.mul(loss, 1024), [w1.tensor, b1.tensor, w2.tensor]);
    const outs = [loss, ...gs];
    const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, randn(B * D, 5)], [y, randInt(B, C, 6)]]);
    const results = [];
    for (const be of [gpu, new CpuBackend()]) {
      const ex = be.compile(outs, [], { precision: 'f16' });
      expect(ex.plan.half.size).toBeGreaterThan(3);
      ex.run(feeds);
      results.push(await Promise.all(outs.map((t) => ex.read(t))));
    }
    const [g, c] = results;
    outs.forEach((t, i) => assertClose(g[i] as Float32Array, c[i] as Float32Array, { rtol: 2e-2, atol: 2e-2 * Math.max(...(c[i] as Float32Array).map(Math.abs)), what: `${t}` }));
  });
});
