// `fit`, Keras-style, on top of ClassifierTrainer: epochs of DataLoader batches, a schedule, validation after each
// epoch, callbacks that may stop the run, early stopping, and a history. Nothing here reads from the device inside an
// epoch: the loss and training accuracy are the trainer's sampled asynchronous reads, and validation runs between
// epochs, in eval mode (dropout off, batch norm on its running statistics).
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
import { ClassifierTrainer, EpochStats } from './trainer.js';
import type { LossName } from './losses.js';
import { OptionError } from '../util/errors.js';

/** One epoch's metrics: the training ones are sampled means (see EpochStats), the val_ ones are over the whole set. */
export interface Logs { loss: number; accuracy: number; val_loss?: number; val_accuracy?: number; lr: number; seconds: number }
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
}

/** What callbacks see; set `stop` to end training after the current batch. */
export interface FitContext { trainer: ClassifierTrainer; history: History; epochs: number; stop: boolean }

export interface Callback {
  onTrainBegin?(ctx: FitContext): void | Promise<void>;
  onEpochBegin?(epoch: number, ctx: FitContext): void | Promise<void>;
  /** Synchronous: it runs inside the epoch's loop, between steps that nothing waits for. */
  onBatchEnd?(batch: number, size: number, ctx: FitContext): void;
  onEpochEnd?(epoch: number, logs: Logs, ctx: FitContext): void | Promise<void>;
  onTrainEnd?(history: History, ctx: FitContext): void | Promise<void>;
}

export interface FitOptions {
  epochs: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Seeds the batch order and the validation split. */
  seed?: number;
  /** Hold out this fraction of the training rows (chosen at random by the seed) for validation. */
  validationSplit?: number;
  validationData?: Dataset;
  /** A schedule of the step, or a named one built for this run from the optimizer's current lr. */
  schedule?: Schedule | ({ name: ScheduleName } & Partial<ScheduleSpec>);
  /** Reduce-on-plateau, fed `plateauMonitor` at each epoch end [val_loss with validation, else loss]. */
  plateau?: ReduceOnPlateau;
  plateauMonitor?: Monitor;
  callbacks?: Callback[];
  augment?: Augment;
  /** Read the loss every this many steps [50, or once an epoch when epochs are shorter]. */
  logEvery?: number;
  evalBatchSize?: number;
}

export async function readWeights(backend: Backend, vars: readonly Variable[]): Promise<Float32Array[]> {
  return Promise.all(vars.map((v) => backend.readVariable(v)));
}

export function writeWeights(backend: Backend, vars: readonly Variable[], values: readonly Float32Array[]): void {
  vars.forEach((v, i) => backend.writeVariable(v, values[i]));
}

const monitorValue = (logs: Logs, m: Monitor) => logs[m];

