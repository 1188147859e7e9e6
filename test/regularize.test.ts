// Weight penalties (L1, L2, elastic net) as graph: values by hand, gradients against finite differences, CPU vs
// WebGPU; which parameters count as weights; and the trainer's losses, where the device's loss and correct count
// must match the host arithmetic that evaluation uses.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Tensor, Variable } from '../src/graph/tensor.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { penalty, weightPenalty, isWeight } from '../src/optim/regularizers.js';
import { hostLoss, LOSSES, LossName, isRegressionLoss, regressionMetrics } from '../src/train/losses.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { mlp } from '../src/nn/models.js';
import { Sequential, Linear } from '../src/nn/module.js';
import { BatchNorm1d } from '../src/nn/norm.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, finiteDifferenceCheck, randAway, randInt, randn, randu, runBoth, runOn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

const cases = [{ l1: 0.3 }, { l2: 0.7 }, { l1: 0.2, l2: 0.05 }];

describe('weight penalties', () => {
  it('match l1·Σ|w| + l2·Σw² by hand', async () => {
    const w1 = input([2, 2], 'f32', 'w1'), w2 = input([3], 'f32', 'w2');
    const a = Float32Array.from([1, -2, 0.5, 0]), b = Float32Array.from([-3, 1, 2]);
    const [v] = await runOn(new CpuBackend(), [penalty([w1, w2], { l1: 0.1, l2: 0.01 })!], new Map([[w1, a], [w2, b]]));
    // Σ|w| = 3.5 + 6 = 9.5; Σw² = 5.25 + 14 = 19.25
    expect(v[0]).toBeCloseTo(0.1 * 9.5 + 0.01 * 19.25, 6);
    expect(penalty([w1], {})).toBeUndefined();
    expect(() => penalty([w1], { l2: -1 })).toThrow(/weightPenalty: l2 must be a finite number >= 0, got -1/);
  });

  for (const r of cases) {
    it(`gradient by finite differences and CPU vs WebGPU, ${JSON.stringify(r)}`, async () => {
      // Odd sizes; values kept away from 0, where |w| has its kink.
      const ws = [input([7, 33], 'f32', 'w1'), input([3, 1, 5, 5], 'f32', 'w2')];
      const feeds = new Map<Tensor, Float32Array>(ws.map((w, i) => [w, randAway(w.size, 60 + i)]));
      const L = penalty(ws, r)!, grads = grad(L, ws);
      await finiteDifferenceCheck(new CpuBackend(), { wrt: ws, L, grads, feeds }, { name: `penalty ${JSON.stringify(r)}` });
      const out = await runBoth([L, ...grads], feeds, gpu);
      // The value sums 306 terms: float32 order differences stay far below 1e-5 relative.
      assertClose(out.gpu[0], out.cpu[0], { atol: 1e-5, rtol: 1e-5, what: 'penalty value' });
      out.gpu.slice(1).forEach((g, i) => assertClose(g, out.cpu[i + 1], { atol: 1e-6, rtol: 1e-5, what: `gradient ${i}` }));
    });
  }

  it('apply to kernels, not to biases or batch-norm parameters', () => {
    const rng = new Rng(1);
    const m = new Sequential(new Linear(4, 3, { rng, name: 'fc1' }), new BatchNorm1d(3), new Linear(3, 2, { rng, name: 'fc2' }));
    expect(m.parameters().filter(isWeight).map((p) => p.name)).toEqual(['fc1.weight', 'fc2.weight']);
    expect(weightPenalty([Variable.zeros([5], 'bias')], { l2: 1 })).toBeUndefined();
  });

  it('the trainer adds the penalty to the loss it minimises: weights shrink, on both backends alike', async () => {
    const x = randn(16 * 6, 3), y = randInt(16, 3, 4);
    async function run(be: Backend, l2: number) {
      const model = mlp([6, 8, 3], new Rng(2));
      const t = new ClassifierTrainer(be, model, new SGD({ lr: 0.1 }), [6]);
      t.regularization = { l2 };
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) { const g = t.trainStep(x, y, 16); losses.push((await g.ex.read(g.loss))[0]); }
      const w = await be.readVariable(model.parameters()[0]);
      t.dispose();
      return { losses, norm: w.reduce((a, v) => a + v * v, 0), w };
    }
    const plain = await run(new CpuBackend(), 0), reg = await run(new CpuBackend(), 0.5), regGpu = await run(gpu, 0.5);
    expect(reg.norm).toBeLessThan(plain.norm * 0.7);
    expect(reg.losses[0]).toBeGreaterThan(plain.losses[0] + 0.5); // the penalty is part of the reported loss
    assertClose(regGpu.losses, reg.losses, { atol: 1e-5, rtol: 1e-4, what: 'regularised loss' });
    assertClose(regGpu.w, reg.w, { atol: 1e-5, rtol: 1e-4, what: 'regularised weights' });
  });
});

describe('trainer losses: device graph vs host arithmetic', () => {
  for (const kind of LOSSES) {
    it(kind, async () => {
      const B = 13, D = 5, C = kind === 'bce' ? 4 : 3;
      const x = randn(B * D, 8);
      const y: Int32Array | Float32Array = kind === 'softmax_xent' ? randInt(B, C, 9) : kind === 'bce' ? Float32Array.from(randInt(B * C, 2, 9)) : randu(B * C, 9);
      for (const be of [new CpuBackend(), gpu] as Backend[]) {
        const t = new ClassifierTrainer(be, mlp([D, 7, C], new Rng(3)), new SGD({ lr: 0 }), [D]);
        t.loss = kind as LossName;
        const g = t.trainStep(x, y, B);
        const loss = (await g.ex.read(g.loss))[0];
        const out = await t.predict(x, B);
        const host = hostLoss(kind, out, y, B);
        expect(loss, `${be.name} loss`).toBeCloseTo(host.lossSum / B, 5);
        if (g.correct) expect((await g.ex.read(g.correct))[0], `${be.name} correct`).toBe(host.correct);
        else expect(isRegressionLoss(kind)).toBe(true);
        const ev = await t.evaluate({ x, y, n: B, featureShape: [D], numClasses: C });
        expect(ev.loss).toBeCloseTo(host.lossSum / B, 12);
        if (isRegressionLoss(kind)) {
          expect(ev.accuracy).toBeNaN();
          expect(ev.rmse).toBeCloseTo(regressionMetrics(out, y as Float32Array, B).rmse, 12);
        }
        t.dispose();
      }
    });
  }
});
