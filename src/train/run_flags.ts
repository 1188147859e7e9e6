// A `wgtrain train` run as its checkpoint records it (meta.run: the flags; meta.schedule: the schedule and the state of
// plateau and early stopping), and what those flags make: the optimizer, the schedule, the trainer's settings, the
// augmentation, the validation split and the callbacks that act at epoch ends. The CLI (src/cli/train.ts, resume.ts)
// and the browser demo (demos/browser/session.ts) both build a run from here, so a checkpoint continues in either with
// the same steps: one place decides what a flag means. Browser-safe: no file is read or written here.
import { makeOptimizer, defaultLr, OPTIMIZER_NAMES } from '../optim/index.js';
import type { Optimizer } from '../optim/optimizer.js';
import { makeSchedule, SCHEDULES, type Schedule, type ScheduleName, type ReduceOnPlateau } from '../optim/schedules.js';
import { augmentation, type Augment } from '../data/augment.js';
import { MNIST_MEAN, MNIST_STD } from '../data/mnist_parse.js';
import { splitValidation, type Dataset } from '../data/dataset.js';
import { MODELS } from '../nn/models.js';
import { EarlyStopping, type Callback, type EarlyStoppingState, type FitContext, type Logs } from './fit.js';
import { LOSSES, type LossName } from './losses.js';
import { parametersNamed } from './transfer.js';
import type { ClassifierTrainer } from './trainer.js';
import type { CheckpointMeta } from './checkpoint.js';
import { UserError } from '../util/errors.js';

/**
 * The flags a run records, by CLI flag name. Optional ones are recorded only when set (undefined vanishes in the
 * JSON), so that checkpoints from before a flag existed still resume; `epochs` only for cosine, the one schedule
 * whose shape depends on the run's length.
 */
export interface RunFlags {
  model: string; optimizer: string; momentum?: number; 'weight-decay'?: number; 'clip-norm'?: number;
  'batch-size': number; seed: number; limit: number;
  schedule: ScheduleName; lr: number; warmup: number; gamma?: number; 'step-epochs': number; epochs?: number;
  nesterov?: true; l1?: number; l2?: number; 'val-split'?: number; 'early-stopping'?: number; patience?: number; 'min-lr'?: number;
  translate?: number; flip?: true; jitter?: number;
  /** The trainer's loss when not softmax cross-entropy (its CLI name is the same). */
  loss?: LossName;
  task?: 'classification' | 'regression'; missing?: 'error' | 'drop'; digits?: string; freeze?: string;
  /** Mixed precision (ClassifierTrainer.precision); recorded only for f16, the default being float32. */
  precision?: 'f16';
}

/** The record as the CLI writes it, in its key order. */
export function flagRecord(f: RunFlags): Record<string, unknown> {
  return {
    model: f.model, optimizer: f.optimizer, momentum: f.momentum, 'weight-decay': f['weight-decay'], 'clip-norm': f['clip-norm'], 'batch-size': f['batch-size'], seed: f.seed, limit: f.limit,
    schedule: f.schedule, lr: f.lr, warmup: f.warmup, gamma: f.gamma, 'step-epochs': f['step-epochs'], ...(f.schedule === 'cosine' ? { epochs: f.epochs } : {}),
    nesterov: f.nesterov, l1: f.l1, l2: f.l2, 'val-split': f['val-split'], 'early-stopping': f['early-stopping'], patience: f.patience, 'min-lr': f['min-lr'],
    translate: f.translate, flip: f.flip, jitter: f.jitter, loss: f.loss, task: f.task, missing: f.missing, digits: f.digits, freeze: f.freeze,
    precision: f.precision,
  };
}

/** The flags in which `saved` and `here` differ, as the CLI's --resume names them; empty when the run continues. */
export function flagDifferences(saved: Record<string, unknown>, here: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(here), ...Object.keys(saved)])]
    .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(here[k]))
    .map((k) => `--${k} ${saved[k] ?? 'unset'} in the checkpoint but ${here[k] ?? 'unset'} here`);
}

