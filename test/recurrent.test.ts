// Recurrent cells unrolled over short sequences, and residual blocks: shape errors, gradients (back-propagation through
// time, by autodiff over the unrolled graph) against finite differences on the CPU, CPU-vs-WebGPU parity forward and
// backward, and small models trained a few steps on both backends in lockstep.
//
// Parity tolerance: |gpu - cpu| <= 1e-6 + 1e-5·max|cpu| + 1e-4·|cpu|. An unrolled recurrence chains T matmuls and
// transcendentals, each adding float32 rounding (tanh and sigmoid allow 2e-5 relative) that the next step carries
// on; the worst output measured on lavapipe uses about 3% of this tolerance (RECURRENT_STATS=1 prints the ratios).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, Variable, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Feeds } from '../src/schedule/plan.js';
import { Module, Linear, Sequential, Tanh } from '../src/nn/module.js';
import { Residual } from '../src/nn/norm.js';
import { Recurrent, RNN, LSTM, GRU, LSTMCell } from '../src/nn/recurrent.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, maxAbs, randn, runOn } from './helpers.js';

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
const stats: string[] = [];
afterAll(() => {
  gpu?.dispose();
  if (process.env.RECURRENT_STATS) console.log(stats.sort((a, b) => parseFloat(b) - parseFloat(a)).slice(0, 10).join('\n'));
});

type Make = (rng: Rng) => Module;
const models: Record<string, Make> = {
  RNN: (rng) => new RNN(3, 4, { rng }),
  LSTM: (rng) => new LSTM(3, 4, { rng }),
  GRU: (rng) => new GRU(3, 4, { rng }),
  'LSTM, last step only': (rng) => new LSTM(3, 4, { rng, returnSequences: false }),
  'GRU then LSTM (stacked)': (rng) => new Sequential(new GRU(3, 4, { rng, name: 'gru' }), new LSTM(4, 2, { rng, name: 'lstm' })),
};

/** y = model(x), L = sum(y · R), and dL/d(x, every parameter). */
function build(model: Module, xShape: number[], seed: number) {
  const x = input(xShape, 'f32', 'x');
  const y = model.forward(x);
  const R = input(y.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(y, R));
  const params = model.parameters();
  const grads = grad(L, [x, ...params.map((p) => p.tensor)]);
  const feeds: Feeds = new Map([[x, randn(x.size, seed)], [R, randn(y.size, seed + 1)]]);
  return { x, y, L, params, grads, feeds };
}

// ---- shape errors ----

describe('recurrent modules: shape errors', () => {
  const rng = new Rng(1);
  const cases: [string, () => unknown, RegExp][] = [
    ['a sequence of rank 2', () => new LSTM(3, 4, { rng }).forward(input([2, 3])), /LSTM: expected input \[batch, time, 3\], got \[2,3\]/],
    ['the wrong feature size', () => new GRU(3, 4, { rng }).forward(input([2, 5, 2])), /GRU: expected input \[batch, time, 3\], got \[2,5,2\]/],
    ['an LSTM cell given one state', () => new LSTMCell(3, 4, { rng }).step(input([2, 3]), [input([2, 4])]), /LSTMCell: expected input \[batch, 3\] and 2 state\(s\) \[batch, 4\], got \[2,3\] and \[2,4\]/],
    ['a state of the wrong batch', () => new LSTMCell(3, 4, { rng }).step(input([2, 3]), [input([3, 4]), input([3, 4])]), /LSTMCell: .*got \[2,3\] and \[3,4\], \[3,4\]/],
  ];
  for (const [name, f, msg] of cases) {
    it(name, () => {
      expect(f).toThrowError(msg);
      try { f(); } catch (e) { expect((e as Error).name).toBe('ShapeError'); }
    });
  }

  it('output shapes: every step [B,T,H], or the last [B,H]', () => {
    expect(new LSTM(3, 7, { rng }).forward(input([4, 5, 3])).shape).toEqual([4, 5, 7]);
    expect(new GRU(3, 7, { rng, returnSequences: false }).forward(input([4, 5, 3])).shape).toEqual([4, 7]);
    expect(new RNN(3, 7, { rng }).forward(input([1, 9, 3])).shape).toEqual([1, 9, 7]); // T = 9: a nested concat
  });
});

