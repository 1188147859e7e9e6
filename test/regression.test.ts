// Regression end to end: float targets of any shape through Dataset, DataLoader, fit, evaluate (RMSE, MAE, R²),
// checkpoints and predict (un-scaled with the training rows' statistics); a CSV's task inferred from its label column
// and its missing values; and `wgtrain train --data` on a numeric target, on a smooth function of four columns with
// mild noise (a table made here), reaching R² >= 0.95 on held-out rows, with predict answering in the target's units.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { Dataset, subset, splitValidation } from '../src/data/dataset.js';
import { DataLoader } from '../src/data/loader.js';
import { columnStats, standardize } from '../src/data/standardize.js';
import { parseCsv, csvDataset, inferTask } from '../src/data/csv.js';
import { fit, predict } from '../src/train/fit.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { regressionMetrics } from '../src/train/losses.js';
import { saveCheckpoint, loadCheckpoint } from '../src/train/checkpoint_file.js';
import { Sequential, Linear, ReLU } from '../src/nn/module.js';
import { Adam } from '../src/optim/adaptive.js';
import { Rng } from '../src/util/rng.js';
import { expectUsageErrors, mulberry32 } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-reg-'));
const path = (name: string) => join(dir, name);

/** n rows of 3 features and 2 targets, t = x·W + c in units far from 0 and 1 (so un-scaling matters). */
function linearData(n: number, seed: number): Dataset {
  const r = mulberry32(seed), x = new Float32Array(n * 3), y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const [a, b, c] = [r() * 2 - 1, r() * 2 - 1, r() * 2 - 1];
    x.set([a, b, c], i * 3);
    y.set([100 + 20 * a - 10 * b + 5 * c, -3 + 0.5 * a * b + c], i * 2);
  }
  return { x, y, n, featureShape: [3], numClasses: 0, targetShape: [2] };
}

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

describe('float targets in the data pipeline', () => {
  it('subset and DataLoader carry every target value of each row, in the row order', () => {
    const ds = linearData(10, 1);
    const s = subset(ds, [7, 2]);
    expect(s.y).toBeInstanceOf(Float32Array);
    expect(Array.from(s.y)).toEqual([...ds.y.subarray(14, 16), ...ds.y.subarray(4, 6)]);
    expect(s.targetShape).toEqual([2]);
    const loader = new DataLoader(ds, { batchSize: 4, seed: 3 });
    const seen: number[] = [];
    for (const b of loader.batches(0)) {
      expect(b.y).toBeInstanceOf(Float32Array);
      expect(b.y.length).toBe(b.size * 2);
      b.indices.forEach((i, k) => { expect(Array.from(b.y.subarray(k * 2, k * 2 + 2))).toEqual(Array.from(ds.y.subarray(i * 2, i * 2 + 2))); seen.push(i); });
    }
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });

  it('regressionMetrics: RMSE, MAE and R² by hand, in the original units with a scale', () => {
    const target = Float32Array.of(1, 2, 3, 4), out = Float32Array.of(1, 3, 3, 2);
    const m = regressionMetrics(out, target, 4);
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 4), 12); // squared errors 0, 1, 0, 4
    expect(m.mae).toBeCloseTo(3 / 4, 12);
    expect(m.r2).toBeCloseTo(1 - 5 / 5, 12); // SS_tot = 2.25 + 0.25 + 0.25 + 2.25
    const scaled = regressionMetrics(out, target, 4, { mean: [7], std: [10] });
    expect(scaled.rmse).toBeCloseTo(10 * m.rmse, 10);
    expect(scaled.mae).toBeCloseTo(10 * m.mae, 10);
    expect(scaled.r2).toBeCloseTo(m.r2, 10);
    // Two outputs: R² per column, averaged.
    const two = regressionMetrics(Float32Array.of(0, 10, 2, 10), Float32Array.of(0, 10, 2, 12), 2);
    expect(two.r2).toBeCloseTo((1 + (1 - 4 / 2)) / 2, 12);
  });
});