/** A checkpoint's recorded flags, checked, with the defaults of the CLI that wrote it for what older ones lack. */
export function runFlagsOf(meta: CheckpointMeta, source: string): RunFlags {
  const run = (meta.run ?? {}) as Record<string, unknown>;
  const bad = (k: string, why: string): never => { throw new UserError(`${source}: the recorded flag --${k} ${JSON.stringify(run[k])} ${why}`); };
  const num = (k: string, min = -Infinity): number | undefined => {
    const v = run[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) bad(k, `is not a number >= ${min}`);
    return v as number;
  };
  const optimizer = String(run.optimizer ?? meta.optimizer.kind);
  if (!OPTIMIZER_NAMES.includes(optimizer)) bad('optimizer', `is not one of ${OPTIMIZER_NAMES.join(', ')}`);
  const schedule = String(run.schedule ?? 'constant') as ScheduleName;
  if (!SCHEDULES.includes(schedule)) bad('schedule', `is not one of ${SCHEDULES.join(', ')}`);
  const loss = run.loss as LossName | undefined;
  if (loss !== undefined && !(LOSSES as readonly string[]).includes(loss)) bad('loss', `is not one of ${LOSSES.join(', ')}`);
  const f: RunFlags = {
    model: String(run.model ?? (meta.model as { name?: string }).name ?? 'model.json'), optimizer,
    momentum: num('momentum', 0), 'weight-decay': num('weight-decay', 0), 'clip-norm': num('clip-norm', 0),
    'batch-size': num('batch-size', 1) ?? 32, seed: num('seed', 0) ?? meta.seed ?? 1, limit: num('limit', 1) ?? NaN,
    schedule, lr: num('lr', 0) ?? meta.lr, warmup: num('warmup', 0) ?? 0, gamma: num('gamma'), 'step-epochs': num('step-epochs', 1) ?? 1,
    epochs: num('epochs', 1), nesterov: run.nesterov === true ? true : undefined, l1: num('l1', 0), l2: num('l2', 0),
    'val-split': num('val-split', 0), 'early-stopping': num('early-stopping', 0), patience: num('patience', 1), 'min-lr': num('min-lr', 0),
    translate: num('translate', 0), flip: run.flip === true ? true : undefined, jitter: num('jitter', 0), loss,
    task: run.task as RunFlags['task'], missing: run.missing as RunFlags['missing'], digits: run.digits as string | undefined, freeze: run.freeze as string | undefined,
    precision: run.precision === undefined ? undefined : run.precision === 'f16' ? 'f16' : bad('precision', 'is not f16 (float32 runs record no precision)'),
  };
  if (schedule === 'cosine' && f.epochs === undefined) bad('epochs', 'is missing, and a cosine schedule needs the run\'s length');
  return f;
}

/** The optimizer the flags name, with PyTorch's defaults for what they leave out. */
export const runOptimizer = (f: RunFlags): Optimizer =>
  makeOptimizer(f.optimizer, { lr: f.lr, momentum: f.momentum, nesterov: f.nesterov, weightDecay: f['weight-decay'] });

/**
 * The learning rate of every step of a run of `epochs` epochs (Infinity where the schedule does not depend on it),
 * counted from the run's first step. --patience N counts epochs without improvement, as --early-stopping does;
 * ReduceOnPlateau's patience is PyTorch's (the rate drops on the bad epoch after `patience` of them), so N - 1.
 */
export function runSchedule(f: RunFlags, epochs: number, stepsPerEpoch: number): { schedule: Schedule; plateau?: ReduceOnPlateau } {
  return makeSchedule(f.schedule, {
    lr: f.lr, epochs, stepsPerEpoch, warmup: f.warmup, gamma: f.gamma, stepEpochs: f['step-epochs'],
    plateau: { patience: (f.patience ?? 2) - 1, minLr: f['min-lr'] },
  });
}

/** The trainer's loss, gradient clipping, regularisation and frozen layers, as the flags set them. */
export function configureTrainer(t: ClassifierTrainer, f: RunFlags): void {
  if (f.loss) t.loss = f.loss;
  t.clipNorm = f['clip-norm'];
  if (f.precision) t.precision = f.precision;
  if (f.l1 || f.l2) t.regularization = { l1: f.l1, l2: f.l2 };
  if (f.freeze) for (const p of parametersNamed(t.model, f.freeze.split(','))) t.frozen.add(p);
}

/** Images' augmentation (--translate, --flip, --jitter); uncovered pixels take the value of black after normalisation. */
export function runAugment(f: RunFlags, featureShape: readonly number[]): Augment | undefined {
  const { translate = 0, flip, jitter } = f;
  return translate > 0 || flip || jitter ? augmentation(featureShape, { translate, flip: !!flip, jitter, fill: -MNIST_MEAN / MNIST_STD, seed: f.seed }) : undefined;
}

