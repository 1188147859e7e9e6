// The SGD-with-momentum update kernel: a hand-computed step on the CPU reference, then CPU vs WebGPU over several
// steps with momentum, Nesterov and weight decay, at sizes that divide no workgroup (1, 7, 257, 70001).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input, Variable, Tensor } from '../src/graph/tensor.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { SGD, SgdOptions } from '../src/optim/sgd.js';
import { assertClose, randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

/** Apply `steps` updates with the gradient fed as an input; return the parameter and its velocity. */
async function run(be: Backend, p0: Float32Array, grads: Float32Array[], o: SgdOptions) {
  const p = new Variable(p0.slice(), [p0.length], 'p');
  const g = input([p0.length], 'f32', 'g');
  const opt = new SGD(o);
  const ex = be.compile([], opt.updates([p], [g]));
  for (const gi of grads) ex.run(new Map<Tensor, Float32Array>([[g, gi]]));
  const out = { p: await be.readVariable(p), v: await be.readVariable(opt.state()[0]) };
  ex.dispose();
  return out;
}

describe('SGD with momentum', () => {
  it('matches a step computed by hand (PyTorch semantics)', async () => {
    const p0 = Float32Array.from([1, -2]), g1 = Float32Array.from([0.5, 0.25]), g2 = Float32Array.from([-1, 2]);
    const lr = 0.1, mu = 0.9, wd = 0.01;
    // step 1: g' = g + wd·p; v = g'; p -= lr·v
    const gA = [0.5 + wd * 1, 0.25 + wd * -2], vA = gA, pA = [1 - lr * vA[0], -2 - lr * vA[1]];
    // step 2: g' = g + wd·p; v = μ·v + g'; p -= lr·v
    const gB = [-1 + wd * pA[0], 2 + wd * pA[1]], vB = [mu * vA[0] + gB[0], mu * vA[1] + gB[1]];
    const pB = [pA[0] - lr * vB[0], pA[1] - lr * vB[1]];
    const r = await run(new CpuBackend(), p0, [g1, g2], { lr, momentum: mu, weightDecay: wd });
    assertClose(r.v, Float32Array.from(vB), { atol: 1e-7, rtol: 1e-6, what: 'velocity' });
    assertClose(r.p, Float32Array.from(pB), { atol: 1e-7, rtol: 1e-6, what: 'parameter' });
    // Nesterov: p -= lr·(g' + μ·v)
    const n = await run(new CpuBackend(), p0, [g1, g2], { lr, momentum: mu, nesterov: true });
    const v1 = [0.5, 0.25], q1 = [1 - lr * (0.5 + mu * v1[0]), -2 - lr * (0.25 + mu * v1[1])];
    const v2 = [mu * v1[0] - 1, mu * v1[1] + 2], q2 = [q1[0] - lr * (-1 + mu * v2[0]), q1[1] - lr * (2 + mu * v2[1])];
    assertClose(n.p, Float32Array.from(q2), { atol: 1e-7, rtol: 1e-6, what: 'nesterov parameter' });
  });

  for (const n of [1, 7, 257, 70001]) {
    for (const o of [{ lr: 0.05 }, { lr: 0.05, momentum: 0.9 }, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }] as SgdOptions[]) {
      it(`CPU and WebGPU agree over 4 steps, n=${n}, ${JSON.stringify(o)}`, async () => {
        const p0 = randn(n, 11);
        const grads = [1, 2, 3, 4].map((s) => randn(n, 100 + s));
        const cpu = await run(new CpuBackend(), p0, grads, o);
        const wg = await run(gpu, p0, grads, o);
        // Elementwise float32 arithmetic in the same order: agreement to a few ulps (fma may fuse differently).
        assertClose(wg.p, cpu.p, { atol: 1e-6, rtol: 1e-5, what: 'parameter' });
        assertClose(wg.v, cpu.v, { atol: 1e-6, rtol: 1e-5, what: 'velocity' });
        expect(Array.from(wg.p).some((x, i) => x !== p0[i])).toBe(true);
      });
    }
  }

  it('a learning-rate change between runs takes effect without recompiling', async () => {
    const p = new Variable(Float32Array.from([1]), [1], 'p');
    const g = input([1], 'f32', 'g');
    const opt = new SGD({ lr: 0.5 });
    const ex = gpu.compile([], opt.updates([p], [g]));
    const feeds = new Map<Tensor, Float32Array>([[g, Float32Array.from([1])]]);
    ex.run(feeds); // 1 - 0.5
    opt.lr = 0.25;
    ex.run(feeds); // 0.5 - 0.25
    expect((await gpu.readVariable(p))[0]).toBeCloseTo(0.25, 6);
    ex.dispose();
  });
});
