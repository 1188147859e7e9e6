// Raw compile()/run()/read() as a library user drives them: a feed must be exactly the typed array its input
// declares (WebGPU copies bytes, the CPU reads values: anything else would make the backends disagree silently), a
// NaN in a feed stops the run before any weight moves, and reading before a run or using something disposed fails
// with one clear message, the same on both backends.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Tensor, Variable } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import { LifecycleError, type Backend } from '../src/backends/backend.js';
import { FeedError, NonFiniteInputError, type Feeds } from '../src/schedule/plan.js';
import { UserError } from '../src/util/errors.js';
import { Adam } from '../src/optim/adaptive.js';
import { randn } from './helpers.js';

function thrown(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new Error('expected an error, but none was thrown');
}

/** A one-layer regression step: x [2,4] · w [4,3] against targets, Adam updating w in place. */
function step(be: Backend) {
  const w = new Variable(randn(12, 5), [4, 3], 'w');
  const x = input([2, 4], 'f32', 'x'), t = input([2, 3], 'f32', 'target');
  const loss = ops.mse(x.matmul(w.tensor), t);
  const [gw] = grad(loss, [w.tensor]);
  const opt = new Adam({ lr: 0.1 });
  const ex = be.compile([loss], opt.updates([w], [gw]));
  const feeds = (xv: unknown): Feeds => new Map<Tensor, Float32Array | Int32Array>([[x, xv as Float32Array], [t, randn(6, 7)]]);
  return { w, x, loss, ex, feeds, opt };
}

describe('strict feeds and NaN checks in raw run(), on both backends', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());
  const backends = (): Backend[] => [new CpuBackend(), gpu];

  const wrong: [string, unknown, string][] = [
    ['a Float64Array', new Float64Array(8).fill(1), 'a Float64Array of 8 elements'],
    ['a Uint8Array (raw image bytes)', new Uint8Array(8).fill(3), 'a Uint8Array of 8 elements'],
    ['a plain array', [1, 2, 3, 4, 5, 6, 7, 8], 'an Array of 8 elements'],
    ['a number', 1, 'number'],
  ];
  for (const [what, value, described] of wrong) {
    it(`${what} fed to a float32 input: the same FeedError on both backends, nothing run`, async () => {
      const messages = [];
      for (const be of backends()) {
        const s = step(be);
        const before = await be.readVariable(s.w);
        const submits = gpu.stats.submits;
        const e = thrown(() => s.ex.run(s.feeds(value)));
        expect(e).toBeInstanceOf(FeedError);
        expect(e).toBeInstanceOf(UserError);
        messages.push(e.message);
        expect(gpu.stats.submits).toBe(submits);
        expect(Array.from(await be.readVariable(s.w))).toEqual(Array.from(before));
        s.ex.dispose();
      }
      expect(messages[0]).toBe(`run: input 'x' got ${described} (expected a Float32Array of 8 elements for shape [2,4]; convert with Float32Array.from(...))`);
      expect(messages[1]).toBe(messages[0]);
    });
  }

  it('an int32 input takes only an Int32Array', () => {
    for (const be of backends()) {
      const y = input([3], 'i32', 'labels'), logits = input([3, 4], 'f32', 'logits');
      const ex = be.compile([ops.softmaxCrossEntropy(logits, y)]);
      for (const [v, got] of [[new Uint32Array(3), 'a Uint32Array of 3 elements'], [new Float32Array(3), 'a Float32Array of 3 elements'], [[0, 1, 2], 'an Array of 3 elements']] as const) {
        expect(thrown(() => ex.run(new Map<Tensor, Float32Array | Int32Array>([[logits, randn(12, 3)], [y, v as unknown as Int32Array]]))).message)
          .toBe(`run: input 'labels' got ${got} (expected an Int32Array of 3 elements for shape [3]; convert with Int32Array.from(...))`);
      }
      ex.run(new Map<Tensor, Float32Array | Int32Array>([[logits, randn(12, 3)], [y, Int32Array.of(0, 1, 2)]]));
      ex.dispose();
    }
  });

  it('a NaN or an infinity fed to raw run() is a NonFiniteInputError before any weight changes; checkFinite: false lets it through', async () => {
    for (const be of backends()) {
      const s = step(be);
      s.ex.run(s.feeds(randn(8, 1)));
      const before = await be.readVariable(s.w);
      for (const [bad, at] of [[NaN, 3], [Infinity, 0], [-Infinity, 7]] as const) {
        const xv = randn(8, 2);
        xv[at] = bad;
        const e = thrown(() => s.ex.run(s.feeds(xv)));
        expect(e, be.name).toBeInstanceOf(NonFiniteInputError);
        expect(e.message).toBe(`run: input 'x' [2,4] holds ${bad} at flat index ${at} (expected finite values; to allow them, pass { checkFinite: false } to run(), or set a trainer's checkFinite to false)`);
      }
      expect(Array.from(await be.readVariable(s.w)), be.name).toEqual(Array.from(before));
      const xv = randn(8, 2);
      xv[3] = NaN;
      s.ex.run(s.feeds(xv), { checkFinite: false });
      expect((await be.readVariable(s.w)).some(Number.isNaN), be.name).toBe(true);
      s.ex.dispose();
    }
  });
});

