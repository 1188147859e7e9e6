// Training a classifier: the whole step (forward, loss, backward, update) is one graph, compiled once per batch size
// and replayed. The loop over steps and epochs is `fit` (fit.ts); the trainer gives it the step and the reads it queues
// behind a step and awaits later, so that nothing waits for the device inside the loop.
import { input, Tensor, Variable } from '../graph/tensor.js';
import { runningUpdate } from '../graph/norm.js';
import * as ops from '../graph/ops.js';
import { grad } from '../autodiff/grad.js';
import { Backend, Executable } from '../backends/backend.js';
import { Module, frozenParameters } from '../nn/module.js';
import { namedVariables } from '../nn/state.js';
import { OptionError } from '../util/errors.js';
import { stateUpdates } from '../nn/norm.js';
import { Optimizer, FusedOptimizer } from '../optim/optimizer.js';
import { Schedule } from '../optim/schedules.js';
import { weightPenalty, Regularization } from '../optim/regularizers.js';
import { lossGraph, hostLoss, LossName, LossGraph, predictionsPerRow, regressionMetrics, RegressionMetrics } from './losses.js';
import { clipGradNorm } from '../optim/clip.js';
import { Dataset, isRegression } from '../data/dataset.js';
import type { ColumnStats } from '../data/standardize.js';
import type { Precision } from '../graph/f16.js';
import { LossScaler, LossScaleOptions, anyNonFinite, indicator } from './loss_scale.js';

// `correct` counts right predictions on the device, out of `predictions` per batch (classification losses).
export interface TrainGraph { ex: Executable; x: Tensor; y?: Tensor; loss: Tensor; correct?: Tensor; predictions: number }
interface EvalGraph { ex: Executable; x: Tensor; logits: Tensor }

/** A training step's feeds: the batch, and its targets where the step takes them (a language model's come from x). */
export function stepFeeds(g: TrainGraph, x: Float32Array, y: Int32Array | Float32Array): Map<Tensor, Float32Array | Int32Array> {
  return new Map<Tensor, Float32Array | Int32Array>([[g.x, x], ...(g.y ? [[g.y, y] as const] : [])]);
}

/**
 * A dataset's mean loss (without weight penalties) and accuracy (NaN for regression losses); with float targets, also
 * RMSE, MAE and R² in the targets' original units (see ClassifierTrainer.targetScale).
 */
export interface Evaluation extends Partial<RegressionMetrics> { loss: number; accuracy: number }

/** A step's reads, queued on the device (ClassifierTrainer.queueRead). */
export interface PendingRead { step: number; value: Promise<Float32Array | Int32Array>; correct?: Promise<Float32Array | Int32Array>; predictions: number; guard?: Promise<Float32Array[]> }
/** What a settled read says: the step's loss and, for classification losses, its correct predictions out of `predictions`. */
export interface StepRead { step: number; loss: number; correct?: number; predictions: number }

export class NonFiniteLossError extends Error {
  /** `gradientsFinite`: what the gradient guard saw up to `step` (undefined when it is off). */
  constructor(readonly step: number, readonly loss: number, gradientsFinite?: boolean) {
    super(`training stopped: loss is ${loss} at step ${step}${gradientsFinite ? ' (every gradient was finite up to it)' : ''} (try a lower learning rate)`);
    this.name = 'NonFiniteLossError';
  }
}

/** A gradient held a NaN or an infinity: `gradientStep` is the first step whose gradients did, `step` the step read. */
export class NonFiniteGradientError extends NonFiniteLossError {
  constructor(readonly gradientStep: number, step: number, loss: number) {
    super(step, loss);
    this.message = `training stopped: a gradient became non-finite (NaN or infinity) at step ${gradientStep}; the loss read at step ${step} is ${loss} (try a lower learning rate or gradient clipping)`;
    this.name = 'NonFiniteGradientError';
  }
}

/** A graph built and not yet compiled: what to compile, and the graph's other parts. */
interface Unbuilt<G extends { ex: Executable }> { outputs: Tensor[]; effects: Tensor[]; graph: Omit<G, 'ex'> }

