// src/train/run_flags.ts: a run's recorded flags make the same optimizer, schedule, trainer and epoch-end control in
// the CLI and in the browser demo. A record the CLI writes reads back to itself; a bad one is one clear error; and a
// run with plateau and early stopping stopped mid-epoch by a step limit (as the page stops), saved and continued,
// ends bit for bit where the uninterrupted run ends. The page's side end to end: test/browser.e2e.test.ts.
import { describe, it, expect } from 'vitest';
import { CpuBackend } from '../src/backends/index.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { encodeCheckpoint, restoreCheckpoint, decodeCheckpoint, type CheckpointMeta } from '../src/train/checkpoint.js';
import { fit } from '../src/train/fit.js';
import { mlp } from '../src/nn/models.js';
import { Rng } from '../src/util/rng.js';
import { UserError } from '../src/util/errors.js';
import type { Dataset } from '../src/data/dataset.js';
import { runFlagsOf, flagRecord, runOptimizer, runSchedule, runSplit, configureTrainer, EpochControl, scheduleRecord, cliArgs, type RunFlags } from '../src/train/run_flags.js';
import { randn, randInt } from './helpers.js';

const meta = (run: Record<string, unknown>): CheckpointMeta =>
  ({ format: 'wgtrain-checkpoint', version: 1, step: 0, epoch: 0, batch: 0, lr: 0.03, seed: 1, model: { name: 'mlp' }, optimizer: { kind: String(run.optimizer ?? 'sgd') }, run }) as unknown as CheckpointMeta;
const json = (r: Record<string, unknown>) => JSON.parse(JSON.stringify(r));

// Records as src/cli/train.ts writes them (flagRecord of its flags), undefined ones dropped by the JSON.
const DEFAULT = { model: 'mlp', optimizer: 'sgd', momentum: 0.9, 'batch-size': 32, seed: 1, limit: 320, schedule: 'cosine', lr: 0.03, warmup: 0, 'step-epochs': 1, epochs: 2 };
const RECORDS: Record<string, Record<string, unknown>> = {
  'the defaults (SGD, cosine)': DEFAULT,
  'plateau, validation, early stopping': { ...DEFAULT, schedule: 'plateau', epochs: undefined, gamma: 0.5, 'val-split': 0.25, 'early-stopping': 3, patience: 2, 'min-lr': 0.001 },
  'adamw, clipping, elastic net, augmentation': { ...DEFAULT, optimizer: 'adamw', momentum: undefined, lr: 0.001, 'weight-decay': 0.01, 'clip-norm': 1, l1: 1e-5, l2: 1e-4, translate: 2, flip: true, jitter: 0.1 },
  'nesterov, step decay, warm-up, a CSV regression': { ...DEFAULT, model: 'table-mlp', schedule: 'step', epochs: undefined, warmup: 10, gamma: 0.1, 'step-epochs': 2, nesterov: true, loss: 'mse', task: 'regression', missing: 'drop' },
};