// ---- gradient checks ----

// Central differences on the CPU, as in test/gradcheck.test.ts: eps 1e-2, atol 2e-3, rtol 1e-2. Every parameter is
// nudged through writeVariable, every input element through the feed. B = 2, T = 3.
describe('recurrent modules: gradients (BPTT) vs central finite differences (CPU)', () => {
  Object.entries(models).forEach(([name, make], i) => it(name, async () => {
    const EPS = 1e-2;
    const model = make(new Rng(40 + i));
    const { x, L, params, grads, feeds } = build(model, [2, 3, 3], 500 + i);
    const analytic = await runOn(cpu, grads, feeds);
    const fwd = cpu.compile([L]);
    const loss = async () => { fwd.run(feeds); return (await fwd.read(L))[0]; };
    const targets: [string, Float32Array, () => void][] = [['x', feeds.get(x) as Float32Array, () => {}]];
    for (const p of params) {
      const v = Float32Array.from(await cpu.readVariable(p));
      targets.push([p.name, v, () => cpu.writeVariable(p, v)]);
    }
    for (const [k, [what, v, sync]] of targets.entries()) {
      const numeric = new Float32Array(v.length);
      for (let j = 0; j < v.length; j++) {
        const v0 = v[j];
        v[j] = v0 + EPS; const vp = v[j]; sync(); const lp = await loss();
        v[j] = v0 - EPS; const vm = v[j]; sync(); const lm = await loss();
        v[j] = v0; sync();
        numeric[j] = (lp - lm) / (vp - vm);
      }
      assertClose(analytic[k], numeric, { atol: 2e-3, rtol: 1e-2, what: `${name}: d L / d ${what} (analytic vs finite difference)` });
    }
    fwd.dispose();
  }));
});

// ---- parity ----

async function parity(name: string, make: Make, xShape: number[], seed: number) {
  // Separate but identical models: each backend keeps its own copy of a Variable anyway.
  const { y, grads, feeds, params } = build(make(new Rng(seed)), xShape, seed);
  const outputs = [y, ...grads];
  const want = await runOn(cpu, outputs, feeds);
  const got = await runOn(gpu, outputs, feeds);
  outputs.forEach((t, k) => {
    const atol = 1e-6 + 1e-5 * maxAbs(want[k]), rtol = 1e-4;
    const what = `${name} x[${xShape}]: ${k ? `d L / d ${k === 1 ? 'x' : params[k - 2].name}` : 'forward'} ${JSON.stringify(t.shape)}, webgpu vs cpu`;
    if (process.env.RECURRENT_STATS) {
      let m = 0;
      for (let j = 0; j < want[k].length; j++) m = Math.max(m, Math.abs(got[k][j] - want[k][j]) / (atol + rtol * Math.abs(want[k][j])));
      stats.push(`${m.toExponential(2)} ${what}`);
    }
    assertClose(got[k], want[k], { atol, rtol, what });
  });
}

describe('recurrent modules: WebGPU vs CPU reference, forward and backward', () => {
  const cases: [string, Make, number[]][] = [
    ['LSTM 3->7', (rng) => new LSTM(3, 7, { rng }), [4, 5, 3]],
    ['LSTM 1->33, one step', (rng) => new LSTM(1, 33, { rng }), [7, 1, 1]],
    ['GRU 7->7', (rng) => new GRU(7, 7, { rng }), [33, 4, 7]],
    ['GRU 33->1, batch 1', (rng) => new GRU(33, 1, { rng }), [1, 7, 33]],
    ['RNN 7->33, last step', (rng) => new RNN(7, 33, { rng, returnSequences: false }), [7, 9, 7]],
  ];
  cases.forEach(([name, make, shape], i) => it(name, async () => { await parity(name, make, shape, 900 + 7 * i); }));
});

// ---- training ----

/** A few SGD steps on a fixed batch; the loss after each step. */
async function train(be: Backend, model: Module, x: Tensor, target: Tensor, feeds: Feeds, steps: number, lr: number) {
  const loss = ops.mse(model.forward(x), target);
  const params = model.parameters();
  const ex = be.compile([loss], new SGD({ lr, momentum: 0.9 }).updates(params, grad(loss, params.map((p) => p.tensor))));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) { ex.run(feeds); losses.push((await ex.read(loss))[0]); }
  const weights = await Promise.all(params.map((p: Variable) => be.readVariable(p)));
  ex.dispose();
  return { losses, weights };
}