describe('fit on float targets', () => {
  for (const which of ['cpu', 'webgpu'] as const) {
    it(`learns two standardised targets; evaluate, predict and a checkpoint answer in the targets' units (${which})`, async () => {
      const be: Backend = which === 'cpu' ? new CpuBackend() : gpu;
      const { train, val } = splitValidation(linearData(400, 2), 0.25, 1);
      const scale = columnStats(train.y as Float32Array, train.n);
      const raw = Float32Array.from(val.y);
      standardize(train.y as Float32Array, scale);
      standardize(val.y as Float32Array, scale);
      const model = () => new Sequential(new Linear(3, 32, { rng: new Rng(5), name: 'h' }), ReLU(), new Linear(32, 2, { rng: new Rng(6), name: 'out' }));
      const t = new ClassifierTrainer(be, model(), new Adam({ lr: 0.01 }), [3]);
      t.loss = 'mse';
      t.targetScale = scale;
      const h = await fit(t, train, { epochs: 30, batchSize: 16, validationData: val, testData: val, seed: 1 });
      expect(h.accuracy.every(Number.isNaN)).toBe(true);
      const test = h.test!;
      expect(test.r2!).toBeGreaterThan(0.98);
      const out = await predict(t, val.x, val.n);
      const direct = regressionMetrics(out, raw, val.n);
      expect(direct.rmse).toBeCloseTo(test.rmse!, 3); // predict un-scales, evaluate measures in the same units
      expect(direct.mae).toBeCloseTo(test.mae!, 3);
      expect(test.rmse!).toBeLessThan(0.1 * scale.std[0]);
      const file = path(`reg-${which}.safetensors`);
      await saveCheckpoint(file, t, { epoch: 30, batch: 0, model: { name: 'test' } });
      const u = new ClassifierTrainer(be, model(), new Adam({ lr: 0.01 }), [3]);
      u.loss = 'mse';
      u.targetScale = scale;
      u.prepare(16);
      await loadCheckpoint(file, u);
      expect(Array.from(await predict(u, val.x, val.n))).toEqual(Array.from(out));
      t.dispose(); u.dispose();
      if (which === 'cpu') be.dispose();
    });
  }

  it('huber and mae train too, and bce keeps its accuracy (no regression metrics)', async () => {
    const be = new CpuBackend();
    const ds = linearData(200, 3);
    standardize(ds.y as Float32Array, columnStats(ds.y as Float32Array, ds.n));
    for (const loss of ['huber', 'mae'] as const) {
      const t = new ClassifierTrainer(be, new Sequential(new Linear(3, 2, { rng: new Rng(1), name: 'l' })), new Adam({ lr: 0.05 }), [3]);
      t.loss = loss;
      const h = await fit(t, ds, { epochs: 15, batchSize: 20, testData: ds });
      expect(h.loss.at(-1)!, loss).toBeLessThan(h.loss[0]);
      expect(h.test!.r2!, loss).toBeGreaterThan(0.7);
      t.dispose();
    }
    const bin: Dataset = { ...ds, y: Float32Array.from({ length: ds.n }, (_, i) => (ds.x[i * 3] > 0 ? 1 : 0)), targetShape: [1] };
    const t = new ClassifierTrainer(be, new Sequential(new Linear(3, 1, { rng: new Rng(1), name: 'l' })), new Adam({ lr: 0.05 }), [3]);
    t.loss = 'bce';
    const h = await fit(t, bin, { epochs: 10, batchSize: 20, testData: bin });
    expect(h.test!.accuracy).toBeGreaterThan(0.9);
    expect(h.test!.r2).toBeUndefined();
    t.dispose(); be.dispose();
  });
});