export class ClassifierTrainer {
  private trainGraphs = new Map<number, TrainGraph>();
  private evalGraphs = new Map<number, EvalGraph>();
  step = 0;
  /** When set, the optimizer's learning rate before each step. */
  schedule?: Schedule;
  /** The loss the step minimises; softmax_xent takes int32 labels, the others float targets shaped like the output. */
  loss: LossName = 'softmax_xent';
  /**
   * A self-supervised loss of the model's output and its own input (an autoencoder's reconstruction error, a VAE's
   * negative ELBO). When set it replaces `loss`, and the step feeds no targets: fit's batches carry labels, which
   * are then unused (read when a step is compiled).
   */
  objective?: (out: Tensor, x: Tensor) => Tensor;
  /** Weight penalties added to the training loss (read when a step is compiled). */
  regularization?: Regularization;
  /** When set, gradients are clipped to this global L2 norm before the update, on the device (read when a step is compiled). */
  clipNorm?: number;
  /** Check every float feed for NaN and infinities on the host before each step (NonFiniteInputError). */
  checkFinite = true;
  /**
   * Latch, on the device, the first step whose gradients held a NaN or an infinity; it is read with the loss, so a
   * stop says whether the gradients or the loss went bad first (read when a step is compiled).
   */
  guardGradients = true;
  /**
   * The training rows' target statistics when the float targets it sees were standardised with them: evaluate then
   * reports RMSE and MAE in the original units, and fit's predict un-scales the outputs (data/standardize.ts).
   */
  targetScale?: ColumnStats;
  /**
   * Parameters left out of the training step (transfer learning: frozen layers): no gradient is computed for them
   * where avoidable, the optimizer makes no state for them and they never change (read when a step is compiled).
   */
  readonly frozen = new Set<Variable>();
  /**
   * 'f16': mixed precision. Activations and gradients between f16-capable kernels are stored in half precision
   * (Plan.half), weights, optimizer state and accumulation stay float32, and the loss is scaled dynamically
   * (lossScaler): a step whose gradients overflow is skipped. WebGPU needs the adapter's 'shader-f16'. Replaces the
   * gradient guard, since overflow is expected and handled there (read when a step is compiled). ['f32']
   */
  precision: Precision = 'f32';
  /** The loss scale's start and growth interval under precision 'f16' (read when the first step is compiled). */
  lossScale: LossScaleOptions = {};
  /** precision 'f16': the dynamic loss scale, created with the first step (its variables are checkpointed). */
  lossScaler?: LossScaler;
  /**
   * The guard's state. Folded into the optimizer's multi-tensor update: `first` is the step number of the first
   * non-finite gradient (0: none yet). Otherwise, as graph: steps run on the device, and the count at that step.
   */
  private guard?: { first: Variable; count?: Variable };

  constructor(readonly backend: Backend, readonly model: Module, readonly optimizer: Optimizer, readonly featureShape: number[]) {
    for (const p of frozenParameters(model)) this.frozen.add(p);
  }

  /** The parameters the step trains: the model's, less the frozen ones. */
  get parameters(): Variable[] { return this.model.parameters().filter((p) => !this.frozen.has(p)); }

  /** Variables of the run besides the model's and the optimizer's that a checkpoint saves: the loss scale's. */
  runState(): Variable[] { return this.lossScaler?.state() ?? []; }

  /**
   * Compile the training step for batch size B now rather than at the first step: this creates the optimizer's state
   * variables, which a checkpoint needs to exist before it can load into them.
   */
  prepare(B: number): void { this.trainGraph(B); }

  /**
   * prepare(), for the training steps of batch sizes `train` and the evaluations of batch sizes `evaluate`, with
   * the backend's compileAsync: in a browser the device compiles the pipelines off its main thread, so that neither
   * the page's frames nor the first steps wait on it. fit awaits this before its first step in a browser.
   */
  async prepareAsync(sizes: { train?: readonly number[]; evaluate?: readonly number[] }): Promise<void> {
    const be = this.backend;
    const compile = (g: Unbuilt<TrainGraph | EvalGraph>) => (be.compileAsync ? be.compileAsync(g.outputs, g.effects, { precision: this.precision }) : Promise.resolve(be.compile(g.outputs, g.effects, { precision: this.precision })));
    for (const B of new Set(sizes.train)) {
      if (this.trainGraphs.has(B)) continue;
      const g = this.trainParts(B), ex = await compile(g);
      this.trainGraphs.set(B, { ...g.graph, ex });
    }
    for (const B of new Set(sizes.evaluate)) {
      if (this.evalGraphs.has(B)) continue;
      const g = this.evalParts(B), ex = await compile(g);
      this.evalGraphs.set(B, { ...g.graph, ex });
    }
  }

