// `fit`: the one training loop. The CLI's `train`, the browser demo and library code all call it. On top of
// ClassifierTrainer it runs epochs of DataLoader batches with a schedule, validation and test evaluation between
// epochs, reduce-on-plateau, callbacks that may stop the run (early stopping), a resume position (mid-epoch), and a
// history. It touches no file and needs no Node: progress, metrics files and checkpoints are callbacks that the
// caller supplies (src/cli/progress.ts, src/cli/resume.ts). Nothing reads from the device inside a step unless asked:
// the loss and training accuracy are read every `logEvery` steps, queued behind their step and awaited one interval
// later (which also keeps the host at most two intervals ahead of the GPU); validation runs between epochs, in eval
// mode (dropout off, batch norm on its running statistics).
import type { Backend } from '../backends/backend.js';
import type { Variable } from '../graph/tensor.js';
import type { Module } from '../nn/module.js';
import { modelVariables } from '../nn/state.js';
export { modelVariables }; // where the tests and callers of fit have found it
import type { Optimizer } from '../optim/optimizer.js';
import { makeSchedule, Schedule, ScheduleName, ScheduleSpec, ReduceOnPlateau } from '../optim/schedules.js';
import type { Regularization } from '../optim/regularizers.js';
import { Dataset, splitValidation } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import type { Augment } from '../data/augment.js';
import type { RunPosition } from './checkpoint.js';
import { ClassifierTrainer, PendingRead, Evaluation } from './trainer.js';
import { unstandardize } from '../data/standardize.js';
import type { LossName } from './losses.js';
import { OptionError } from '../util/errors.js';

/**
 * One epoch's metrics. loss and accuracy are means over the training batches whose loss was read (every logEvery-th;
 * accuracy is NaN for regression); the val_ and test_ ones are over the whole set, after the epoch.
 */
export interface Logs {
  loss: number; accuracy: number; val_loss?: number; val_accuracy?: number; test_loss?: number; test_accuracy?: number;
  /** Float targets: the validation and test sets' RMSE, MAE and R² (in the targets' units: trainer.targetScale). */
  val_rmse?: number; val_mae?: number; val_r2?: number; test_rmse?: number; test_mae?: number; test_r2?: number;
  /** The learning rate of the epoch's last step. */
  lr: number;
  seconds: number;
  samplesPerSec: number;
}
export type Monitor = 'loss' | 'accuracy' | 'val_loss' | 'val_accuracy';

export interface History {
  epochs: number[];
  loss: number[];
  accuracy: number[];
  /** Present when there is validation data. */
  val_loss?: number[];
  val_accuracy?: number[];
  /** The learning rate at each epoch's end. */
  lr: number[];
  /** With testData: the test set's loss and accuracy (and regression metrics) after training (after any callback restored weights). */
  test?: Evaluation;
}

/** What callbacks see; set `stop` to end training after the current batch. */
export interface FitContext {
  trainer: ClassifierTrainer;
  history: History;
  /** The epoch limit (Infinity when only `steps` limits the run). */
  epochs: number;
  /** The epoch under way. */
  epoch: number;
  /** Where this call started: a resumed run's position, else epoch 0, batch 0. */
  start: RunPosition;
  stop: boolean;
  /** Set by a callback that put other weights into the model at the end (EarlyStopping), so the test is measured again. */
  restored: boolean;
}

/** A loss read back from the device, one logging interval after its step. `samples`: the epoch's rows up to that step. */
export interface LossRead { epoch: number; step: number; loss: number; samples: number }

export interface Callback {
  onTrainBegin?(ctx: FitContext): void | Promise<void>;
  onEpochBegin?(epoch: number, ctx: FitContext): void | Promise<void>;
  /**
   * After each step: `batch` counts the epoch's batches done, so { epoch, batch } is where a checkpoint taken here
   * resumes. Return a promise only when something must happen before the next step (a checkpoint): fit awaits it.
   */
  onBatchEnd?(batch: number, size: number, ctx: FitContext): void | Promise<void>;
  /** Each loss read (every logEvery steps); awaited when it returns a promise. */
  onLoss?(r: LossRead, ctx: FitContext): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs, ctx: FitContext): void | Promise<void>;
  onTrainEnd?(history: History, ctx: FitContext): void | Promise<void>;
}