describe('CSV: the task from the label column, and missing values', () => {
  it('inferTask: non-integers or many distinct numbers are regression; a few integers or any text are classes', () => {
    expect(inferTask(['1.5', '2', '3'])).toBe('regression');
    expect(inferTask(Array.from({ length: 21 }, (_, i) => String(i)))).toBe('regression');
    expect(inferTask(Array.from({ length: 20 }, (_, i) => String(i)))).toBe('classification');
    expect(inferTask(['0', '1', '1'])).toBe('classification');
    expect(inferTask(['1.5', 'x'])).toBe('classification');
    const t = parseCsv('a,y\n1,0.5\n2,1.5\n', { label: 'y' });
    expect(t.task).toBe('regression');
    const ds = csvDataset(t);
    expect(ds.y).toBeInstanceOf(Float32Array);
    expect(Array.from(ds.y)).toEqual([0.5, 1.5]);
    expect(parseCsv('a,y\n1,0.5\n2,1.5\n', { label: 'y', task: 'classification' }).classes).toEqual(['0.5', '1.5']);
  });

  it("an empty field is an error naming the line and column, or with missing: 'drop' its row is left out and listed", () => {
    const text = 'a,b,y\n1,2,3.5\n,4,5\n6,7,\n8,9,10.5\n';
    expect(() => parseCsv(text, { label: 'y' }, 'm.csv')).toThrow(/m\.csv line 3, column 1 \('a'\): empty field \(a missing value: fill it in, or leave such rows out with --missing drop\)/);
    const t = parseCsv(text, { label: 'y', missing: 'drop' }, 'm.csv');
    expect(t.n).toBe(2);
    expect(t.dropped).toEqual([3, 4]);
    expect(Array.from(t.targets!)).toEqual([3.5, 10.5]);
    expect(Array.from(t.x)).toEqual([1, 2, 8, 9]);
  });
});