  private trainGraph(B: number): TrainGraph {
    let g = this.trainGraphs.get(B);
    if (!g) {
      const p = this.trainParts(B);
      this.trainGraphs.set(B, (g = { ...p.graph, ex: this.backend.compile(p.outputs, p.effects, { precision: this.precision }) }));
    }
    return g;
  }

  /** The training step's graph for batch size B, not yet compiled. */
  private trainParts(B: number): Unbuilt<TrainGraph> {
    namedVariables(this.model); // two variables with one name fail here, not at the first save after hours of training
    if (this.parameters.length === 0 && this.frozen.size) {
      throw new OptionError(`ClassifierTrainer: every parameter of the model is frozen (${this.frozen.size} of them): nothing to train; unfreeze a layer (trainer.frozen, "trainable", --freeze)`);
    }
    if (this.parameters.length === 0) {
      throw new OptionError(`ClassifierTrainer: the model (${this.model.constructor.name}) has no parameters to train; a custom Module's layers and Variables must be held in its properties (or listed by an overridden children()/parameters())`);
    }
    this.model.train();
    const x = input([B, ...this.featureShape], 'f32', 'x');
    const out = this.model.forward(x);
    const { target: y, loss: dataLoss, correct } = this.objective ? { loss: this.objective(out, x) } as Partial<LossGraph> & { loss: Tensor } : lossGraph(this.loss, out);
    const params = this.parameters;
    const penalty = this.regularization && weightPenalty(params, this.regularization);
    const loss = penalty ? ops.add(dataLoss, penalty) : dataLoss;
    const scaler = this.precision === 'f16' ? (this.lossScaler ??= new LossScaler(this.lossScale)) : undefined;
    const raw = grad(scaler ? scaler.scaled(loss) : loss, params.map((p) => p.tensor));
    const unscaled = scaler ? scaler.unscale(raw) : raw;
    const grads = this.clipNorm === undefined ? unscaled : clipGradNorm(unscaled, this.clipNorm);
    const skip = scaler?.overflowed(raw);
    // The guard rides in the optimizer's one update where it can (the check costs no kernel of its own there); under
    // f16 the loss scaler takes its place, since overflow is expected and handled there.
    const fold = !scaler && this.guardGradients && (this.guard ? !this.guard.count : this.optimizer instanceof FusedOptimizer && this.optimizer.foldsGuard(params));
    if (fold) this.guard ??= { first: Variable.zeros([1], 'guard.first_nonfinite') };
    const updates = this.optimizer.updates(params, grads, { skip, ...(fold ? { guard: this.guard!.first } : {}) });
    const guard = scaler ? scaler.updates(skip!) : fold ? [] : this.guardUpdates(raw);
    // Besides the optimizer: running statistics (batch norm) and dropout's step counter move on every step.
    return {
      outputs: correct ? [loss, correct] : [loss], effects: [...updates, ...stateUpdates(this.model), ...guard],
      graph: { x, y, loss, correct, predictions: B * predictionsPerRow(this.loss, out.size / B) },
    };
  }

  /**
   * The gradient guard as two effects: the step count, and the first step (1-based) whose gradients held an infinity or
   * a NaN, latched. Costs one reduction per parameter, a concat per seven, and a dozen scalar kernels; no readback.
   */
  private guardUpdates(grads: Tensor[]): Tensor[] {
    if (!this.guardGradients || grads.length === 0) return [];
    const gd = (this.guard ??= { count: Variable.zeros([1], 'guard.steps'), first: Variable.zeros([1], 'guard.first_nonfinite') }) as Required<NonNullable<ClassifierTrainer['guard']>>;
    const bad = anyNonFinite(grads);
    const now = ops.add(gd.count.tensor, 1);
    const first = gd.first.tensor;
    const latched = ops.add(first, ops.mul(ops.mul(ops.sub(1, indicator(first)), bad), now));
    return [runningUpdate(gd.count.tensor, now, 1), runningUpdate(first, latched, 1)];
  }

  /** The host step of the first non-finite gradient, from guard values read after host step `step`; 0 if none. */
  private firstBadStep(step: number, count: number, first: number): number {
    return first > 0 ? step - count + first : 0;
  }