/** Train the same model (same seed) on both backends; losses and weights must agree, and the loss must fall. */
async function lockstep(make: () => Module, xShape: number[], yShape: number[], target: (x: Float32Array) => Float32Array, steps: number, lr: number) {
  const x = input(xShape, 'f32', 'x'), t = input(yShape, 'f32', 'target');
  const xv = randn(x.size, 31);
  const feeds: Feeds = new Map([[x, xv], [t, target(xv)]]);
  const c = await train(cpu, make(), x, t, feeds, steps, lr);
  const g = await train(gpu, make(), x, t, feeds, steps, lr);
  // Losses and weights to atol 1e-5 + rtol 1e-3: float32 rounding that differs per backend drifts slowly with the step.
  assertClose(g.losses, c.losses, { atol: 1e-5, rtol: 1e-3, what: 'loss per step, webgpu vs cpu' });
  g.weights.forEach((w, i) => assertClose(w, c.weights[i], { atol: 1e-5, rtol: 1e-3, what: `parameter ${i}, webgpu vs cpu` }));
  expect(c.losses[steps - 1]).toBeLessThan(0.5 * c.losses[0]);
  return c.losses;
}

/** A layer applied to every step of [B, T, H], with one output per step: [B, T]. */
class EveryStep extends Module {
  constructor(readonly layer: Linear) { super(); }
  forward(h: Tensor): Tensor {
    const [B, T, H] = h.shape;
    return ops.reshape(this.layer.forward(ops.reshape(h, [B * T, H])), [B, T]);
  }
  override children(): Module[] { return [this.layer]; }
}

describe('training on both backends in lockstep', () => {
  it('an LSTM (B=4, T=5, F=3, hidden 7) with a linear readout learns a running sum, 15 steps', async () => {
    const B = 4, T = 5, F = 3, H = 7;
    // Target: at every step, tanh of the running sum of the first feature, which needs the recurrence.
    const target = (xv: Float32Array) => {
      const out = new Float32Array(B * T);
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let t = 0; t < T; t++) { s += xv[(b * T + t) * F]; out[b * T + t] = Math.tanh(s / 2); }
      }
      return out;
    };
    const make = () => {
      const rng = new Rng(8);
      return new Sequential(new LSTM(F, H, { rng }), new EveryStep(new Linear(H, 1, { rng, init: 'xavier' })));
    };
    await lockstep(make, [B, T, F], [B, T], target, 15, 0.1);
  });

  it('a residual block x + W2·tanh(W1·x) between two linear layers, 12 steps', async () => {
    const make = () => {
      const rng = new Rng(9);
      return new Sequential(
        new Linear(5, 7, { rng, init: 'xavier' }),
        new Residual(new Sequential(new Linear(7, 7, { rng, init: 'xavier' }), Tanh(), new Linear(7, 7, { rng, init: 'xavier' }))),
        new Linear(7, 2, { rng, init: 'xavier' }),
      );
    };
    // A smooth target of the input: y = [sin(x0 + x1), x2·x3].
    const target = (xv: Float32Array) => Float32Array.from({ length: 33 * 2 }, (_, i) => {
      const r = Math.floor(i / 2), x = xv.subarray(r * 5, r * 5 + 5);
      return i % 2 ? x[2] * x[3] : Math.sin(x[0] + x[1]);
    });
    await lockstep(make, [33, 5], [33, 2], target, 12, 0.05);
  });

  it('Recurrent runs any cell: a custom cell (a leaky average) through the same unroll', async () => {
    const x = input([2, 3, 1]);
    const leaky = new Recurrent(new (class extends LSTMCell {
      override step(xt: Tensor, [h, c]: Tensor[]) { return [ops.add(ops.mul(h, 0.5), xt), c]; }
    })(1, 1, { rng: new Rng(1) }));
    const [y] = await runOn(gpu, [leaky.forward(x)], new Map([[x, new Float32Array([1, 2, 3, 4, 5, 6])]]));
    expect(Array.from(y)).toEqual([1, 2.5, 4.25, 4, 7, 9.5]);
  });
});
