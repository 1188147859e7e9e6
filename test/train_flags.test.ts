// The `wgtrain train` flags that steer fit's loop, each shown to have its effect end to end: --early-stopping with
// --val-split (stops after PATIENCE epochs without improvement, keeps the best epoch, resumes bit for bit), --schedule
// plateau with --patience and --min-lr (watches the validation loss), --nesterov, --l1/--l2 (elastic net), --flip and
// --jitter; and a one-line exit-2 error for each bad value.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../src/train/checkpoint_file.js';
import { expectUsageErrors } from './helpers.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', 'train', ...args], { encoding: 'utf8', timeout: 300_000 });
const dir = mkdtempSync(join(tmpdir(), 'wgtrain-flags-'));
const path = (name: string) => join(dir, name);

/** 160 rows of 4 uniform features with labels drawn independently of them: the validation loss soon rises. */
function noise(): string {
  let s = 7;
  const r = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  const rows = ['a,b,c,d,kind'];
  for (let i = 0; i < 160; i++) rows.push(`${[r(), r(), r(), r()].map((v) => v.toFixed(3)).join(',')},${['x', 'y', 'z'][Math.floor((r() + 0.5) * 3)]}`);
  return rows.join('\n') + '\n';
}

interface EpochRecord { type: 'epoch'; epoch: number; loss: number; valLoss: number; lr: number }
const epochRecords = (file: string): EpochRecord[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
const ok = (r: ReturnType<typeof cli>) => { expect(r.status, r.stderr).toBe(0); return r; };

let table: string[];
beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs']);
  writeFileSync(path('noise.csv'), noise());
  writeFileSync(path('net.json'), JSON.stringify({ input: [4], layers: [{ type: 'linear', out: 64 }, { type: 'relu' }, { type: 'linear', out: 3 }] }));
  table = ['--data', path('noise.csv'), '--label', 'kind', '--model', path('net.json'), '--backend', 'cpu', '--batch-size', '8', '--lr', '0.1'];
});