export interface FitOptions {
  /** Epochs to train up to, counted from epoch 0 even when resuming [Infinity with `steps`]. */
  epochs?: number;
  /** Stop after this many steps of this call, mid-epoch if need be. */
  steps?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Leave out each epoch's last, smaller batch (one compiled step instead of two). */
  dropLast?: boolean;
  /** Seeds the batch order and the validation split. */
  seed?: number;
  /** Hold out this fraction of the training rows (chosen at random by the seed) for validation. */
  validationSplit?: number;
  validationData?: Dataset;
  /** Measured after training (history.test), and after each epoch too (logs.test_*) with testEachEpoch. */
  testData?: Dataset;
  testEachEpoch?: boolean;
  /**
   * Continue a run from a checkpoint's position: epoch `start.epoch`, skipping its first `start.batch` batches (the
   * trainer must hold the checkpoint's state). Batch order and augmentation depend only on (seed, epoch, row), so
   * the resumed run sees the batches the uninterrupted one would have.
   */
  start?: RunPosition;
  /** A schedule of the step, or a named one built for this run (from the run's first step) from the optimizer's lr. */
  schedule?: Schedule | ({ name: ScheduleName } & Partial<ScheduleSpec>);
  /** Reduce-on-plateau, fed `plateauMonitor` at each epoch end [val_loss with validation, else loss]. */
  plateau?: ReduceOnPlateau;
  plateauMonitor?: Monitor;
  callbacks?: Callback[];
  augment?: Augment;
  /** Read the loss at every step that is a multiple of this [50, or the epoch's length when shorter]. */
  logEvery?: number;
  evalBatchSize?: number;
  /**
   * Compile every step and evaluation the run will take before its first step, with the backend's compileAsync
   * (trainer.prepareAsync), rather than each at its first use [true in a browser, where a synchronous pipeline
   * compilation holds the page's frames; false elsewhere].
   */
  compileAhead?: boolean;
}

/** A page or a worker: where synchronous compilation would hold frames. */
const inBrowser = () => typeof (globalThis as { document?: unknown }).document !== 'undefined' || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

/** The batch sizes of a pass over n rows in batches of B: B, and the last, smaller one. */
const batchSizes = (n: number, B: number, dropLast = false) => (n === 0 ? [] : [Math.min(B, n), ...(n % B && n > B && !dropLast ? [n % B] : [])]);

export async function readWeights(backend: Backend, vars: readonly Variable[]): Promise<Float32Array[]> {
  return Promise.all(vars.map((v) => backend.readVariable(v)));
}

export function writeWeights(backend: Backend, vars: readonly Variable[], values: readonly Float32Array[]): void {
  vars.forEach((v, i) => backend.writeVariable(v, values[i]));
}

const monitorValue = (logs: Logs, m: Monitor) => logs[m];

const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

