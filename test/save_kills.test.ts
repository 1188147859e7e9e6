// Crash safety of checkpoints under repeated SIGKILLs: 20 training runs, each killed in the middle of one of its first
// three saves (half the temporary file written). Each next run resumes from the checkpoint, sweeps the temporary file
// the killed one left, and is itself killed; at every kill the checkpoint must still load, and once a run has started
// only its own temporary file may exist. A last run finishes: no temporary file remains and the checkpoint predicts.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCheckpoint } from '../src/train/checkpoint_file.js';

const BIN = resolve('bin/wgtrain.js');
const dir = mkdtempSync(join(tmpdir(), 'wgtrain-kills-'));
const KILLS = 20;

function table(n: number): string {
  const rows = ['a,b,kind'];
  for (let i = 0; i < n; i++) rows.push(`${(i % 3) + Math.sin(i)},${Math.cos(i * 7)},${'xyz'[i % 3]}`);
  return rows.join('\n') + '\n';
}

const temps = () => readdirSync(dir).filter((f) => f.startsWith('.ck.st.') && f.endsWith('.tmp'));
const args = () => ['train', '--model', 'net.json', '--data', 'data.csv', '--label', 'kind', '--backend', 'cpu', '--epochs', '40', '--batch-size', '8',
  '--save', 'ck.st', '--save-every', '1', ...(existsSync(join(dir, 'ck.st')) ? ['--resume', 'ck.st'] : [])];

/** Starts a run that pauses in its `nth` save; resolves once it has paused, with the temporary files seen then. */
async function killMidSave(nth: number): Promise<{ pid: number; tempsWhilePaused: string[] }> {
  const child = spawn(process.execPath, [BIN, ...args()], { cwd: dir, env: { ...process.env, WGTRAIN_TEST_PAUSE_SAVE: String(nth) }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, signal) => r(signal)));
  await new Promise<void>((ok, fail) => {
    let err = '';
    child.stderr!.on('data', (d) => { err += d; if (err.includes('WGTRAIN_TEST_PAUSE_SAVE: paused')) ok(); });
    child.on('exit', () => fail(new Error(`the run exited before pausing in save ${nth}: ${err}`)));
  });
  const tempsWhilePaused = temps();
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return { pid: child.pid!, tempsWhilePaused };
}

describe('SIGKILL during saves', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs']);
    writeFileSync(join(dir, 'data.csv'), table(60));
    writeFileSync(join(dir, 'net.json'), JSON.stringify({ input: [2], layers: [{ type: 'linear', out: 8 }, { type: 'tanh' }, { type: 'linear', out: 3 }] }));
  }, 60_000);

  it(`${KILLS} kills mid-save: the checkpoint always loads, the next run sweeps the temporary file, none remains`, async () => {
    let survived = 0, lastStep = -1;
    for (let k = 0; k < KILLS; k++) {
      const { pid, tempsWhilePaused } = await killMidSave(1 + (k % 3));
      // Only the paused run's own temporary file: the one killed before it was swept when this run started.
      expect(tempsWhilePaused, `kill ${k}`).toHaveLength(1);
      expect(tempsWhilePaused[0]).toContain(`.${pid}-`);
      if (existsSync(join(dir, 'ck.st'))) {
        const { meta } = await readCheckpoint(join(dir, 'ck.st'));
        expect(meta.step, `kill ${k}`).toBeGreaterThanOrEqual(lastStep);
        lastStep = meta.step;
      }
      survived++;
    }
    expect(survived).toBe(KILLS);
    expect(lastStep).toBeGreaterThan(KILLS / 2); // the kills came after earlier saves of each run had completed
    const last = spawnSync(process.execPath, [BIN, ...args()], { cwd: dir, encoding: 'utf8' });
    expect(last.status, last.stderr).toBe(0);
    expect(last.stdout).toMatch(/removed .*\.ck\.st\.\d+-[0-9a-f]{8}\.tmp, left by a save that was killed/);
    expect(temps()).toEqual([]);
    const p = spawnSync(process.execPath, [BIN, 'predict', '--weights', 'ck.st', '--input', 'data.csv', '--backend', 'cpu'], { cwd: dir, encoding: 'utf8' });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout.trim().split('\n')).toHaveLength(60);
  }, 240_000);
});