/** The rows fit trains on and the validation rows (--val-split, seeded), as the CLI splits them. */
export function runSplit(f: RunFlags, train: Dataset): { train: Dataset; val?: Dataset } {
  return f['val-split'] === undefined ? { train } : splitValidation(train, f['val-split'], f.seed);
}

/** The learning rate the CLI uses for `optimizer` on `model` when --lr is not given, and its optimizer then. */
export const defaultOptimizer = (model: string) => (Object.hasOwn(MODELS, model) ? MODELS[model].optimizer : undefined) ?? 'sgd';

/**
 * The `wgtrain train` flags that continue the run: every recorded flag the CLI's defaults would not give, and
 * --epochs (a run not on cosine ends where the user likes: `epochs`).
 */
export function cliArgs(f: RunFlags, epochs: number): string[] {
  const optimizer = defaultOptimizer(f.model), out: string[] = ['--model', f.model, '--limit', String(f.limit)];
  const defaults: Record<string, unknown> = {
    optimizer, momentum: f.optimizer === 'sgd' ? 0.9 : undefined, 'batch-size': 32, seed: 1, schedule: 'cosine', lr: defaultLr(f.optimizer), warmup: 0, 'step-epochs': 1,
  };
  for (const [k, v] of Object.entries(flagRecord(f))) {
    if (k === 'model' || k === 'limit' || k === 'epochs' || v === undefined || v === defaults[k]) continue;
    if (v === true) out.push(`--${k}`);
    else out.push(`--${k}`, String(v));
  }
  return [...out, '--epochs', String(f.schedule === 'cosine' ? f.epochs : epochs)];
}

/** What a checkpoint carries beside the schedule's parameters, so that a resumed run goes on the same way. */
export interface SavedControl { plateau?: ReturnType<ReduceOnPlateau['state']>; earlyStopping?: EarlyStoppingState }

/**
 * Plateau and early stopping, which act at an epoch's end: made from the flags, loaded from a checkpoint's schedule
 * metadata, and saved into the next. `callback` steps the plateau and runs early stopping only at the end of a
 * whole epoch, so that a run stopped mid-epoch (the page's stop button or its step limit) leaves them as the
 * uninterrupted run has them at that step; put it first among fit's callbacks, where fit's own plateau steps.
 */
export class EpochControl {
  readonly plateau?: ReduceOnPlateau;
  readonly earlyStopping?: EarlyStopping;
  private finished = false;
  readonly callback: Callback;

  constructor(f: RunFlags, plateau: ReduceOnPlateau | undefined, private stepsPerEpoch: number) {
    this.plateau = plateau;
    if (f['early-stopping'] !== undefined) this.earlyStopping = new EarlyStopping({ monitor: 'val_loss', patience: f['early-stopping'], restoreBestWeights: true });
    const stopper = this.earlyStopping;
    const whole = (ctx: FitContext) => ctx.trainer.step % this.stepsPerEpoch === 0;
    this.callback = {
      onTrainBegin: (ctx) => stopper?.onTrainBegin(ctx),
      onEpochEnd: async (epoch: number, logs: Logs, ctx: FitContext) => {
        if (!whole(ctx)) return;
        if (this.plateau) {
          if (logs.val_loss === undefined) throw new UserError('plateau watches the validation loss: the run needs --val-split');
          this.plateau.step(logs.val_loss);
        }
        await stopper?.onEpochEnd(epoch, logs, ctx);
        this.finished = stopper?.stoppedEpoch === epoch || epoch === ctx.epochs - 1;
      },
      // Only a run that reached its end puts the best epoch's weights back: a stopped one keeps its last, to continue.
      onTrainEnd: (h, ctx) => (this.finished ? stopper?.onTrainEnd(h, ctx) : undefined),
    };
  }

  load(meta: CheckpointMeta): void {
    const control = (meta.schedule ?? {}) as SavedControl;
    if (this.plateau && control.plateau) this.plateau.load(control.plateau);
    if (this.earlyStopping && control.earlyStopping) this.earlyStopping.load(control.earlyStopping);
  }

  state(): SavedControl {
    return { ...(this.plateau && { plateau: this.plateau.state() }), ...(this.earlyStopping && { earlyStopping: this.earlyStopping.state() }) };
  }
}

/** The schedule metadata a checkpoint of this run records (the CLI's: name, lr, warm-up, gamma, step epochs). */
export const scheduleRecord = (f: RunFlags) => ({ name: f.schedule, lr: f.lr, warmup: f.warmup, gamma: f.gamma, stepEpochs: f['step-epochs'] });