describe('wgtrain train: flags of the training loop', () => {
  it('a bad value of each flag is one line naming it, with exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['--val-split', '1'], /--val-split must be a fraction in \(0, 1\), got '1'/],
      [['--val-split', 'half'], /--val-split must be a fraction in \(0, 1\), got 'half'/],
      [['--early-stopping', '3'], /--early-stopping watches the validation loss: add --val-split F/],
      [['--early-stopping', '0', '--val-split', '0.2'], /--early-stopping must be an integer >= 1, got '0'/],
      [['--early-stopping', '2', '--val-split', '0.2', '--save', path('x.st'), '--save-every', '3'], /--save-every does not combine with --early-stopping/],
      [['--schedule', 'plateau'], /--schedule plateau watches the validation loss: add --val-split F/],
      [['--patience', '2'], /--patience applies to --schedule plateau, not cosine/],
      [['--min-lr', '0.001', '--schedule', 'step'], /--min-lr applies to --schedule plateau, not step/],
      [['--schedule', 'plateau', '--val-split', '0.2', '--patience', '0'], /--patience must be an integer >= 1, got '0'/],
      [['--schedule', 'plateau', '--val-split', '0.2', '--lr', '0.1', '--min-lr', '0.1'], /--min-lr must be below the learning rate 0\.1, got '0\.1'/],
      [['--schedule', 'plateau', '--val-split', '0.2', '--gamma', '2'], /ReduceOnPlateau: factor must be in \(0, 1\), got 2/],
      [['--nesterov', '--optimizer', 'adam'], /--nesterov applies to sgd, not adam/],
      [['--nesterov', '--momentum', '0'], /--nesterov needs --momentum above 0, got 0/],
      [['--l1=-1'], /--l1 must be a number >= 0, got '-1'/],
      [['--l2', 'lots'], /--l2 must be a number >= 0, got 'lots'/],
      [['--jitter', '1'], /--jitter must be in \[0, 1\), got '1'/],
      [['--flip', '--data', path('noise.csv'), '--label', 'kind'], /--flip applies to images \(MNIST\), not to --data tables/],
      [['--jitter', '0.1', '--data', path('noise.csv'), '--label', 'kind'], /--jitter applies to images \(MNIST\), not to --data tables/],
    ];
    expectUsageErrors(cli, cases);
  });

  it('--early-stopping stops PATIENCE epochs after the best validation loss, keeps that epoch, and resumes bit for bit', async () => {
    const run = ['--epochs', '40', '--schedule', 'constant', '--val-split', '0.25', '--early-stopping', '2'];
    const a = ok(cli([...table, ...run, '--metrics', path('a.jsonl'), '--json', path('a.json'), '--save', path('a.st')]));
    const records = epochRecords(path('a.jsonl'));
    const losses = records.map((r) => r.valLoss), best = losses.indexOf(Math.min(...losses));
    expect(records.length).toBeLessThan(40);
    expect(records.length).toBe(best + 1 + 2); // two epochs without a lower validation loss, then the stop
    const summary = JSON.parse(readFileSync(path('a.json'), 'utf8'));
    expect(summary.earlyStopping).toEqual({ bestEpoch: best + 1, stoppedEpoch: best + 3 });
    // The model ends with the best epoch's weights: the validation rows give that epoch's loss again, not the last one's.
    expect(summary.validationLoss).toBe(losses[best]);
    expect(summary.validationLoss).not.toBe(losses.at(-1));
    expect(a.stdout).toContain(`early stopping: stopped after epoch ${best + 3}; the best validation loss, ${losses[best].toFixed(4)}, was after epoch ${best + 1}`);
    // --save keeps the best epoch's checkpoint.
    expect((await readCheckpoint(path('a.st'))).meta.epoch).toBe(best + 1);

    // Interrupted one epoch after the best, then resumed: the same epochs, the same stop, the same weights.
    ok(cli([...table, ...run.map((v) => (v === '40' ? String(best + 2) : v)), '--save', path('b.st')]));
    const b = ok(cli([...table, ...run, '--resume', path('b.st'), '--metrics', path('b.jsonl'), '--json', path('b.json')]));
    expect(b.stdout).toContain(`resumed from ${path('b.st')} (after epoch ${best + 1}`);
    expect(epochRecords(path('b.jsonl'))).toEqual(records.slice(best + 1).map((r) => ({ ...r, samplesPerSec: expect.any(Number), seconds: expect.any(Number) })));
    const resumed = JSON.parse(readFileSync(path('b.json'), 'utf8'));
    expect([resumed.validationLoss, resumed.testAccuracy, resumed.earlyStopping]).toEqual([summary.validationLoss, summary.testAccuracy, summary.earlyStopping]);
  });

  it('--schedule plateau cuts the rate by --gamma once --patience epochs in a row miss the best validation loss, not before, and not below --min-lr', () => {
    const r = ok(cli([...table, '--epochs', '14', '--schedule', 'plateau', '--patience', '2', '--gamma', '0.5', '--min-lr', '0.03', '--val-split', '0.25', '--metrics', path('p.jsonl')]));
    const records = epochRecords(path('p.jsonl'));
    // ReduceOnPlateau's rule (PyTorch's, relative threshold 1e-4) replayed on the logged validation losses: each
    // epoch's rate must be the one this predicts.
    let best = Infinity, bad = 0, lr = 0.1, cuts = 0, waitedWithoutCut = false;
    for (const rec of records) {
      expect(rec.lr, `epoch ${rec.epoch}`).toBeCloseTo(lr, 12);
      if (rec.valLoss < best * (1 - 1e-4)) { best = rec.valLoss; bad = 0; } else bad++;
      if (bad === 1) waitedWithoutCut = true;
      if (bad >= 2) { bad = 0; const next = Math.max(lr * 0.5, 0.03); if (lr - next > 1e-8) { lr = next; cuts++; } }
    }
    expect(cuts).toBe(2); // 0.1 -> 0.05 -> 0.03 (the floor, not 0.025)
    expect(waitedWithoutCut).toBe(true);
    expect(records.at(-1)!.lr).toBe(0.03);
    expect(r.stdout).toContain('plateau: learning rate now 0.05');
    expect(r.stdout).toContain('plateau: learning rate now 0.03');
  });

  it('--nesterov, --l1, --l2 and both (elastic net) change the update the way they say', async () => {
    const weights = async (file: string) => {
      const { meta, tensors } = await readCheckpoint(file);
      const w = [...tensors].filter(([n, t]) => n.endsWith('.weight') && t.shape.length === 2).map(([, t]) => t.array() as Float32Array);
      return { meta, l1: w.reduce((a, t) => a + t.reduce((s, v) => s + Math.abs(v), 0), 0), l2: w.reduce((a, t) => a + t.reduce((s, v) => s + v * v, 0), 0) };
    };
    const train = async (name: string, extra: string[]) => { ok(cli([...table, '--epochs', '3', '--save', path(name), ...extra])); return weights(path(name)); };
    const plain = await train('plain.st', []);
    const nesterov = await train('nesterov.st', ['--nesterov']);
    expect(plain.meta.optimizer).toMatchObject({ kind: 'sgd', nesterov: false });
    expect(nesterov.meta.optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9, nesterov: true });
    expect(nesterov.l2).not.toBe(plain.l2);
    const l1 = await train('l1.st', ['--l1', '0.01']), l2 = await train('l2.st', ['--l2', '0.01']), both = await train('both.st', ['--l1', '0.01', '--l2', '0.01']);
    expect(l1.l1).toBeLessThan(0.9 * plain.l1); // the L1 penalty shrinks Σ|w|
    expect(l2.l2).toBeLessThan(0.9 * plain.l2); // the L2 penalty shrinks Σw²
    expect(both.l1).toBeLessThan(l2.l1); // elastic net: the L1 part on top of the L2 one
    expect(both.l2).toBeLessThan(l1.l2); // and the L2 part on top of the L1 one
    expect(l1.meta.run).toMatchObject({ l1: 0.01 });
    expect(both.meta.run).toMatchObject({ l1: 0.01, l2: 0.01 });
  });

  it('--flip and --jitter augment the training images: each run trains on other pixels, and the run records them', async () => {
    const mnist = ['--backend', 'webgpu', '--model', 'mlp', '--limit', '64', '--batch-size', '32', '--epochs', '1'];
    const fc1 = async (extra: string[], name: string) => {
      ok(cli([...mnist, ...extra, '--save', path(name)]));
      const { meta, tensors } = await readCheckpoint(path(name));
      return { run: meta.run, w: Array.from(tensors.get('fc1.weight')!.array() as Float32Array) };
    };
    const plain = await fc1([], 'm0.st'), flip = await fc1(['--flip'], 'm1.st'), jitter = await fc1(['--jitter', '0.3'], 'm2.st'), again = await fc1(['--flip'], 'm3.st');
    expect(flip.w).not.toEqual(plain.w);
    expect(jitter.w).not.toEqual(plain.w);
    expect(jitter.w).not.toEqual(flip.w);
    expect(again.w).toEqual(flip.w); // drawn from (seed, epoch, image): the same run twice is the same
    expect(flip.run).toMatchObject({ flip: true });
    expect(jitter.run).toMatchObject({ jitter: 0.3 });
    expect(plain.run).not.toHaveProperty('flip');
  });

  it('--precision f16: trains with its loss scale in the checkpoint, resumes bit for bit, and a resume without the flag is refused', async () => {
    const gpuTable = table.map((v) => (v === 'cpu' ? 'webgpu' : v));
    const f16 = [...gpuTable, '--schedule', 'constant', '--precision', 'f16'];
    const a = ok(cli([...f16, '--epochs', '3', '--save', path('f16a.st')]));
    expect(a.stdout).toContain('precision f16');
    ok(cli([...f16, '--epochs', '1', '--save', path('f16.st')]));
    const saved = await readCheckpoint(path('f16.st'));
    expect([...saved.tensors.keys()]).toEqual(expect.arrayContaining(['loss_scale.scale', 'loss_scale.good_steps']));
    ok(cli([...f16, '--epochs', '3', '--resume', path('f16.st'), '--save', path('f16b.st')]));
    const [whole, resumed] = [await readCheckpoint(path('f16a.st')), await readCheckpoint(path('f16b.st'))];
    for (const [name, t] of whole.tensors) expect([...resumed.tensors.get(name)!.array()], name).toEqual([...t.array()]);
    const refused = cli([...gpuTable, '--schedule', 'constant', '--epochs', '3', '--resume', path('f16.st')]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--precision f16 in the checkpoint but unset here/);
  });
});