export async function fit(trainer: ClassifierTrainer, data: Dataset, o: FitOptions): Promise<History> {
  const epochs = o.epochs ?? (o.steps !== undefined ? Infinity : NaN);
  if (!(isCount(epochs) || (epochs === Infinity && o.steps !== undefined))) throw new OptionError(`fit: epochs must be an integer >= 0, got ${o.epochs}`);
  if (o.steps !== undefined && !isCount(o.steps)) throw new OptionError(`fit: steps must be an integer >= 0, got ${o.steps}`);
  if (o.validationSplit !== undefined && o.validationData) throw new OptionError('fit: give validationSplit or validationData, not both');
  const seed = o.seed ?? 0;
  let train = data, val = o.validationData;
  if (o.validationSplit) ({ train, val } = splitValidation(data, o.validationSplit, seed));
  if (val && val.n === 0) val = undefined;
  const loader = new DataLoader(train, { batchSize: o.batchSize ?? 32, shuffle: o.shuffle ?? true, seed, augment: o.augment, dropLast: o.dropLast });
  const start = startPosition(o.start, loader.numBatches);
  let plateau = o.plateau;
  if (typeof o.schedule === 'function') trainer.schedule = o.schedule;
  else if (o.schedule) {
    // Counted from the run's first step (this call's, unless it resumes), so that a named schedule spans the run.
    const made = makeSchedule(o.schedule.name, { lr: trainer.optimizer.lr, epochs, stepsPerEpoch: loader.numBatches, ...o.schedule });
    const first = trainer.step - (start.epoch * loader.numBatches + start.batch);
    trainer.schedule = (step) => made.schedule(step - first);
    plateau ??= made.plateau;
  }
  const plateauMonitor = o.plateauMonitor ?? (val ? 'val_loss' : 'loss');
  const history: History = { epochs: [], loss: [], accuracy: [], lr: [], ...(val ? { val_loss: [], val_accuracy: [] } : {}) };
  const ctx: FitContext = { trainer, history, epochs, epoch: start.epoch, start, stop: false, restored: false };
  const callbacks = o.callbacks ?? [];
  const logEvery = o.logEvery ?? Math.max(1, Math.min(50, loader.numBatches));
  const stepLimit = o.steps === undefined ? Infinity : trainer.step + o.steps;
  const test = o.testData;
  let lastTest: { step: number; result: Evaluation } | undefined;

  if (o.compileAhead ?? inBrowser()) {
    const evalB = o.evalBatchSize ?? 250;
    await trainer.prepareAsync({ train: batchSizes(train.n, loader.batchSize, o.dropLast), evaluate: [val, test].flatMap((d) => (d ? batchSizes(d.n, evalB) : [])) });
  } else if (trainer.backend.tuner?.enabled) {
    // Tuning measures on the device, which a synchronous compile at the first step cannot wait for.
    await trainer.prepareAsync({ train: batchSizes(train.n, loader.batchSize, o.dropLast) });
  }
  for (const c of callbacks) await c.onTrainBegin?.(ctx);
  for (let epoch = start.epoch; epoch < epochs && !ctx.stop && trainer.step < stepLimit; epoch++) {
    ctx.epoch = epoch;
    for (const c of callbacks) await c.onEpochBegin?.(epoch, ctx);
    const s = await runEpoch(trainer, loader, epoch, epoch === start.epoch ? start.batch : 0, { logEvery, stepLimit, callbacks, ctx });
    const logs: Logs = { loss: s.loss, accuracy: s.accuracy, lr: trainer.optimizer.lr, seconds: s.seconds, samplesPerSec: s.samples / s.seconds };
    if (val) {
      const v = await trainer.evaluate(val, o.evalBatchSize);
      putLogs(logs, 'val', v);
      history.val_loss!.push(v.loss); history.val_accuracy!.push(v.accuracy);
    }
    // The last epoch's test result serves as the final one unless a callback changes the weights at the end.
    if (test && (o.testEachEpoch || epoch === epochs - 1)) {
      lastTest = { step: trainer.step, result: await trainer.evaluate(test, o.evalBatchSize) };
      putLogs(logs, 'test', lastTest.result);
    }
    history.epochs.push(epoch); history.loss.push(s.loss); history.accuracy.push(s.accuracy); history.lr.push(logs.lr);
    if (plateau) {
      const m = monitorValue(logs, plateauMonitor);
      if (m === undefined) throw new OptionError(`fit: plateau monitors '${plateauMonitor}', which this run does not log (no validation data?)`);
      plateau.step(m);
    }
    for (const c of callbacks) await c.onEpochEnd?.(epoch, logs, ctx);
  }
  for (const c of callbacks) await c.onTrainEnd?.(history, ctx);
  if (test) {
    const fresh = lastTest && lastTest.step === trainer.step && !ctx.restored;
    history.test = fresh ? lastTest!.result : await trainer.evaluate(test, o.evalBatchSize);
  }
  return history;
}

/** An evaluation's values as the logs' `val_*` or `test_*` entries. */
function putLogs(logs: Logs, prefix: 'val' | 'test', e: Evaluation): void {
  const l = logs as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(e)) if (v !== undefined) l[`${prefix}_${k}`] = v;
}

/** A checkpoint saved after an epoch's last batch resumes at the next epoch's start. */
function startPosition(p: RunPosition | undefined, batchesPerEpoch: number): RunPosition {
  if (!p) return { epoch: 0, batch: 0 };
  if (!(isCount(p.epoch) && isCount(p.batch))) throw new OptionError(`fit: start must be { epoch, batch } of integers >= 0, got ${JSON.stringify(p)}`);
  return p.batch >= batchesPerEpoch ? { epoch: p.epoch + 1, batch: 0 } : p;
}

