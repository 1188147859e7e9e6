// Kernels against device limits: on a compatibility-mode device with its default limits (128 invocations per
// workgroup), compiling a training step fails with an error that names the limit, the op and the numbers, before
// any pipeline is made; with the adapter's own limits the same compatibility-mode device trains.
import { describe, it, expect, afterEach } from 'vitest';
import { input, Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { WebGpuBackend } from '../src/backends/index.js';
import { LimitError, checkKernelLimits } from '../src/backends/webgpu/limits.js';
import { launchFor } from '../src/backends/webgpu/kernels.js';
import { plan, Feeds } from '../src/schedule/plan.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng } from '../src/util/rng.js';
import { randn, randInt } from './helpers.js';

function mlpStep(B: number) {
  const model = mlp([784, 64, 10], new Rng(1));
  const x = input([B, 784]), y = input([B], 'i32');
  const loss = ops.softmaxCrossEntropy(model.forward(x), y);
  const params = model.parameters();
  const updates = new SGD({ lr: 0.1 }).updates(params, grad(loss, params.map((p) => p.tensor)));
  return { x, y, loss, updates };
}

let be: WebGpuBackend | undefined;
afterEach(() => { be?.dispose(); be = undefined; });

describe('kernels against device limits', () => {
  it('every launch states its workgroup size, and a 1-D one compiles its WG override from that statement', () => {
    const { loss, updates } = mlpStep(7);
    for (const s of plan([loss], updates).steps) {
      const l = launchFor(s);
      expect(l.workgroupSize.length, `${s}`).toBeGreaterThan(0);
      if (l.constants && 'WG' in l.constants) expect(l.constants.WG, `${s}`).toBe(l.workgroupSize[0]);
    }
    // The tiled GEMM runs TSX x TSY invocations, its tile constants.
    const m = launchFor(ops.matmul(input([40, 70]), input([70, 90])));
    expect(m.workgroupSize).toEqual([m.constants!.TSX, m.constants!.TSY]);
  });

  it('every kernel of an MLP step fits the core defaults and a storage-buffer shortage is named', () => {
    const { loss, updates } = mlpStep(7);
    const core = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupSizeZ: 64, maxStorageBuffersPerShaderStage: 8 } as GPUSupportedLimits;
    const steps = plan([loss], updates).steps.filter((s) => s.op !== 'reshape');
    for (const s of steps) { const l = launchFor(s); checkKernelLimits(l, core, `${s}`); }
    const xent = steps.find((s) => s.op === 'softmax_xent_grad')!, l = launchFor(xent);
    const err = (() => { try { checkKernelLimits(l, { ...core, maxStorageBuffersPerShaderStage: 3 }, `${xent}`); } catch (e) { return e as LimitError; } })();
    expect(err).toBeInstanceOf(LimitError);
    expect(err!.message).toMatch(/^webgpu: softmax_xent_grad.* needs maxStorageBuffersPerShaderStage >= 4, and this device offers 3$/);
  });

  it('a compatibility-mode device with default limits: compile names maxComputeInvocationsPerWorkgroup and the op', async () => {
    be = await WebGpuBackend.create({ featureLevel: 'compatibility', limits: 'default' });
    expect(be.limits.maxComputeInvocationsPerWorkgroup).toBeLessThan(256);
    // An elementwise map runs 256 invocations a workgroup (an MLP step's own kernels all fit 128: its maps are fused
    // into GEMM epilogues and sums).
    const x = input([7, 300]);
    const compile = () => be!.compile([ops.tanh(ops.mul(x, x))]);
    expect(compile).toThrow(LimitError);
    expect(compile).toThrow(new RegExp(`needs maxComputeInvocationsPerWorkgroup >= 256, and this device offers ${be.limits.maxComputeInvocationsPerWorkgroup}$`));
    expect(compile).toThrow(/^webgpu: [a-z_]+#\d+\[[0-9,]*\] \(shader [a-z_]+/); // the first kernel over the limit, by op, node and shader
  });

  it('a compatibility-mode device with the adapter limits trains', async () => {
    be = await WebGpuBackend.create({ featureLevel: 'compatibility' });
    const B = 7, { x, y, loss, updates } = mlpStep(B);
    const ex = be.compile([loss], updates);
    const feeds: Feeds = new Map<Tensor, Float32Array | Int32Array>([[x, randn(B * 784, 1)], [y, randInt(B, 10, 2)]]);
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) { ex.run(feeds); if (i % 19 === 0) losses.push((await ex.read(loss))[0]); }
    expect(losses[1]).toBeLessThan(losses[0] * 0.5); // one batch, learnt by heart
    ex.dispose();
  });
});
