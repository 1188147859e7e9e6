// Bad input, each case a clear error that names the op or file, the shapes or bytes, and what was expected, thrown
// before anything is read out of bounds or sent to a device: malformed IDX files, shape mismatches in every op
// family, wrong feed dtypes and lengths, labels out of range, and NaN/Inf in a training batch.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { input, Tensor, Variable } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import * as act from '../src/graph/activations.js';
import * as conv from '../src/graph/conv.js';
import { concat, slice, pad } from '../src/graph/shape_ops.js';
import { batchNormTrain, dropout, runningUpdate } from '../src/graph/norm.js';
import { randn as randnOp, reparameterize } from '../src/graph/random.js';
import { upsample2d } from '../src/graph/resample.js';
import { optimStep } from '../src/graph/optim_ops.js';
import { ShapeError } from '../src/graph/shape.js';
import { LSTMCell, GRU } from '../src/nn/recurrent.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { NonFiniteInputError, type Feeds } from '../src/schedule/plan.js';
import { parseIdx, readIdxFile, IdxError } from '../src/data/idx.js';
import { mnistFromIdx } from '../src/data/mnist_parse.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { randn } from './helpers.js';

/** The error `fn` throws (fails the test if it throws none). */
function thrown(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error, but none was thrown');
}

/** An IDX file: magic 00 00 type ndims, big-endian u32 dims, then `dataBytes` bytes of data. */
function idx(dims: number[], dataBytes: number, type = 0x08): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + dataBytes);
  b.set([0, 0, type, dims.length]);
  const v = new DataView(b.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < dataBytes; i++) b[4 + 4 * dims.length + i] = i % 7;
  return b;
}

describe('malformed IDX files: IdxError naming the file, with expected vs found', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /^f\.idx: truncated: expected a 4-byte magic number, file has 0 bytes$/],
    ['3 bytes', new Uint8Array([0, 0, 8]), /truncated: expected a 4-byte magic number, file has 3 bytes/],
    ['wrong magic (a PNG)', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), /bad magic number: expected first two bytes 0x00 0x00, found 0x89 0x50/],
    ['float data type', idx([2], 8, 0x0d), /unsupported data type 0x0d: expected 0x08 \(unsigned byte\)/],
    ['0 dims', new Uint8Array([0, 0, 8, 0]), /bad number of dimensions: expected 1\.\.4, found 0/],
    ['255 dims', new Uint8Array([0, 0, 8, 255, 0, 0, 0, 1]), /bad number of dimensions: expected 1\.\.4, found 255/],
    ['header cut short', idx([3, 28, 28], 0).subarray(0, 10), /truncated: header of 3 dims needs 16 bytes, file has 10/],
    ['dims say more than the data', idx([2, 3], 5), /truncated: header says 2x3 = 6 bytes of data, file has 5/],
    ['dims say less than the data', idx([2, 3], 9), /trailing bytes: header says 2x3 = 6 bytes of data, file has 9 \(3 extra\)/],
    ['huge dims (2^32-1 x 2^32-1)', idx([0xffffffff, 0xffffffff], 16), /truncated: header says 4294967295x4294967295 = .* bytes of data, file has 16/],
    ['huge dims, 4 of them', idx([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 3), /truncated: header says .* bytes of data, file has 3/],
  ];
  for (const [name, bytes, want] of cases) {
    it(name, () => {
      const e = thrown(() => parseIdx(bytes, 'f.idx'));
      expect(e).toBeInstanceOf(IdxError);
      expect(e.message).toMatch(/^f\.idx: /);
      expect(e.message).toMatch(want);
    });
  }

  it('a well-formed file with the wrong meaning for MNIST: image shape, label count, label value', () => {
    const names: [string, string] = ['img.idx', 'lbl.idx'];
    expect(thrown(() => mnistFromIdx(idx([2, 28, 27], 2 * 28 * 27), idx([2], 2), names)).message).toBe('img.idx: expected images of shape Nx28x28, found 2x28x27');
    expect(thrown(() => mnistFromIdx(idx([2, 28, 28], 2 * 28 * 28), idx([3], 3), names)).message).toBe('lbl.idx: expected 2 labels to match img.idx, found 3');
    const labels = idx([2], 2);
    labels[9] = 10;
    expect(thrown(() => mnistFromIdx(idx([2, 28, 28], 2 * 28 * 28), labels, names)).message).toBe('lbl.idx: expected labels 0..9, found 10 at index 1');
  });

  it('read from disk: a truncated file and a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtrain-idx-'));
    const path = join(dir, 'train-images-idx3-ubyte');
    writeFileSync(path, idx([60000, 28, 28], 1000));
    await expect(readIdxFile(path)).rejects.toThrow(new RegExp(`^${path}: truncated: header says 60000x28x28 = 47040000 bytes of data, file has 1000$`));
    await expect(readIdxFile(join(dir, 'nope'))).rejects.toThrow(/nope: no such file/);
  });
});