interface EpochStats { loss: number; accuracy: number; samples: number; seconds: number }

/** One epoch's steps from batch `from`; stops early at `stepLimit` steps or when a callback sets ctx.stop. */
async function runEpoch(trainer: ClassifierTrainer, loader: DataLoader, epoch: number, from: number,
  o: { logEvery: number; stepLimit: number; callbacks: Callback[]; ctx: FitContext }): Promise<EpochStats> {
  const { callbacks, ctx } = o;
  const t0 = performance.now();
  // `seen` counts the epoch's rows from its start (a resumed epoch's skipped batches too), `samples` this call's.
  let samples = 0, seen = Math.min(loader.ds.n, from * loader.batchSize), lossSum = 0, lossCount = 0, correctSum = 0, predictions = 0;
  let pending: { read: PendingRead; seen: number } | undefined;
  const settle = async () => {
    if (!pending) return;
    const r = await trainer.settleRead(pending.read), at = pending.seen;
    pending = undefined;
    lossSum += r.loss; lossCount++;
    if (r.correct !== undefined) { correctSum += r.correct; predictions += r.predictions; }
    for (const c of callbacks) { const w = c.onLoss?.({ epoch, step: r.step, loss: r.loss, samples: at }, ctx); if (w) await w; }
  };
  let batch = from;
  for (const b of loader.batches(epoch, from)) {
    const g = trainer.trainStep(b.x, b.y, b.size);
    samples += b.size; seen += b.size; batch++;
    // By the trainer's step, not the epoch's batch: a resumed run reads the same steps as the uninterrupted one.
    if (trainer.step % o.logEvery === 0) {
      await settle();
      pending = { read: trainer.queueRead(g), seen };
    }
    for (const c of callbacks) { const w = c.onBatchEnd?.(batch, b.size, ctx); if (w) await w; }
    if (ctx.stop || trainer.step >= o.stepLimit) break;
  }
  await settle();
  await trainer.backend.sync();
  return { loss: lossCount ? lossSum / lossCount : NaN, accuracy: predictions ? correctSum / predictions : NaN, samples, seconds: (performance.now() - t0) / 1000 };
}

export interface EarlyStoppingOptions {
  monitor?: Monitor;
  /** 'auto' watches accuracies for a rise and losses for a fall. */
  mode?: 'min' | 'max' | 'auto';
  /** Epochs without improvement to wait before stopping. */
  patience?: number;
  /** The smallest change that counts as an improvement. */
  minDelta?: number;
  /** An improvement must also beat this to reset the wait. */
  baseline?: number;
  /** At the end of training, put back the weights (and running statistics) of the best epoch. */
  restoreBestWeights?: boolean;
}

/** What EarlyStopping carries over a resumed run (in a checkpoint's metadata). */
export interface EarlyStoppingState { best: number; bestEpoch: number; wait: number }

/**
 * Keras's EarlyStopping: stop once `patience` epochs in a row have not improved on the best (Keras 3 semantics: with
 * restoreBestWeights, the best epoch's weights are put back when training ends, stopped or not).
 */
export class EarlyStopping implements Callback {
  readonly monitor: Monitor;
  readonly mode: 'min' | 'max';
  readonly patience: number;
  readonly minDelta: number;
  best: number;
  bestEpoch = -1;
  stoppedEpoch = -1;
  private wait = 0;
  private bestWeights?: Float32Array[];
  private loaded?: EarlyStoppingState;

  constructor(readonly o: EarlyStoppingOptions = {}) {
    this.monitor = o.monitor ?? 'val_loss';
    this.mode = o.mode && o.mode !== 'auto' ? o.mode : this.monitor.endsWith('accuracy') ? 'max' : 'min';
    this.patience = o.patience ?? 0;
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) throw new OptionError(`EarlyStopping: patience must be an integer >= 0, got ${o.patience}`);
    this.minDelta = Math.abs(o.minDelta ?? 0);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** The best value so far, its epoch and the epochs waited since, for a checkpoint; `load` puts them back. */
  state(): EarlyStoppingState { return { best: this.best, bestEpoch: this.bestEpoch, wait: this.wait }; }

  /**
   * Continue a resumed run's early stopping (call before fit). With restoreBestWeights, the weights at the start
   * count as the best epoch's only when the run resumes right after that epoch (where the CLI saves with early
   * stopping on); otherwise the best weights are not in hand, and the end keeps the last ones.
   */
  load(s: EarlyStoppingState): void { this.loaded = { ...s }; }