describe('lifecycle: read before run, a disposed executable, a disposed backend', () => {
  it('read() before any run() says so instead of returning zeros', async () => {
    for (const be of [new CpuBackend(), await WebGpuBackend.create()]) {
      const s = step(be);
      const e = await s.ex.read(s.loss).catch((x: Error) => x);
      expect(e).toBeInstanceOf(LifecycleError);
      expect((e as Error).message).toMatch(/^read: .* has no value yet \(call run\(\) before read\(\)\)$/);
      s.ex.run(s.feeds(randn(8, 1)));
      expect((await s.ex.read(s.loss))[0]).toBeGreaterThan(0);
      s.ex.dispose();
      expect(thrown(() => s.ex.run(s.feeds(randn(8, 1)))).message).toBe('run: this executable was disposed (compile the graph again)');
      await expect(s.ex.read(s.loss)).rejects.toThrow(/this executable was disposed/);
      be.dispose();
    }
  });

  it('writeVariable takes exactly a Float32Array of the variable\'s size, on both backends alike', async () => {
    for (const be of [new CpuBackend(), await WebGpuBackend.create()]) {
      const w = new Variable(new Float32Array(6), [2, 3], 'w');
      expect(thrown(() => be.writeVariable(w, new Float32Array(5))).message).toBe('writeVariable w: got 5 values, expected a Float32Array of 6 for shape [2,3]');
      expect(thrown(() => be.writeVariable(w, new Float64Array(6) as unknown as Float32Array)).message).toBe('writeVariable w: got a Float64Array, expected a Float32Array of 6 for shape [2,3]');
      expect(Array.from(await be.readVariable(w))).toEqual([0, 0, 0, 0, 0, 0]);
      be.dispose();
    }
  });

  it('a disposed backend refuses every call instead of answering with the initial weights', async () => {
    for (const be of [new CpuBackend(), await WebGpuBackend.create()]) {
      const s = step(be);
      s.ex.run(s.feeds(randn(8, 1)));
      be.dispose();
      const want = new RegExp(`the ${be.name} backend was disposed \\(create a new one, and restore its weights from a checkpoint\\)$`);
      expect(thrown(() => s.ex.run(s.feeds(randn(8, 1)))).message).toMatch(want);
      await expect(be.readVariable(s.w)).rejects.toThrow(want);
      expect(thrown(() => be.writeVariable(s.w, new Float32Array(12))).message).toMatch(want);
      expect(thrown(() => be.compile([s.loss])).message).toMatch(want);
      await expect(s.ex.read(s.loss)).rejects.toThrow(want);
    }
  });
});
