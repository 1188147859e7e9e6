// Transfer learning: initFrom loads a checkpoint's weights where name and shape match and lists the rest; frozen
// parameters (ClassifierTrainer.frozen, `"trainable": false` in a model file, --freeze on the command line) take no
// optimizer state and no update, so they are bit for bit what they were, on CPU and WebGPU; --digits picks MNIST
// classes, and `wgtrain train --init-from --freeze` fine-tunes a small CNN trained on 0-4 on 5-9.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { Dataset } from '../src/data/dataset.js';
import { fit } from '../src/train/fit.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { saveCheckpoint, readCheckpoint } from '../src/train/checkpoint_file.js';
import { initFrom, parametersNamed, layerNames } from '../src/train/transfer.js';
import { buildModel, ModelConfig } from '../src/nn/config.js';
import { frozenParameters } from '../src/nn/module.js';
import { Adam } from '../src/optim/adaptive.js';
import { input } from '../src/graph/tensor.js';
import { grad } from '../src/autodiff/grad.js';
import { topoSort } from '../src/graph/topo.js';
import { lossGraph } from '../src/train/losses.js';
import { Rng } from '../src/util/rng.js';
import { expectUsageErrors, mulberry32 } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-transfer-'));
const path = (name: string) => join(dir, name);

/** A CNN small enough for a test: conv1 (1->4, 3x3), relu, conv2 (4->4, 3x3, stride 2), flatten, linear to `out`. */
const tinyCnn = (out = 10, head = 'fc'): ModelConfig => ({
  input: [1, 8, 8],
  layers: [
    { type: 'conv2d', out: 4, kernel: 3, padding: 1, name: 'conv1' }, { type: 'relu' },
    { type: 'conv2d', out: 4, kernel: 3, stride: 2, padding: 1, name: 'conv2' }, { type: 'relu' },
    { type: 'flatten' }, { type: 'linear', out, name: head },
  ],
});

function images(n: number, seed: number): Dataset {
  const r = mulberry32(seed), x = new Float32Array(n * 64), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let p = 0; p < 64; p++) x[i * 64 + p] = r() - 0.5 + (p % 4 === y[i] ? 1 : 0);
  }
  return { x, y, n, featureShape: [1, 8, 8], numClasses: 4 };
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