  private improves(v: number, over: number): boolean {
    return this.mode === 'min' ? v + this.minDelta < over : v - this.minDelta > over;
  }

  async onTrainBegin(ctx: FitContext): Promise<void> {
    this.stoppedEpoch = -1; this.bestWeights = undefined;
    const s = this.loaded ?? { best: this.mode === 'min' ? Infinity : -Infinity, bestEpoch: -1, wait: 0 };
    this.best = s.best; this.bestEpoch = s.bestEpoch; this.wait = s.wait;
    this.loaded = undefined;
    const atBest = s.bestEpoch >= 0 && ctx.start.batch === 0 && ctx.start.epoch === s.bestEpoch + 1;
    if (this.o.restoreBestWeights && atBest) this.bestWeights = await readWeights(ctx.trainer.backend, modelVariables(ctx.trainer.model));
  }

  async onEpochEnd(epoch: number, logs: Logs, ctx: FitContext): Promise<void> {
    const v = monitorValue(logs, this.monitor);
    if (v === undefined) throw new OptionError(`EarlyStopping: monitor '${this.monitor}' is not in the logs (no validation data?)`);
    const { backend, model } = ctx.trainer;
    if (this.o.restoreBestWeights && !this.bestWeights && this.bestEpoch < 0) { this.bestWeights = await readWeights(backend, modelVariables(model)); this.bestEpoch = epoch; }
    this.wait++;
    if (this.improves(v, this.best)) {
      this.best = v; this.bestEpoch = epoch;
      if (this.o.restoreBestWeights) this.bestWeights = await readWeights(backend, modelVariables(model));
      if (this.o.baseline === undefined || this.improves(v, this.o.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) { this.stoppedEpoch = epoch; ctx.stop = true; }
  }

  onTrainEnd(h: History, ctx: FitContext): void {
    const last = h.epochs.at(-1);
    if (!this.o.restoreBestWeights || !this.bestWeights || last === undefined || last === this.bestEpoch) return;
    writeWeights(ctx.trainer.backend, modelVariables(ctx.trainer.model), this.bestWeights);
    ctx.restored = true;
  }
}

/**
 * Model outputs for `n` rows of `x` in eval mode; with `probabilities`, a softmax over each row (classifiers). A
 * regression trainer with a targetScale answers in the targets' original units.
 */
export async function predict(trainer: ClassifierTrainer, x: Float32Array, n: number, o: { probabilities?: boolean; batchSize?: number } = {}): Promise<Float32Array> {
  const out = await trainer.predict(x, n, o.batchSize);
  if (o.probabilities) return softmaxRows(out, n);
  return trainer.targetScale ? unstandardize(out, trainer.targetScale) : out;
}

/** Loss and accuracy (and regression metrics for float targets) over a dataset, in eval mode. */
export const evaluate = (trainer: ClassifierTrainer, ds: Dataset, batchSize?: number) => trainer.evaluate(ds, batchSize);

export function softmaxRows(logits: Float32Array, n: number): Float32Array {
  const C = logits.length / n, p = new Float32Array(logits.length);
  for (let i = 0; i < n; i++) {
    let max = -Infinity, s = 0;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[i * C + c]);
    for (let c = 0; c < C; c++) s += (p[i * C + c] = Math.exp(logits[i * C + c] - max));
    for (let c = 0; c < C; c++) p[i * C + c] /= s;
  }
  return p;
}

/** Everything needed to train a model from scratch: the helpers below build one trainer per fold, member or trial. */
export interface TrainerSpec {
  backend: Backend;
  model: (seed: number) => Module;
  optimizer: () => Optimizer;
  loss?: LossName;
  regularization?: Regularization;
  clipNorm?: number;
}

export function buildTrainer(spec: TrainerSpec, featureShape: number[], seed: number): ClassifierTrainer {
  const t = new ClassifierTrainer(spec.backend, spec.model(seed), spec.optimizer(), featureShape);
  if (spec.loss) t.loss = spec.loss;
  t.regularization = spec.regularization;
  if (spec.clipNorm !== undefined) t.clipNorm = spec.clipNorm;
  return t;
}