describe('run flags', () => {
  for (const [what, record] of Object.entries(RECORDS)) {
    it(`a record the CLI writes reads back to itself: ${what}`, () => {
      const r = json(record);
      expect(json(flagRecord(runFlagsOf(meta(r), 'run.st')))).toEqual(r);
    });
  }

  it('a bad record is one clear error naming the file and the flag', () => {
    for (const [run, message] of [
      [{ ...DEFAULT, schedule: 'warp' }, /^run\.st: the recorded flag --schedule "warp" is not one of cosine, constant, step, exponential, plateau$/],
      [{ ...DEFAULT, 'batch-size': 0 }, /^run\.st: the recorded flag --batch-size 0 is not a number >= 1$/],
      [{ ...DEFAULT, epochs: undefined }, /^run\.st: the recorded flag --epochs undefined is missing, and a cosine schedule needs the run's length$/],
      [{ ...DEFAULT, optimizer: 'lion' }, /^run\.st: the recorded flag --optimizer "lion" is not one of sgd/],
    ] as const) {
      let err: unknown;
      try { runFlagsOf(meta(json(run)), 'run.st'); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('the CLI command that continues a run names only what the defaults would not give', () => {
    expect(cliArgs(runFlagsOf(meta(DEFAULT), 'x'), 9)).toEqual(['--model', 'mlp', '--limit', '320', '--epochs', '2']);
    const f = runFlagsOf(meta(json(RECORDS['plateau, validation, early stopping'])), 'x');
    expect(cliArgs(f, 5).join(' ')).toBe('--model mlp --limit 320 --schedule plateau --gamma 0.5 --val-split 0.25 --early-stopping 3 --patience 2 --min-lr 0.001 --epochs 5');
  });

  // Without early stopping: its best weights are in hand after a resume only at the best epoch's end, which is why
  // the CLI and the page save such a run only there.
  it('stopped mid-epoch by a step limit, saved and continued, a plateau run ends bit for bit where the uninterrupted one does', async () => {
    const be = new CpuBackend(), n = 45;
    const data: Dataset = { x: randn(n * 6, 5), y: randInt(n, 3, 6), n, featureShape: [6], numClasses: 3 };
    const flags: RunFlags = { ...runFlagsOf(meta(json(RECORDS['plateau, validation, early stopping'])), 'x'), 'batch-size': 8, limit: n, lr: 0.2, 'early-stopping': undefined, patience: 1, 'min-lr': 0.01 };
    const EPOCHS = 6;
    /** A run as the page builds one: everything from the flags. */
    const build = () => {
      const t = new ClassifierTrainer(be, mlp([6, 8, 3], new Rng(flags.seed)), runOptimizer(flags), [6]);
      configureTrainer(t, flags);
      const { train, val } = runSplit(flags, data);
      const spe = Math.ceil(train.n / flags['batch-size']);
      const { schedule, plateau } = runSchedule(flags, EPOCHS, spe);
      const control = new EpochControl(flags, plateau, spe);
      const go = (o: { steps?: number; start?: { epoch: number; batch: number } }, callbacks = [control.callback]) =>
        fit(t, train, { epochs: EPOCHS, batchSize: flags['batch-size'], seed: flags.seed, schedule, validationData: val, callbacks, ...o });
      return { t, control, go, spe };
    };
    const values = async (t: ClassifierTrainer) => Promise.all([...t.model.parameters(), ...t.optimizer.state()].map((v) => t.backend.readVariable(v)));

    const a = build();
    await a.go({});
    const want = { step: a.t.step, lr: a.t.optimizer.lr, control: a.control.state(), values: await values(a.t) };
    expect(want.lr).toBeLessThan(flags.lr); // the plateau acted

    // Stopped at step 11: 5 steps an epoch (36 training rows in batches of 8), so 1 into epoch 3, which fit closes
    // early; the plateau must not count that part-epoch.
    const b = build();
    expect(b.spe).toBe(5);
    let position = { epoch: 0, batch: 0 };
    await b.go({ steps: 11 }, [b.control.callback, { onBatchEnd: (batch, _s, ctx) => { position = { epoch: ctx.epoch, batch }; } }]);
    expect(position).toEqual({ epoch: 2, batch: 1 });
    const { bytes } = await encodeCheckpoint(b.t, { ...position, model: { name: 'mlp' }, seed: flags.seed, schedule: { ...scheduleRecord(flags), ...b.control.state() }, run: flagRecord(flags) });

    const c = build();
    c.t.prepare(8);
    const m = restoreCheckpoint(bytes, c.t);
    c.control.load(decodeCheckpoint(bytes).meta);
    await c.go({ start: { epoch: m.epoch, batch: m.batch } });
    expect({ step: c.t.step, lr: c.t.optimizer.lr, control: c.control.state() }).toEqual({ step: want.step, lr: want.lr, control: want.control });
    expect(await values(c.t)).toEqual(want.values);
  });
});