  private evalGraph(B: number): EvalGraph {
    let g = this.evalGraphs.get(B);
    if (!g) {
      const p = this.evalParts(B);
      this.evalGraphs.set(B, (g = { ...p.graph, ex: this.backend.compile(p.outputs, p.effects, { precision: this.precision }) }));
    }
    return g;
  }

  private evalParts(B: number): Unbuilt<EvalGraph> {
    this.model.eval();
    const x = input([B, ...this.featureShape], 'f32', 'x');
    const logits = this.model.forward(x);
    this.model.train();
    return { outputs: [logits], effects: [], graph: { x, logits } };
  }

  /** One optimisation step; returns the loss tensor's executable so a caller may read it. Nothing waits here. */
  trainStep(x: Float32Array, y: Int32Array | Float32Array, B: number): TrainGraph {
    const g = this.trainGraph(B);
    if (this.schedule) this.optimizer.lr = this.schedule(this.step);
    this.optimizer.beginStep?.(this.step + 1);
    g.ex.run(stepFeeds(g, x, y), { checkFinite: this.checkFinite });
    this.step++;
    return g;
  }

  /**
   * Queue the reads of the step just run (its loss, the batch's correct predictions, the gradient guard) behind it on
   * the device. Nothing waits here: `settleRead` awaits them later, so the host can run ahead of the reads.
   */
  queueRead(g: TrainGraph): PendingRead {
    const gd = this.guard;
    return {
      step: this.step, value: g.ex.read(g.loss), correct: g.correct && g.ex.read(g.correct), predictions: g.predictions,
      guard: gd && Promise.all(gd.count ? [this.backend.readVariable(gd.count), this.backend.readVariable(gd.first)] : [this.backend.readVariable(gd.first)]),
    };
  }

  /** Await a queued read. Throws NonFiniteGradientError or NonFiniteLossError when the step it measured went bad. */
  async settleRead(p: PendingRead): Promise<StepRead> {
    // All at once, so that when one read fails (a lost device) the others' failures are handled too.
    const [loss, guard, correct] = await Promise.all([p.value, p.guard, p.correct]);
    const v = loss[0];
    const badStep = !guard ? 0 : guard.length === 1 ? guard[0][0] : this.firstBadStep(p.step, guard[0][0], guard[1][0]);
    if (badStep > 0) {
      this.backend.writeVariable(this.guard!.first, new Float32Array(1)); // re-arm, should training go on
      throw new NonFiniteGradientError(badStep, p.step, v);
    }
    if (!Number.isFinite(v)) throw new NonFiniteLossError(p.step, v, guard !== undefined);
    return { step: p.step, loss: v, correct: correct?.[0], predictions: correct ? p.predictions : 0 };
  }

  /** Class scores for every row of `x` (n rows), in batches. */
  async predict(x: Float32Array, n: number, batchSize = 250): Promise<Float32Array> {
    const per = x.length / n;
    let out: Float32Array | undefined;
    for (let s = 0; s < n; s += batchSize) {
      const B = Math.min(batchSize, n - s);
      const g = this.evalGraph(B);
      g.ex.run(new Map([[g.x, x.subarray(s * per, (s + B) * per)]]));
      const logits = (await g.ex.read(g.logits)) as Float32Array;
      out ??= new Float32Array(n * (logits.length / B));
      out.set(logits, s * (logits.length / B));
    }
    return out ?? new Float32Array(0);
  }

  // 250 rows: a CNN's im2col columns for 1,000 images (314 MB) exceed the 128 MiB storage binding of many adapters.
  /** Mean loss and accuracy over `ds`, in eval mode, and the regression metrics for float targets (Evaluation). */
  async evaluate(ds: Dataset, batchSize = 250): Promise<Evaluation> {
    const out = await this.predict(ds.x, ds.n, batchSize);
    const { lossSum, correct } = hostLoss(this.loss, out, ds.y, ds.n);
    const r: Evaluation = { loss: lossSum / ds.n, accuracy: correct / (ds.n * predictionsPerRow(this.loss, out.length / ds.n)) };
    return isRegression(ds) && this.loss !== 'bce' ? { ...r, ...regressionMetrics(out, ds.y, ds.n, this.targetScale) } : r;
  }

  dispose(): void {
    for (const g of [...this.trainGraphs.values(), ...this.evalGraphs.values()]) g.ex.dispose();
    this.trainGraphs.clear();
    this.evalGraphs.clear();
  }
}