describe('frozen parameters', () => {
  for (const which of ['cpu', 'webgpu'] as const) {
    it(`take no optimizer state and no update: bit-identical after training, the others move (${which})`, async () => {
      const be: Backend = which === 'cpu' ? new CpuBackend() : gpu;
      const { model } = buildModel(tinyCnn(), new Rng(1));
      const t = new ClassifierTrainer(be, model, new Adam({ lr: 0.01 }), [1, 8, 8]);
      for (const p of parametersNamed(model, ['conv1'])) t.frozen.add(p);
      expect(t.parameters.map((p) => p.name)).toEqual(['conv2.weight', 'conv2.bias', 'fc.weight', 'fc.bias']);
      const before = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
      const h = await fit(t, images(64, 2), { epochs: 3, batchSize: 16 });
      expect(h.loss.at(-1)!).toBeLessThan(h.loss[0]);
      const after = await Promise.all(model.parameters().map((p) => be.readVariable(p)));
      model.parameters().forEach((p, i) => {
        const same = bytes(before[i]).equals(bytes(after[i]));
        expect(same, p.name).toBe(p.name.startsWith('conv1.'));
      });
      const state = t.optimizer.state().map((s) => s.name);
      expect(state.some((n) => n.startsWith('conv2.weight'))).toBe(true);
      expect(state.filter((n) => n.startsWith('conv1.'))).toEqual([]);
      t.dispose();
      if (which === 'cpu') be.dispose();
    });
  }

  it('a frozen first layer costs no backward work: the step has no col2im (conv2 needs no input gradient) and fewer nodes', () => {
    const { model } = buildModel(tinyCnn(), new Rng(1));
    const t = new ClassifierTrainer(new CpuBackend(), model, new Adam({ lr: 0.01 }), [1, 8, 8]);
    const backward = () => {
      const { loss } = lossGraph('softmax_xent', model.forward(input([4, 1, 8, 8])));
      return topoSort(grad(loss, t.parameters.map((p) => p.tensor)));
    };
    const all = backward();
    for (const p of parametersNamed(model, ['conv1'])) t.frozen.add(p);
    const some = backward();
    expect(all.filter((n) => n.op === 'col2im')).toHaveLength(1);
    expect(some.filter((n) => n.op === 'col2im')).toHaveLength(0);
    expect(some.length).toBeLessThan(all.length);
  });

  it('"trainable": false in a model file freezes that layer; names are checked', () => {
    const cfg = tinyCnn();
    cfg.layers[2] = { ...cfg.layers[2], trainable: false };
    const { model } = buildModel(cfg, new Rng(1));
    expect(frozenParameters(model).map((p) => p.name)).toEqual(['conv2.weight', 'conv2.bias']);
    const t = new ClassifierTrainer(new CpuBackend(), model, new Adam({ lr: 0.01 }), [1, 8, 8]);
    expect([...t.frozen].map((p) => p.name)).toEqual(['conv2.weight', 'conv2.bias']);
    expect(() => buildModel({ ...cfg, layers: [{ type: 'relu', trainable: 'no' }] }, new Rng(1))).toThrow(/"trainable" must be true or false, got "no"/);
    expect(layerNames(model)).toEqual(['conv1', 'conv2', 'fc']);
    for (const p of model.parameters()) t.frozen.add(p);
    expect(() => t.prepare(2)).toThrow(/every parameter of the model is frozen \(6 of them\): nothing to train/);
    expect(() => parametersNamed(model, ['conv1', 'conv9', 'fc2'])).toThrow("no layer named 'conv9', 'fc2' (this model's layers: conv1, conv2, fc)");
  });
});

describe('initFrom', () => {
  it('loads the tensors whose name and shape match, and lists the rest', async () => {
    const be = new CpuBackend();
    const src = buildModel(tinyCnn(10), new Rng(1)).model;
    const t = new ClassifierTrainer(be, src, new Adam({ lr: 0.01 }), [1, 8, 8]);
    await fit(t, images(32, 3), { epochs: 1, batchSize: 16 });
    await saveCheckpoint(path('src.safetensors'), t, { epoch: 1, batch: 0, model: { name: 'tiny' } });
    // Another head: 5 classes under the same name (shape differs), and a layer the source lacks.
    const cfg = tinyCnn(5);
    cfg.layers.push({ type: 'relu' }, { type: 'linear', out: 5, name: 'extra' });
    const dst = buildModel(cfg, new Rng(9)).model;
    const fresh = await Promise.all(dst.parameters().map((p) => be.readVariable(p)));
    const { tensors } = await readCheckpoint(path('src.safetensors'));
    const r = initFrom(be, dst, tensors);
    expect(r.loaded).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias']);
    expect(r.mismatched).toEqual(['fc.weight F32 [64,10] vs [64,5]', 'fc.bias F32 [10] vs [5]']);
    expect(r.missing).toEqual(['extra.weight', 'extra.bias']);
    // Unused: Adam's two moments of each of the source's 6 parameters (fc's are not used either: the shapes differ).
    expect(r.unused).toHaveLength(12);
    expect(r.unused.filter((n) => !/^(conv1|conv2|fc)\.(weight|bias)\.exp_avg(_sq)?$/.test(n))).toEqual([]);
    for (const [i, p] of dst.parameters().entries()) {
      const now = await be.readVariable(p);
      if (r.loaded.includes(p.name)) expect(bytes(now).equals(bytes((await readCheckpoint(path('src.safetensors'))).tensors.get(p.name)!.array() as Float32Array)), p.name).toBe(true);
      else expect(bytes(now).equals(bytes(fresh[i])), p.name).toBe(true);
    }
    t.dispose(); be.dispose();
  });
});