describe('shape mismatches in every op family: ShapeError naming the op, the shapes and what was expected', () => {
  const x = (...s: number[]) => input(s);
  const cases: [family: string, build: () => unknown, op: string, mentions: string[]][] = [
    ['elementwise', () => ops.mul(x(3, 4), x(2, 4)), 'mul', ['[3,4]', '[2,4]', 'do not broadcast']],
    ['elementwise', () => ops.unary('exp', input([3], 'i32')), 'exp', ['float32', 'i32 [3]']],
    ['matmul', () => ops.matmul(x(3, 4), x(5, 6), { transA: true }), 'matmul', ['[3,4]ᵀ', '[5,6]', '3 vs 5']],
    ['matmul', () => ops.matmul(x(2, 3, 4), x(3, 4, 5)), 'matmul', ['batch dimensions differ', '[2,3,4]', '[3,4,5]']],
    ['reduction', () => ops.sum(x(3, 4), 2), 'sum', ['axis 2', 'rank 2']],
    ['reduction', () => ops.mean(x(3, 4), -3), 'mean', ['axis -3', 'rank 2']],
    ['layout', () => ops.reshape(x(3, 4), [5, -1]), 'reshape', ['[3,4]', '12 elements', '[5,-1]']],
    ['layout', () => ops.transpose(x(3, 4, 5), [0, 0, 1]), 'transpose', ['[0,0,1]', '[3,4,5]']],
    ['layout', () => ops.broadcastTo(x(3, 4), [4, 4]), 'broadcastTo', ['[3,4]', '[4,4]']],
    ['loss', () => ops.softmaxCrossEntropy(x(4, 10), input([5], 'i32')), 'softmaxCrossEntropy', ['int32 labels of shape [4]', '[4,10]', 'i32 [5]']],
    ['loss', () => ops.softmaxCrossEntropy(x(4, 10), input([4], 'f32')), 'softmaxCrossEntropy', ['int32 labels', 'f32 [4]']],
    ['loss', () => ops.mse(x(4, 3), x(3, 4)), 'mse', ['[4,3]', '[3,4]', 'expected the same shape']],
    ['activations', () => act.prelu(x(4, 6), x(5)), 'prelu', ['[5]', '[4,6]', 'expected [6]']],
    ['activations', () => act.maxout(x(4, 7), 2), 'maxout', ['7', '[4,7]', 'multiple of k = 2']],
    ['activations', () => act.logSoftmax(x()), 'logSoftmax', ['scalar', 'rank >= 1']],
    ['activations', () => act.huber(x(3), x(3), -1), 'huber', ['delta', '-1', '> 0']],
    ['activations', () => act.bceWithLogits(x(3, 2), x(2, 3)), 'bceWithLogits', ['[3,2]', '[2,3]']],
    ['conv', () => conv.conv2d(x(2, 3, 8, 8), x(4, 2, 3, 3)), 'conv2d', ['[2,3,8,8]', '[4,2,3,3]', '3 channels', 'expect 2']],
    ['conv', () => conv.conv2d(x(2, 3, 8), x(4, 3, 3, 3)), 'conv2d', ['[2,3,8]', '[N,C,H,W]']],
    ['conv', () => conv.conv2d(x(1, 1, 4, 4), x(1, 1, 5, 5)), 'conv2d', ['5x5 window', '4x4', 'no larger than the padded input']],
    ['conv', () => conv.maxPool2d(x(1, 1, 8, 8), 2, { padding: 2 }), 'maxPool2d', ['padding 2x2', '2x2 kernel', 'padding <= kernel / 2']],
    ['conv', () => conv.avgPool2d(x(1, 1, 8, 8), 0), 'avgPool2d', ['kernel size', '>= 1', '0']],
    ['conv', () => conv.conv2dBias(x(2, 4, 5, 5), x(3)), 'conv2dBias', ['[4]', '[2,4,5,5]', '[3]']],
    ['conv', () => conv.convTranspose2d(x(2, 3, 5, 5), x(4, 2, 3, 3)), 'convTranspose2d', ['[2,3,5,5]', '[4,2,3,3]', '3 channels', 'expect 4']],
    ['conv', () => conv.convTranspose2d(x(1, 1, 4, 4), x(1, 1, 3, 3), { stride: 2, outputPadding: 2 }), 'convTranspose2d', ['output padding 2x2', 'stride 2x2']],
    ['conv', () => upsample2d(x(1, 1, 4, 4), 1.5), 'upsample2d', ['scale', '1.5', '[1,1,4,4]']],
    ['conv', () => upsample2d(x(4, 4), 2), 'upsample2d', ['[4,4]', 'rank 4']],
    ['norm', () => randnOp([3, 0], 1, { step: 0 }), 'randn', ['[3,0]', 'integers >= 1']],
    ['norm', () => reparameterize(x(3, 2), x(3, 4), 1, { step: 0 }), 'reparameterize', ['[3,2]', '[3,4]']],
    ['shape ops', () => concat([x(2, 3), x(2, 4)], 0), 'concat', ['[2,3], [2,4]', 'outside axis 0']],
    ['shape ops', () => slice(x(4, 5), [2, 0], [3, 5]), 'slice', ['[4,5]', 'dim 0 asks for [2, 5)', 'within [0, 4)']],
    ['shape ops', () => pad(x(4, 5), [[1, 1]]), 'pad', ['[4,5]', 'one [before, after] pair', '(2)']],
    ['norm', () => batchNormTrain(x(8, 4), x(5), x(4)), 'batchNorm', ['gamma [5]', '[8,4]', 'expected [4]']],
    ['norm', () => batchNormTrain(x(1, 4), x(4), x(4)), 'batchNorm', ['[1,4]', '1 value per channel']],
    ['norm', () => dropout(x(3), 1, 0, { step: 0 }), 'dropout', ['probability 1', '0 <= p < 1']],
    ['norm', () => runningUpdate(Variable.zeros([3]).tensor, x(4), 0.1), 'runningUpdate', ['[3]', '[4]']],
    ['optimizer', () => optimStep(Variable.zeros([3]).tensor, x(4), [Variable.zeros([3]).tensor], { rule: 'sgd', coefs: () => ({ lr: 0.1, momentum: 0, l2: 0, nesterov: 0 }) }), 'optimStep(sgd)', ['gradient [4]', 'parameter [3]', 'same shape']],
    ['recurrent', () => new LSTMCell(5, 7, { rng: new Rng(1) }).step(x(2, 6), [x(2, 7), x(2, 7)]), 'LSTMCell', ['[batch, 5]', '[2,6]']],
    ['recurrent', () => new GRU(5, 7, { rng: new Rng(1) }).forward(x(2, 5)), 'GRU', ['[batch, time, 5]', '[2,5]']],
  ];
  for (const [family, build, op, mentions] of cases) {
    it(`${family}: ${op} ${mentions[0]}`, () => {
      const e = thrown(build);
      expect(e).toBeInstanceOf(ShapeError);
      expect(e.message.startsWith(`${op}: `), e.message).toBe(true);
      for (const m of mentions) expect(e.message, e.message).toContain(m);
    });
  }
});