export async function fit(trainer: ClassifierTrainer, data: Dataset, o: FitOptions): Promise<History> {
  if (!(Number.isInteger(o.epochs) && o.epochs >= 0)) throw new OptionError(`fit: epochs must be an integer >= 0, got ${o.epochs}`);
  if (o.validationSplit !== undefined && o.validationData) throw new OptionError('fit: give validationSplit or validationData, not both');
  const seed = o.seed ?? 0;
  let train = data, val = o.validationData;
  if (o.validationSplit) ({ train, val } = splitValidation(data, o.validationSplit, seed));
  if (val && val.n === 0) val = undefined;
  const loader = new DataLoader(train, { batchSize: o.batchSize ?? 32, shuffle: o.shuffle ?? true, seed, augment: o.augment });
  let plateau = o.plateau;
  if (typeof o.schedule === 'function') trainer.schedule = o.schedule;
  else if (o.schedule) {
    // Counted from the trainer's current step, so that a named schedule spans this call's epochs.
    const made = makeSchedule(o.schedule.name, { lr: trainer.optimizer.lr, epochs: o.epochs, stepsPerEpoch: loader.numBatches, ...o.schedule });
    const start = trainer.step;
    trainer.schedule = (step) => made.schedule(step - start);
    plateau ??= made.plateau;
  }
  const plateauMonitor = o.plateauMonitor ?? (val ? 'val_loss' : 'loss');
  const history: History = { epochs: [], loss: [], accuracy: [], lr: [], ...(val ? { val_loss: [], val_accuracy: [] } : {}) };
  const ctx: FitContext = { trainer, history, epochs: o.epochs, stop: false };
  const callbacks = o.callbacks ?? [];
  const logEvery = o.logEvery ?? Math.max(1, Math.min(50, loader.numBatches));

  for (const c of callbacks) await c.onTrainBegin?.(ctx);
  for (let epoch = 0; epoch < o.epochs && !ctx.stop; epoch++) {
    for (const c of callbacks) await c.onEpochBegin?.(epoch, ctx);
    const s: EpochStats = await trainer.trainEpoch(loader, epoch, {
      logEvery,
      onBatchEnd: (batch, size) => { for (const c of callbacks) c.onBatchEnd?.(batch, size, ctx); },
      stop: () => ctx.stop,
    });
    const logs: Logs = { loss: s.loss, accuracy: s.accuracy, lr: trainer.optimizer.lr, seconds: s.seconds };
    if (val) {
      const v = await trainer.evaluate(val, o.evalBatchSize);
      logs.val_loss = v.loss; logs.val_accuracy = v.accuracy;
      history.val_loss!.push(v.loss); history.val_accuracy!.push(v.accuracy);
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
  return history;
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

/** Keras's EarlyStopping (Keras 3 semantics: the best weights are restored when training ends, stopped or not). */
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

  constructor(readonly o: EarlyStoppingOptions = {}) {
    this.monitor = o.monitor ?? 'val_loss';
    this.mode = o.mode && o.mode !== 'auto' ? o.mode : this.monitor.endsWith('accuracy') ? 'max' : 'min';
    this.patience = o.patience ?? 0;
    this.minDelta = Math.abs(o.minDelta ?? 0);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  private improves(v: number, over: number): boolean {
    return this.mode === 'min' ? v + this.minDelta < over : v - this.minDelta > over;
  }

  onTrainBegin(): void {
    this.wait = 0; this.bestEpoch = -1; this.stoppedEpoch = -1; this.bestWeights = undefined;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  async onEpochEnd(epoch: number, logs: Logs, ctx: FitContext): Promise<void> {
    const v = monitorValue(logs, this.monitor);
    if (v === undefined) throw new OptionError(`EarlyStopping: monitor '${this.monitor}' is not in the logs (no validation data?)`);
    const { backend, model } = ctx.trainer;
    if (this.o.restoreBestWeights && !this.bestWeights) { this.bestWeights = await readWeights(backend, modelVariables(model)); this.bestEpoch = epoch; }
    this.wait++;
    if (this.improves(v, this.best)) {
      this.best = v; this.bestEpoch = epoch;
      if (this.o.restoreBestWeights) this.bestWeights = await readWeights(backend, modelVariables(model));
      if (this.o.baseline === undefined || this.improves(v, this.o.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) { this.stoppedEpoch = epoch; ctx.stop = true; }
  }

  onTrainEnd(_h: History, ctx: FitContext): void {
    if (this.o.restoreBestWeights && this.bestWeights) writeWeights(ctx.trainer.backend, modelVariables(ctx.trainer.model), this.bestWeights);
  }
}

/** Model outputs for `n` rows of `x` in eval mode; with `probabilities`, a softmax over each row (classifiers). */
export async function predict(trainer: ClassifierTrainer, x: Float32Array, n: number, o: { probabilities?: boolean; batchSize?: number } = {}): Promise<Float32Array> {
  const out = await trainer.predict(x, n, o.batchSize);
  return o.probabilities ? softmaxRows(out, n) : out;
}

/** Loss and accuracy over a dataset, in eval mode. */
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