describe('wgtrain train --digits, --init-from, --freeze', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', 'train', ...args], { encoding: 'utf8', timeout: 300_000 });
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs']);
    // MNIST-sized, but small: conv 1->4 at 28x28, pool to 7x7, a linear head.
    writeFileSync(path('cnn.json'), JSON.stringify({
      input: [1, 28, 28],
      layers: [
        { type: 'conv2d', out: 4, kernel: 3, padding: 1, name: 'conv1' }, { type: 'relu' }, { type: 'maxpool2d', kernel: 4 },
        { type: 'flatten' }, { type: 'linear', out: 10, name: 'fc' },
      ],
    }));
  });

  it('trains on digits 0-4, fine-tunes on 5-9 from it with conv1 frozen: conv1 is bit-identical, fc moved', async () => {
    const common = ['--model', path('cnn.json'), '--backend', 'cpu', '--limit', '300', '--batch-size', '32', '--optimizer', 'adam'];
    const a = cli([...common, '--digits', '0-4', '--save', path('d04.safetensors')]);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/MNIST, 300 training images of digits 0,1,2,3,4/);
    const b = cli([...common, '--digits', '5-9', '--init-from', path('d04.safetensors'), '--freeze', 'conv1', '--save', path('d59.safetensors'), '--json', path('d59.json')]);
    expect(b.status, b.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(path('d59.json'), 'utf8'));
    expect(summary.frozen).toEqual(['conv1.weight', 'conv1.bias']);
    expect(summary.initFrom).toEqual({ file: path('d04.safetensors'), loaded: ['conv1.weight', 'conv1.bias', 'fc.weight', 'fc.bias'], missing: [], mismatched: [] });
    expect(b.stdout).toMatch(/^frozen: conv1\.weight, conv1\.bias \(40 parameters, not trained\)$/m);
    expect(b.stdout).toMatch(/^init-from .*d04\.safetensors: loaded conv1\.weight, conv1\.bias, fc\.weight, fc\.bias$/m);
    expect(b.stdout).toMatch(/^init-from: the file's optimizer state \(8 tensors\) is not used; this run starts its own$/m);
    expect(b.stdout).not.toMatch(/in the file but not in this model/);
    const [before, after] = await Promise.all([readCheckpoint(path('d04.safetensors')), readCheckpoint(path('d59.safetensors'))]);
    const value = (c: typeof before, n: string) => bytes(c.tensors.get(n)!.array() as Float32Array);
    expect(value(before, 'conv1.weight').equals(value(after, 'conv1.weight'))).toBe(true);
    expect(value(before, 'conv1.bias').equals(value(after, 'conv1.bias'))).toBe(true);
    expect(value(before, 'fc.weight').equals(value(after, 'fc.weight'))).toBe(false);
    expect([...after.tensors.keys()].filter((n) => n.startsWith('conv1.') && n.split('.').length > 2)).toEqual([]); // no Adam state for conv1
    expect(b.stdout).toMatch(/test accuracy \d+\.\d+% on \d+ images/);
  });

  it('bad --digits, --freeze and --init-from are one exit-2 line', () => {
    expectUsageErrors(cli, [
      [['--digits', '9-5'], /--digits must list digits 0-9 and ranges such as 0-4 or 5,7,9, got '9-5'/],
      [['--digits', '12'], /--digits must list digits 0-9/],
      [['--model', path('cnn.json'), '--backend', 'cpu', '--limit', '10', '--freeze', 'conv1,conv2'], /--freeze: no layer named 'conv2' \(this model's layers: conv1, fc\)/],
      [['--freeze', ','], /--freeze needs layer names such as conv1,conv2, got ','/],
      [['--init-from', path('d04.safetensors'), '--resume', path('d04.safetensors')], /--init-from starts a new run .* give one of them/],
      [['--model', path('cnn.json'), '--backend', 'cpu', '--limit', '10', '--init-from', path('nope.safetensors')], /nope\.safetensors/],
    ]);
  });
});
