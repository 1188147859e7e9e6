// The parity checker: a correct training step passes node by node; a wrong kernel planted in the CPU reference is
// named as the first failure (not a node downstream of it); and `wgtrain check` as a user runs it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { input, Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { WebGpuBackend, CpuBackend } from '../src/backends/index.js';
import { CPU_KERNELS, CpuKernelFn } from '../src/backends/cpu/kernels.js';
import type { OpName } from '../src/graph/op_table.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { Rng } from '../src/util/rng.js';
import { checkParity, ParityReport, BRANCHES } from '../src/check/parity.js';
import { randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

/** The training step ClassifierTrainer compiles: MLP forward, softmax cross-entropy, backward, SGD momentum. */
async function mlpStep(B = 16) {
  const { train } = await loadMnist({ limitTrain: B, limitTest: 1 });
  normalize(train.x, MNIST_MEAN, MNIST_STD);
  const model = mlp([784, 64, 32, 10], new Rng(5));
  const x = input([B, 28, 28], 'f32', 'x'), y = input([B], 'i32', 'labels');
  const loss = ops.softmaxCrossEntropy(model.forward(x), y);
  const params = model.parameters();
  const updates = new SGD({ lr: 0.05, momentum: 0.9 }).updates(params, grad(loss, params.map((p) => p.tensor)));
  const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, train.x], [y, train.y]]);
  return { model, loss, updates, feeds, check: (cpu?: CpuBackend) => checkParity({ outputs: [loss], effects: updates, feeds, gpu, cpu }) };
}

/** Run `f` against a CPU reference whose kernel for `op` is `k` (a planted fault in that backend instance only). */
function withCpuKernel<T>(op: OpName, k: CpuKernelFn, f: (cpu: CpuBackend) => Promise<T>): Promise<T> {
  return f(new CpuBackend({ kernels: (o, ref) => (o === op ? k : ref) }));
}

const failing = (r: ParityReport) => r.nodes.filter((e) => !e.ok).map((e) => e.op);