describe('feeds: wrong dtype or length, labels out of range, on both backends', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());

  const logits = input([4, 3], 'f32', 'logits'), labels = input([4], 'i32', 'labels');
  const loss = ops.softmaxCrossEntropy(logits, labels);
  const feeds = (l: Float32Array | Int32Array, y: Float32Array | Int32Array): Feeds => new Map<Tensor, Float32Array | Int32Array>([[logits, l], [labels, y]]);
  const good = randn(12, 1);
  const cases: [string, Feeds, RegExp][] = [
    ['labels fed as Float32Array', feeds(good, new Float32Array(4)), /^run: input 'labels' got a Float32Array of 4 elements \(expected an Int32Array of 4 elements for shape \[4\]; convert with Int32Array\.from\(\.\.\.\)\)$/],
    ['logits fed as Int32Array', feeds(new Int32Array(12), new Int32Array(4)), /^run: input 'logits' got an Int32Array of 12 elements \(expected a Float32Array of 12 elements for shape \[4,3\]; convert with Float32Array\.from\(\.\.\.\)\)$/],
    ['logits too short', feeds(new Float32Array(11), new Int32Array(4)), /input 'logits' got a Float32Array of 11 elements \(expected a Float32Array of 12/],
    ['labels too long', feeds(good, new Int32Array(5)), /input 'labels' got an Int32Array of 5 elements \(expected an Int32Array of 4/],
    ['a label equal to the class count', feeds(good, Int32Array.of(0, 1, 3, 2)), /^softmaxCrossEntropy: label 3 at batch index 2 is out of range for logits \[4,3\] \(expected an integer in \[0, 2\]\)$/],
    ['a negative label', feeds(good, Int32Array.of(-1, 0, 0, 0)), /label -1 at batch index 0 is out of range/],
    ['a label far out of range', feeds(good, Int32Array.of(0, 0, 0, 2 ** 31 - 1)), /label 2147483647 at batch index 3 is out of range/],
  ];
  for (const be of ['cpu', 'webgpu'] as const) {
    for (const [name, f, want] of cases) {
      it(`${be}: ${name}`, () => {
        const backend: Backend = be === 'cpu' ? new CpuBackend() : gpu;
        const ex = backend.compile([loss]);
        const submits = gpu.stats.submits;
        expect(thrown(() => ex.run(f)).message).toMatch(want);
        expect(gpu.stats.submits).toBe(submits); // caught on the host: nothing went to the device
        ex.dispose();
      });
    }
  }

  it('NaN or ±Inf in a training batch: NonFiniteInputError naming the input and the index, before anything runs', async () => {
    const trainer = new ClassifierTrainer(gpu, mlp([6, 5, 3], new Rng(1)), new SGD({ lr: 0.1 }), [6]);
    const y = Int32Array.of(0, 1, 2, 0);
    trainer.trainStep(randn(24, 2), y, 4);
    const before = await gpu.readVariable(trainer.parameters[0]);
    for (const [value, at] of [[NaN, 17], [Infinity, 0], [-Infinity, 23]] as const) {
      const x = randn(24, 3);
      x[at] = value;
      const e = thrown(() => trainer.trainStep(x, y, 4));
      expect(e).toBeInstanceOf(NonFiniteInputError);
      expect(e.message).toBe(`run: input 'x' [4,6] holds ${value} at flat index ${at} (expected finite values; to allow them, pass { checkFinite: false } to run(), or set a trainer's checkFinite to false)`);
      expect((e as NonFiniteInputError).index).toBe(at);
    }
    expect(trainer.step).toBe(1);
    expect(Array.from(await gpu.readVariable(trainer.parameters[0]))).toEqual(Array.from(before));
    // Turned off, the batch goes through (and poisons the weights, which is the user's call).
    trainer.checkFinite = false;
    const x = randn(24, 4);
    x[5] = NaN;
    trainer.trainStep(x, y, 4);
    expect(trainer.step).toBe(2);
    expect((await gpu.readVariable(trainer.parameters[0])).some(Number.isNaN)).toBe(true);
    trainer.dispose();
  });
});
