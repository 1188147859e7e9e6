// User errors are caught early and say what went wrong: graph-building errors name the op and the shapes, and feed
// errors are caught on the host before anything is sent to a device (a GPU kernel cannot throw), on both backends.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Variable, Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { ShapeError } from '../src/graph/shape.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Feeds } from '../src/schedule/plan.js';
import { randn } from './helpers.js';

/** The message `fn` throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error, but none was thrown');
}

describe('graph-building errors name the op and the shapes', () => {
  it('matmul: inner dimensions differ', () => {
    const a = input([3, 4]), b = input([5, 6]);
    expect(() => ops.matmul(a, b)).toThrow(ShapeError);
    const msg = thrown(() => ops.matmul(a, b));
    expect(msg).toMatch(/^matmul: /);
    expect(msg).toContain('[3,4]');
    expect(msg).toContain('[5,6]');
    expect(msg).toContain('4 vs 5');
  });

  it('matmul: inner dimensions differ under a transpose, batch mismatch, rank mismatch', () => {
    let msg = thrown(() => ops.matmul(input([3, 4]), input([3, 4]), { transB: false }));
    expect(msg).toMatch(/^matmul: .*\[3,4\].*\[3,4\]/);
    // With transB the same operands are valid: [3,4]·[3,4]ᵀ is [3,3].
    expect(ops.matmul(input([3, 4]), input([3, 4]), { transB: true }).shape).toEqual([3, 3]);
    msg = thrown(() => ops.matmul(input([2, 3, 4]), input([5, 4, 6])));
    expect(msg).toMatch(/^matmul: batch dimensions differ/);
    expect(msg).toContain('[2,3,4]');
    expect(msg).toContain('[5,4,6]');
    msg = thrown(() => ops.matmul(input([3, 4]), input([2, 4, 6])));
    expect(msg).toMatch(/^matmul: .*\[3,4\].*\[2,4,6\]/);
    msg = thrown(() => ops.matmul(input([4]), input([4])));
    expect(msg).toMatch(/^matmul: .*\[4\]/);
  });

  it('broadcast mismatch names the op and both shapes', () => {
    for (const [name, op] of [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div]] as const) {
      const msg = thrown(() => op(input([3, 4]), input([5])));
      expect(msg).toMatch(new RegExp(`^${name}: `));
      expect(msg).toContain('[3,4]');
      expect(msg).toContain('[5]');
      expect(msg).toContain('do not broadcast');
    }
    const msg = thrown(() => ops.add(input([2, 3, 4]), input([3, 1, 5])));
    expect(msg).toMatch(/^add: shapes \[2,3,4\] and \[3,1,5\] do not broadcast/);
  });

  it('broadcastTo to a shape the input does not broadcast to', () => {
    let msg = thrown(() => ops.broadcastTo(input([3]), [4, 5]));
    expect(msg).toMatch(/^broadcastTo: .*\[3\].*\[4,5\]/);
    // [2,1] and [3] broadcast to each other (to [2,3]), but not to [3]:
    msg = thrown(() => ops.broadcastTo(input([2, 1]), [3]));
    expect(msg).toMatch(/^broadcastTo: cannot broadcast \[2,1\] to \[3\]/);
  });

  it('reshape to a wrong size', () => {
    let msg = thrown(() => ops.reshape(input([2, 3]), [4, 2]));
    expect(msg).toMatch(/^reshape: /);
    expect(msg).toContain('[2,3]');
    expect(msg).toContain('6 elements');
    expect(msg).toContain('[4,2]');
    msg = thrown(() => ops.reshape(input([2, 3]), [4, -1])); // 6 / 4 is not an integer
    expect(msg).toMatch(/^reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,-1\]/);
    msg = thrown(() => ops.reshape(input([2, 3]), [-1, -1]));
    expect(msg).toMatch(/^reshape: .*\[-1,-1\]/);
    expect(() => ops.reshape(input([2, 3]), [0, 6])).toThrow(/^reshape: /);
  });

  it('softmaxCrossEntropy with the wrong label dtype or shape, or logits of the wrong rank', () => {
    const logits = input([5, 4]);
    let msg = thrown(() => ops.softmaxCrossEntropy(logits, input([5], 'f32')));
    expect(msg).toMatch(/^softmaxCrossEntropy: /);
    expect(msg).toContain('int32');
    expect(msg).toContain('f32 [5]');
    expect(msg).toContain('[5,4]');
    msg = thrown(() => ops.softmaxCrossEntropy(logits, input([4], 'i32')));
    expect(msg).toMatch(/^softmaxCrossEntropy: expected int32 labels of shape \[5\] for logits \[5,4\], got i32 \[4\]/);
    msg = thrown(() => ops.softmaxCrossEntropy(logits, input([5, 1], 'i32')));
    expect(msg).toContain('got i32 [5,1]');
    msg = thrown(() => ops.softmaxCrossEntropy(input([20]), input([5], 'i32')));
    expect(msg).toMatch(/^softmaxCrossEntropy: expected logits of shape \[batch, classes\], got \[20\]/);
  });

  it('other shape errors: mse, transpose, sum axes, grad of a non-scalar, float-only ops, bad shapes', () => {
    expect(thrown(() => ops.mse(input([3, 4]), input([4, 3])))).toMatch(/^mse: prediction \[3,4\] and target \[4,3\] differ/);
    expect(thrown(() => ops.transpose(input([2, 3, 4]), [0, 0, 1]))).toMatch(/^transpose: perm \[0,0,1\] is not a permutation .*\[2,3,4\]/);
    expect(thrown(() => ops.sum(input([2, 3]), 2))).toMatch(/^sum: axis 2 is out of range for a tensor of rank 2/);
    expect(thrown(() => ops.mean(input([2, 3]), -3))).toMatch(/^mean: axis -3 is out of range/);
    expect(thrown(() => grad(input([2, 3]), []))).toMatch(/^grad: expected a scalar loss, got shape \[2,3\]/);
    expect(thrown(() => grad(input([2, 3]), [], input([3, 2])))).toMatch(/^grad: the upstream gradient's shape \[3,2\] must equal the output's \[2,3\]/);
    expect(thrown(() => grad(input([2, 3]), [], input([2, 3], 'i32')))).toMatch(/^grad: the upstream gradient's dtype i32 must equal the output's f32/);
    expect(thrown(() => ops.relu(input([3], 'i32')))).toMatch(/^relu: expected a float32 tensor, got i32 \[3\]/);
    expect(thrown(() => ops.matmul(input([3, 3], 'i32'), input([3, 3])))).toMatch(/^matmul: expected a float32 tensor/);
    expect(thrown(() => input([3, 0]))).toMatch(/^input: invalid shape \[3,0\]/);
    expect(thrown(() => input([2.5]))).toMatch(/^input: invalid shape \[2.5\]/);
    expect(thrown(() => new Variable(new Float32Array(5), [2, 3], 'w'))).toMatch(/^variable w: 5 initial values for shape \[2,3\] \(expected 6\)/);
  });
});

describe('run and read errors, on both backends', () => {
  let gpu: WebGpuBackend;
  const cpu = new CpuBackend();
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());
  const both = (): Backend[] => [cpu, gpu];

  // A classifier head: loss = softmaxCrossEntropy(x·W, labels), with the gradient, so both xent kernels are planned.
  const B = 5, D = 3, C = 4;
  function model() {
    const x = input([B, D], 'f32', 'x'), w = input([D, C], 'f32', 'w'), y = input([B], 'i32', 'labels');
    const logits = ops.matmul(x, w);
    const loss = ops.softmaxCrossEntropy(logits, y);
    const [gw] = grad(loss, [w]);
    return { x, w, y, logits, loss, gw };
  }
  const goodFeeds = (m: ReturnType<typeof model>, seed = 1): Feeds => {
    const feeds: Feeds = new Map();
    feeds.set(m.x, randn(B * D, seed)).set(m.w, randn(D * C, seed + 1)).set(m.y, Int32Array.from([0, 3, 1, 2, 0]));
    return feeds;
  };

  it('runs on a real WebGPU adapter', () => {
    expect(gpu.name).toBe('webgpu');
  });

  it('a missing feed names the input and what it expects', () => {
    for (const be of both()) {
      const m = model();
      const ex = be.compile([m.loss]);
      const feeds = goodFeeds(m);
      feeds.delete(m.x);
      expect(() => ex.run(feeds)).toThrow(/^run: no value fed for input 'x' \(expected a Float32Array of 15 elements for shape \[5,3\]\)/);
      const f2 = goodFeeds(m);
      f2.delete(m.y);
      expect(() => ex.run(f2)).toThrow(/^run: no value fed for input 'labels' \(expected an Int32Array of 5 elements for shape \[5\]\)/);
      ex.dispose();
    }
  });

  it('a wrong-length or wrong-dtype feed names the input, what it got and what it expects', () => {
    for (const be of both()) {
      const m = model();
      const ex = be.compile([m.loss]);
      let feeds = goodFeeds(m);
      feeds.set(m.x, new Float32Array(14));
      expect(() => ex.run(feeds)).toThrow(/^run: input 'x' got a Float32Array of 14 elements \(expected a Float32Array of 15 elements for shape \[5,3\]\)/);
      feeds = goodFeeds(m);
      feeds.set(m.y, new Int32Array(6));
      expect(() => ex.run(feeds)).toThrow(/^run: input 'labels' got an Int32Array of 6 elements \(expected an Int32Array of 5 elements/);
      feeds = goodFeeds(m);
      feeds.set(m.y, new Float32Array(5)); // labels must be integers
      expect(() => ex.run(feeds)).toThrow(/^run: input 'labels' got a Float32Array of 5 elements \(expected an Int32Array/);
      feeds = goodFeeds(m);
      feeds.set(m.x, new Int32Array(15));
      expect(() => ex.run(feeds)).toThrow(/^run: input 'x' got an Int32Array of 15 elements \(expected a Float32Array/);
      ex.dispose();
    }
  });

  it('a label out of range throws before anything runs, naming the label', async () => {
    for (const be of both()) {
      for (const outputs of ['loss', 'loss+grad'] as const) {
        const m = model();
        const outs = outputs === 'loss' ? [m.loss] : [m.loss, m.gw];
        const ex = be.compile(outs);
        ex.run(goodFeeds(m, 1));
        const before = await ex.read(m.loss);
        expect(Number.isFinite(before[0])).toBe(true);
        for (const bad of [C, -1, 1000]) {
          // New x values too: if anything ran, the loss would change.
          const feeds = goodFeeds(m, 7);
          (feeds.get(m.y) as Int32Array)[2] = bad;
          const msg = thrown(() => ex.run(feeds));
          expect(msg, `${be.name} ${outputs}`).toContain('out of range');
          expect(msg).toContain(`label ${bad} `);
          expect(msg).toContain('batch index 2');
          expect(msg).toContain(`[0, ${C - 1}]`);
          expect(msg).toMatch(/^softmaxCrossEntropy: /);
          const after = await ex.read(m.loss);
          expect(after[0], `${be.name}: the loss changed, so the step ran with label ${bad}`).toBe(before[0]);
        }
        // The executable (and on WebGPU the device) is still usable after the refused run.
        ex.run(goodFeeds(m, 7));
        const next = await ex.read(m.loss);
        expect(Number.isFinite(next[0])).toBe(true);
        expect(next[0]).not.toBe(before[0]);
        ex.dispose();
      }
    }
  });

  it('a label out of range is caught when the labels reach softmaxCrossEntropy through a reshape', () => {
    for (const be of both()) {
      const logits = input([3, C], 'f32', 'logits');
      const y = input([3, 1], 'i32', 'labels');
      const loss = ops.softmaxCrossEntropy(logits, y.reshape([3]));
      const ex = be.compile([loss]);
      const feeds = new Map<Tensor, Float32Array | Int32Array>([[logits, new Float32Array(3 * C)], [y, Int32Array.from([0, 1000000, 1])]]);
      expect(thrown(() => ex.run(feeds)), be.name).toContain('label 1000000 at batch index 1 is out of range');
      ex.dispose();
    }
  });

  it('reading a tensor that was not compiled as an output', async () => {
    for (const be of both()) {
      const m = model();
      const ex = be.compile([m.loss]);
      ex.run(goodFeeds(m));
      await expect(ex.read(m.gw)).rejects.toThrow(/^read: .* is not an output of this executable \(compile it as one\)/);
      await expect(ex.read(m.logits)).rejects.toThrow(/is not an output of this executable/); // an intermediate of the plan
      await expect(ex.read(m.x)).rejects.toThrow(/is not an output of this executable/); // an input
      await expect(ex.read(input([2]))).rejects.toThrow(/is not an output of this executable/); // not in the graph at all
      expect((await ex.read(m.loss)).length).toBe(1);
      ex.dispose();
    }
  });
});