describe('checkParity', () => {
  it('passes a correct MLP training step, comparing every computed node and every variable', async () => {
    const s = await mlpStep();
    const r = await s.check();
    expect(r.ok, JSON.stringify(r.firstFailure)).toBe(true);
    expect(r.firstFailure).toBeUndefined();
    // Every kernel of the step except the 6 updates: 3 × (matmul, add) + 2 relu, the loss (4), its backward (2),
    // and per layer dW, db (+ dX, relu_grad below the top).
    const ops_ = r.nodes.map((e) => e.op);
    expect(ops_.filter((o) => o === 'matmul')).toHaveLength(3 + 3 + 2);
    expect(ops_).toEqual(expect.arrayContaining(['relu', 'relu_grad', 'softmax_xent', 'softmax_xent_grad', 'sum']));
    expect(ops_).not.toContain('optim_step');
    expect(r.nodes.every((e) => e.ratio <= 1 && Number.isFinite(e.maxAbsErr))).toBe(true);
    // 3 weights, 3 biases and their 3 + 3 momenta, all changed by the step and still equal.
    expect(r.variables.map((v) => v.label).sort()).toEqual(s.model.parameters().flatMap((p) => [p.name, `${p.name}.momentum`]).sort());
    expect(r.variables.every((v) => v.ok)).toBe(true);
  });

  it('starts the CPU from the GPU weights and leaves the GPU weights as it found them (mid-training)', async () => {
    const s = await mlpStep();
    const ex = gpu.compile([s.loss], s.updates);
    for (let i = 0; i < 3; i++) ex.run(s.feeds); // train: the GPU weights move away from their initial values
    ex.dispose();
    const w = s.model.parameters()[0];
    const before = await gpu.readVariable(w);
    expect(before).not.toEqual(w.init);
    const r = await s.check();
    expect(r.ok, JSON.stringify(r.firstFailure)).toBe(true);
    expect(await gpu.readVariable(w)).toEqual(before);
  });

  it('names a wrong relu kernel as the first failure', async () => {
    const s = await mlpStep();
    const r = await withCpuKernel('relu', CPU_KERNELS.identity!, s.check); // "relu" that lets negatives through
    expect(r.ok).toBe(false);
    expect(r.firstFailure?.op).toBe('relu');
    expect(r.firstFailure?.kind).toBe('node');
    const first = r.nodes.indexOf(r.firstFailure!);
    expect(r.nodes.slice(0, first).every((e) => e.ok && e.op !== 'relu')).toBe(true); // the nodes before it pass
    expect(failing(r).length).toBeGreaterThan(1); // and its error spreads downstream
  });

  it('names a wrong relu_grad in the middle of the backward pass, not a later node', async () => {
    const s = await mlpStep();
    const passAll: CpuKernelFn = (_n, [, dy], out) => out.set(dy.subarray(0, out.length)); // ignores the mask
    const r = await withCpuKernel('relu_grad', passAll, s.check);
    expect(r.ok).toBe(false);
    expect(r.firstFailure?.op).toBe('relu_grad');
    const first = r.nodes.indexOf(r.firstFailure!);
    expect(r.nodes.slice(0, first).every((e) => e.ok)).toBe(true);
    expect(r.nodes.slice(0, first).map((e) => e.op)).toContain('softmax_xent_grad'); // the backward had started
    expect(r.nodes.slice(first + 1).some((e) => !e.ok)).toBe(true);
    expect(r.variables.some((v) => !v.ok)).toBe(true); // the wrong gradient reached the weights
  });

  it('does not blame relu_grad when rounding puts a pre-activation on the other side of 0', async () => {
    const x = input([64]), r_ = input([64]);
    const h = ops.add(x, 0); // a computed pre-activation, so both backends' values of it are read
    const L = ops.sum(ops.mul(ops.relu(h), r_));
    const [dx] = grad(L, [x]);
    const xs = randn(64, 3);
    for (let i = 0; i < 8; i++) xs[i] = 1e-7 * (i % 2 ? 1 : -1); // within rounding of the kink
    const feeds = new Map([[x, xs], [r_, randn(64, 4)]]);
    // A CPU "add" that rounds these the other way: within add's tolerance, but it flips relu_grad's branch.
    const add = CPU_KERNELS.add!;
    const flip: CpuKernelFn = (n, ins, out) => { add(n, ins, out); for (let i = 0; i < out.length; i++) if (Math.abs(out[i]) < 1e-6) out[i] = -out[i]; };
    const check = () => withCpuKernel('add', flip, (cpu) => checkParity({ outputs: [dx], feeds, gpu, cpu }));
    const rep = await check();
    expect(rep.ok, JSON.stringify(rep.firstFailure)).toBe(true);
    expect(rep.nodes.find((e) => e.op === 'relu_grad')?.branchFlips).toBe(8);
    // Without the rule, relu_grad takes the blame.
    const rule = BRANCHES.relu_grad;
    delete BRANCHES.relu_grad;
    try { expect((await check()).firstFailure?.op).toBe('relu_grad'); } finally { BRANCHES.relu_grad = rule; }
  });

  it('scales every tolerance with `tolerance`', async () => {
    const s = await mlpStep();
    const [a, b] = [await s.check(), await checkParity({ outputs: [s.loss], effects: s.updates, feeds: s.feeds, gpu, tolerance: 4 })];
    a.nodes.forEach((e, i) => { expect(b.nodes[i].atol).toBeCloseTo(4 * e.atol, 12); expect(b.nodes[i].rtol).toBeCloseTo(4 * e.rtol, 12); });
  });
});

describe('wgtrain check', () => {
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', timeout: 300_000 });

  it('checks the MLP step, prints the table node by node and exits 0', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'wgtrain-check-')), 'check.json');
    const r = cli(['check', '--model', 'mlp', '--batch-size', '16', '--json', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node\s+K\s+max abs err\s+max rel err\s+atol\s+used\s+ok$/m);
    expect(r.stdout).toMatch(/^matmul#\d+\[16,256\]\s+784\s+\S+\s+\S+\s+\S+\s+\S+%\s+ok$/m);
    expect(r.stdout).toMatch(/^relu_grad#\d+\[16,\d+\].*ok$/m);
    expect(r.stdout).toMatch(/^fc1\.weight\.momentum\s/m);
    expect(r.stdout).not.toMatch(/FAIL/);
    expect(r.stdout).toMatch(/^ok: \d+ nodes and 12 variables within tolerance/m);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.ok).toBe(true);
    expect(j.batchSize).toBe(16);
    expect(j.nodes.length).toBeGreaterThan(20);
  });

  it('rejects an unknown model with one line and exit code 2', () => {
    const r = cli(['check', '--model', 'transformer']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^wgtrain: check: --model must be one of mlp/m);
  });
});
