// Training a classifier: the whole step (forward, loss, backward, update) is one graph, compiled once per batch size
// and replayed. The loss comes back only every `logEvery` steps, read asynchronously: the read is queued behind the
// step it measures and awaited one interval later, which also keeps the host at most two intervals ahead of the GPU.
import { input, Tensor, Variable } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { grad } from '../autodiff/grad.js';
import { Backend, Executable } from '../backends/backend.js';
import { Module } from '../nn/module.js';
import { stateUpdates } from '../nn/norm.js';
import { Optimizer } from '../optim/optimizer.js';
import { Schedule } from '../optim/schedules.js';
import { clipGradNorm } from '../optim/clip.js';
import { weightPenalty, Regularization } from '../optim/regularizers.js';
import { lossGraph, hostLoss, LossName, predictionsPerRow } from './losses.js';
import { Dataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';

// `correct` counts right predictions on the device, out of `predictions` per batch (classification losses).
interface TrainGraph { ex: Executable; x: Tensor; y: Tensor; loss: Tensor; correct?: Tensor; predictions: number }
interface EvalGraph { ex: Executable; x: Tensor; logits: Tensor }

/** loss and accuracy are means over the batches whose loss was read (every logEvery-th); accuracy is NaN for regression. */
export interface EpochStats { epoch: number; loss: number; accuracy: number; samples: number; seconds: number; samplesPerSec: number }

export class NonFiniteLossError extends Error {
  constructor(readonly step: number, readonly loss: number) {
    super(`training stopped: loss is ${loss} at step ${step} (try a lower learning rate)`);
    this.name = 'NonFiniteLossError';
  }
}

export class ClassifierTrainer {
  private trainGraphs = new Map<number, TrainGraph>();
  private evalGraphs = new Map<number, EvalGraph>();
  step = 0;
  /** When set, the optimizer's learning rate before each step. */
  schedule?: Schedule;
  /** The loss the step minimises; softmax_xent takes int32 labels, the others float targets shaped like the output. */
  loss: LossName = 'softmax_xent';
  /** Weight penalties added to the training loss (read when a step is compiled). */
  regularization?: Regularization;
  /** When set, gradients are clipped to this global L2 norm before the update, on the device (read when a step is compiled). */
  clipNorm?: number;

  constructor(readonly backend: Backend, readonly model: Module, readonly optimizer: Optimizer, readonly featureShape: number[]) {}

  get parameters(): Variable[] { return this.model.parameters(); }

  /**
   * Compile the training step for batch size B now rather than at the first step: this creates the optimizer's state
   * variables, which a checkpoint needs to exist before it can load into them.
   */
  prepare(B: number): void { this.trainGraph(B); }

  private trainGraph(B: number): TrainGraph {
    let g = this.trainGraphs.get(B);
    if (!g) {
      this.model.train();
      const x = input([B, ...this.featureShape], 'f32', 'x');
      const out = this.model.forward(x);
      const { target: y, loss: dataLoss, correct } = lossGraph(this.loss, out);
      const params = this.parameters;
      const penalty = this.regularization && weightPenalty(params, this.regularization);
      const loss = penalty ? ops.add(dataLoss, penalty) : dataLoss;
      const raw = grad(loss, params.map((p) => p.tensor));
      const grads = this.clipNorm === undefined ? raw : clipGradNorm(raw, this.clipNorm);
      // Besides the optimizer: running statistics (batch norm) and dropout's step counter move on every step.
      const ex = this.backend.compile(correct ? [loss, correct] : [loss], [...this.optimizer.updates(params, grads), ...stateUpdates(this.model)]);
      this.trainGraphs.set(B, (g = { ex, x, y, loss, correct, predictions: B * predictionsPerRow(this.loss, out.size / B) }));
    }
    return g;
  }

  private evalGraph(B: number): EvalGraph {
    let g = this.evalGraphs.get(B);
    if (!g) {
      this.model.eval();
      const x = input([B, ...this.featureShape], 'f32', 'x');
      const logits = this.model.forward(x);
      this.evalGraphs.set(B, (g = { ex: this.backend.compile([logits]), x, logits }));
      this.model.train();
    }
    return g;
  }

  /** One optimisation step; returns the loss tensor's executable so a caller may read it. Nothing waits here. */
  trainStep(x: Float32Array, y: Int32Array | Float32Array, B: number): TrainGraph {
    const g = this.trainGraph(B);
    if (this.schedule) this.optimizer.lr = this.schedule(this.step);
    this.optimizer.beginStep?.(this.step + 1);
    g.ex.run(new Map<Tensor, Float32Array | Int32Array>([[g.x, x], [g.y, y]]));
    this.step++;
    return g;
  }

  /**
   * One pass over `loader`'s batches for `epoch`. `startBatch` skips the batches a resumed run has already done;
   * `afterStep(done)` runs after each step with the number of this epoch's batches done (a checkpoint saved there
   * resumes at that batch) and is awaited.
   */
  async trainEpoch(loader: DataLoader, epoch: number, o: {
    logEvery?: number; onLog?: (step: number, loss: number, done: number) => void;
    onBatchEnd?: (batch: number, size: number) => void; stop?: () => boolean;
    startBatch?: number; afterStep?: (done: number) => void | Promise<void>;
  } = {}): Promise<EpochStats> {
    const logEvery = o.logEvery ?? 50;
    const t0 = performance.now();
    let samples = 0, lossSum = 0, lossCount = 0, correctSum = 0, predictions = 0;
    let pending: { step: number; value: Promise<Float32Array | Int32Array>; correct?: Promise<Float32Array | Int32Array>; predictions: number } | undefined;
    const settle = async () => {
      if (!pending) return;
      const v = (await pending.value)[0];
      if (!Number.isFinite(v)) throw new NonFiniteLossError(pending.step, v);
      lossSum += v; lossCount++;
      if (pending.correct) { correctSum += (await pending.correct)[0]; predictions += pending.predictions; }
      o.onLog?.(pending.step, v, samples);
      pending = undefined;
    };
    let i = 0;
    for (const b of loader.batches(epoch, o.startBatch)) {
      const g = this.trainStep(b.x, b.y, b.size);
      samples += b.size;
      if (++i % logEvery === 0) {
        await settle();
        pending = { step: this.step, value: g.ex.read(g.loss), correct: g.correct && g.ex.read(g.correct), predictions: g.predictions };
      }
      o.onBatchEnd?.(i, b.size);
      if (o.stop?.()) break;
      if (o.afterStep) await o.afterStep((o.startBatch ?? 0) + i);
    }
    await settle();
    await this.backend.sync();
    const seconds = (performance.now() - t0) / 1000;
    return { epoch, loss: lossCount ? lossSum / lossCount : NaN, accuracy: predictions ? correctSum / predictions : NaN, samples, seconds, samplesPerSec: samples / seconds };
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
  /** Mean loss (without weight penalties) and accuracy over `ds`, in eval mode; accuracy is NaN for regression losses. */
  async evaluate(ds: Dataset, batchSize = 250): Promise<{ accuracy: number; loss: number }> {
    const out = await this.predict(ds.x, ds.n, batchSize);
    const { lossSum, correct } = hostLoss(this.loss, out, ds.y, ds.n);
    return { loss: lossSum / ds.n, accuracy: correct / (ds.n * predictionsPerRow(this.loss, out.length / ds.n)) };
  }

  dispose(): void {
    for (const g of [...this.trainGraphs.values(), ...this.evalGraphs.values()]) g.ex.dispose();
    this.trainGraphs.clear();
    this.evalGraphs.clear();
  }
}