describe('wgtrain train/predict on a numeric target', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', timeout: 300_000 });
  /** y = sin(2a) + b²/2 - c·d + noise (sd ~0.05): smooth in four columns, plus a fifth column of pure noise. */
  function smooth(n: number): { text: string; rows: number[][] } {
    const r = mulberry32(11), rows: number[][] = [];
    for (let i = 0; i < n; i++) {
      const [a, b, c, d, e] = Array.from({ length: 5 }, () => r() * 3 - 1.5);
      const noise = (r() + r() + r() - 1.5) * 0.1;
      rows.push([a, b, c, d, e, Math.sin(2 * a) + 0.5 * b * b - c * d + noise]);
    }
    return { rows, text: ['a,b,c,d,e,y', ...rows.map((row) => row.map((v) => v.toFixed(5)).join(','))].join('\n') + '\n' };
  }
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });

  it('infers a regression, reaches R² >= 0.95 on the held-out rows, reports rmse/mae/r2 everywhere, and predict un-scales', () => {
    const { text, rows } = smooth(1000);
    writeFileSync(path('smooth.csv'), text);
    const r = cli(['train', '--data', path('smooth.csv'), '--label', 'y', '--epochs', '60', '--json', path('s.json'), '--metrics', path('s.jsonl'), '--save', path('s.safetensors')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/regression target 'y' \(numeric, not all integers/);
    expect(r.stdout).toMatch(/table MLP 5-64-64-1/);
    expect(r.stdout).toMatch(/^epoch 60\/60 .* held-out rmse [\d.]+ mae [\d.]+ r2 0\.9\d+/m);
    expect(r.stdout).toMatch(/^held-out RMSE [\d.]+, MAE [\d.]+ \(in y's units\), R² 0\.9\d+ on 200 rows/m);
    const summary = JSON.parse(readFileSync(path('s.json'), 'utf8'));
    expect(summary.loss).toBe('mse');
    expect(summary.r2).toBeGreaterThanOrEqual(0.95);
    expect(summary.rmse).toBeLessThan(0.3);
    expect(summary.testAccuracy).toBeUndefined();
    const last = readFileSync(path('s.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'epoch').at(-1);
    expect(last.r2).toBeCloseTo(summary.r2, 6);
    expect(last.rmse).toBeCloseTo(summary.rmse, 6);
    const svg = readFileSync(path('s.svg'), 'utf8');
    expect(svg).toMatch(/R² \(coefficient of determination\)/);
    expect(svg).toMatch(/mean squared error/);
    // predict reads the columns by name (order and an extra column do not matter) and answers in y's units.
    const some = rows.slice(0, 50);
    writeFileSync(path('new.csv'), ['y,e,d,c,b,a', ...some.map((v) => [v[5], v[4], v[3], v[2], v[1], v[0]].join(','))].join('\n') + '\n');
    const p = cli(['predict', '--weights', path('s.safetensors'), '--input', path('new.csv')]);
    expect(p.status, p.stderr).toBe(0);
    const predicted = p.stdout.trim().split('\n').map((l) => Number(l.split('\t')[1]));
    expect(predicted).toHaveLength(50);
    const err = predicted.reduce((a, v, i) => a + Math.abs(v - some[i][5]), 0) / 50;
    expect(err).toBeLessThan(0.3); // the target spans about [-3, 4]: an un-scaled output would be off by far more
  });

  it('a regression saved after 2 epochs and resumed to 4 ends where the uninterrupted run ends; --loss must match', () => {
    const run = ['train', '--data', path('smooth.csv'), '--label', 'y', '--backend', 'cpu', '--schedule', 'constant', '--loss', 'huber'];
    const whole = cli([...run, '--epochs', '4', '--json', path('whole.json')]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(cli([...run, '--epochs', '2', '--save', path('half.safetensors')]).status).toBe(0);
    const rest = cli([...run, '--epochs', '4', '--resume', path('half.safetensors'), '--json', path('rest.json')]);
    expect(rest.status, rest.stderr).toBe(0);
    const [a, b] = ['whole.json', 'rest.json'].map((f) => JSON.parse(readFileSync(path(f), 'utf8')));
    expect(a.loss).toBe('huber');
    expect(b.rmse).toBe(a.rmse);
    expect(b.r2).toBe(a.r2);
    const other = cli([...run.slice(0, -2), '--epochs', '4', '--resume', path('half.safetensors')]);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/--loss huber in the checkpoint but mse here/);
  });

  it('--loss bce on a two-class table: one output, held-out accuracy, predict gives the class and both probabilities', () => {
    const r = mulberry32(5), rows = ['a,b,y'];
    for (let i = 0; i < 300; i++) { const a = r() * 2 - 1, b = r() * 2 - 1; rows.push(`${a.toFixed(3)},${b.toFixed(3)},${a + b > 0 ? 'yes' : 'no'}`); }
    writeFileSync(path('bin.csv'), rows.join('\n') + '\n');
    const t = cli(['train', '--data', path('bin.csv'), '--label', 'y', '--loss', 'bce', '--backend', 'cpu', '--epochs', '10', '--save', path('bin.safetensors'), '--json', path('bin.json')]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/table MLP 2-64-64-1/);
    const summary = JSON.parse(readFileSync(path('bin.json'), 'utf8'));
    expect(summary.loss).toBe('bce');
    expect(summary.testAccuracy).toBeGreaterThan(0.9);
    writeFileSync(path('bin_new.csv'), 'a,b\n0.5,0.4\n-0.5,-0.3\n');
    const p = cli(['predict', '--weights', path('bin.safetensors'), '--input', path('bin_new.csv'), '--probs', '--backend', 'cpu']);
    expect(p.status, p.stderr).toBe(0);
    const lines = p.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(lines.map((l) => l[1])).toEqual(['yes', 'no']);
    for (const l of lines) {
      const [p0, p1] = l[2].split(' ').map(Number);
      expect(p0 + p1).toBeCloseTo(1, 3);
      expect(l[1] === 'yes' ? p1 : p0).toBeGreaterThan(0.5);
    }
  });

  it('bad values of --loss, --task and --missing are one exit-2 line', () => {
    writeFileSync(path('small.csv'), 'a,b,y\n1,2,0.5\n3,4,1.5\n5,6,2.5\n7,8,3.5\n9,1,4.5\n');
    writeFileSync(path('classes.csv'), 'a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,1,z\n');
    const data = (f: string) => ['train', '--data', path(f), '--label', 'y', '--backend', 'cpu'];
    expectUsageErrors(cli, [
      [[...data('small.csv'), '--loss', 'l3'], /--loss must be one of cross-entropy, bce, mse, mae, huber, got 'l3'/],
      [[...data('small.csv'), '--loss', 'cross-entropy'], /--loss cross-entropy classifies, but y is a regression target/],
      [[...data('classes.csv'), '--loss', 'mse'], /--loss mse fits numbers, but y holds classes/],
      [[...data('classes.csv'), '--loss', 'bce'], /--loss bce needs two classes .* has 3/],
      [[...data('classes.csv'), '--task', 'regression'], /regression target 'x' is not a number/],
      [[...data('small.csv'), '--task', 'numbers'], /--task must be one of classification, regression, got 'numbers'/],
      [[...data('small.csv'), '--missing', 'fill'], /--missing must be one of error, drop, got 'fill'/],
      [['train', '--task', 'regression'], /--task regression needs --data FILE\.csv/],
      [['predict', '--weights', path('s.safetensors'), '--input', path('small.csv'), '--probs'], /--probs applies to classifiers/],
    ]);
  });
});
