// Batch norm, layer norm and dropout modules, residual blocks, and `stateUpdates`, which collects the effect nodes a model's
// stateful modules need compiled into each training step (running statistics, dropout's step counter).
import { Tensor, Variable } from '../graph/tensor.js';
import { ShapeError, fmt } from '../graph/shape.js';
import * as ops from '../graph/ops.js';
import { batchNormTrain, batchNormEval, layerNorm, runningUpdate, dropout, dropoutAdvance, DropoutCounter } from '../graph/norm.js';
import { hash32 } from '../util/rng.js';
import { Module } from './module.js';

/** A module whose training graph needs effects besides the optimizer's updates. */
export interface Stateful { stateUpdates(): Tensor[] }
const isStateful = (m: Module): m is Module & Stateful => typeof (m as Partial<Stateful>).stateUpdates === 'function';

/**
 * The effect nodes of every stateful module under `m`, for its most recent forward; pass them to compile() along with
 * the optimizer's updates: `backend.compile([loss], [...sgd.updates(params, grads), ...stateUpdates(model)])`.
 * Without them, running statistics never move and dropout draws the same mask at every run.
 */
export function stateUpdates(m: Module): Tensor[] {
  return [...(isStateful(m) ? m.stateUpdates() : []), ...m.children().flatMap(stateUpdates)];
}

export interface BatchNormOptions { eps?: number; momentum?: number; name?: string }

/**
 * Batch normalisation over the channel dim (dim 1). Training: the batch's mean and biased variance, and the running
 * statistics move towards the batch's (mean, and unbiased variance) by `momentum` each step, as in PyTorch. Eval: the
 * running statistics. gamma starts at 1, beta at 0; the running mean at 0, the running variance at 1.
 */
abstract class BatchNorm extends Module implements Stateful {
  readonly gamma: Variable;
  readonly beta: Variable;
  readonly runningMean: Variable;
  readonly runningVar: Variable;
  readonly eps: number;
  readonly momentum: number;
  private updates: Tensor[] = [];

  constructor(readonly channels: number, private rank: 2 | 4, o: BatchNormOptions = {}) {
    super();
    const name = o.name ?? `batchnorm${channels}`;
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    this.gamma = new Variable(new Float32Array(channels).fill(1), [channels], `${name}.gamma`);
    this.beta = Variable.zeros([channels], `${name}.beta`);
    this.runningMean = Variable.zeros([channels], `${name}.running_mean`);
    this.runningVar = new Variable(new Float32Array(channels).fill(1), [channels], `${name}.running_var`);
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== this.rank || x.shape[1] !== this.channels) {
      const want = this.rank === 2 ? `[batch, ${this.channels}]` : `[N, ${this.channels}, H, W]`;
      throw new ShapeError(this.constructor.name, `expected input ${want}, got ${fmt(x.shape)}`);
    }
    if (!this.training) {
      this.updates = [];
      return batchNormEval(x, this.gamma.tensor, this.beta.tensor, this.runningMean.tensor, this.runningVar.tensor, this.eps);
    }
    const bn = batchNormTrain(x, this.gamma.tensor, this.beta.tensor, this.eps);
    this.updates = [
      runningUpdate(this.runningMean.tensor, bn.mean, this.momentum),
      runningUpdate(this.runningVar.tensor, bn.var, this.momentum, bn.count / (bn.count - 1)),
    ];
    return bn.y;
  }

  override parameters(): Variable[] { return [this.gamma, this.beta]; }
  /** The running statistics: state, not trained. */
  buffers(): Variable[] { return [this.runningMean, this.runningVar]; }
  stateUpdates(): Tensor[] { return this.updates; }
}

/** Batch norm of dense [batch, features] input. */
export class BatchNorm1d extends BatchNorm {
  constructor(features: number, o?: BatchNormOptions) { super(features, 2, o); }
}

/** Batch norm of NCHW images, statistics over N, H and W. */
export class BatchNorm2d extends BatchNorm {
  constructor(channels: number, o?: BatchNormOptions) { super(channels, 4, o); }
}

/**
 * Layer normalisation over the last axis (the features of [batch, features] or [batch, time, features]): each example's
 * features are normalised by their own mean and variance, so training and eval compute the same thing and no running
 * statistics are kept. weight starts at 1, bias at 0.
 */
export class LayerNorm extends Module {
  readonly weight: Variable;
  readonly bias: Variable;
  readonly eps: number;

  constructor(readonly features: number, o: { eps?: number; name?: string } = {}) {
    super();
    if (!Number.isInteger(features) || features < 1) throw new ShapeError('LayerNorm', `features must be a positive integer, got ${features}`);
    const name = o.name ?? `layernorm${features}`;
    this.eps = o.eps ?? 1e-5;
    this.weight = new Variable(new Float32Array(features).fill(1), [features], `${name}.weight`);
    this.bias = Variable.zeros([features], `${name}.bias`);
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.features) {
      throw new ShapeError('LayerNorm', `expected input [batch, ..., ${this.features}], got ${fmt(x.shape)}`);
    }
    return layerNorm(x, this.weight.tensor, this.bias.tensor, this.eps);
  }

  override parameters(): Variable[] { return [this.weight, this.bias]; }
}

/**
 * Inverted dropout: in training, zero each element with probability p and scale the others by 1/(1-p); in eval, the
 * identity. Masks come from hash32(seed, step, element); the step advances once per run through the effect in
 * stateUpdates(). Each forward call gets its own seed, so a module applied twice in one graph draws two masks.
 */
export class Dropout extends Module implements Stateful {
  readonly counter: DropoutCounter = { step: 0 };
  private calls = 0;
  private advance = dropoutAdvance(this.counter);

  constructor(readonly p: number, readonly seed = 0) {
    super();
    if (!(p >= 0 && p < 1)) throw new ShapeError('Dropout', `drop probability ${p} is out of range (expected 0 <= p < 1)`);
  }

  forward(x: Tensor): Tensor {
    return this.training ? dropout(x, this.p, hash32(this.seed, this.calls++, 0x5eed), this.counter) : x;
  }

  // Always offered (advancing a counter no compiled node reads is harmless), so it cannot be missed by asking while in eval mode.
  stateUpdates(): Tensor[] { return this.p > 0 ? [this.advance] : []; }
}

/** x + f(x): the body must keep the shape of its input. */
export class Residual extends Module {
  constructor(readonly body: Module) { super(); }
  forward(x: Tensor): Tensor {
    const fx = this.body.forward(x);
    if (fmt(fx.shape) !== fmt(x.shape)) throw new ShapeError('Residual', `the body maps ${fmt(x.shape)} to ${fmt(fx.shape)} (expected the same shape, to add it to its input)`);
    return ops.add(x, fx);
  }
  override children(): Module[] { return [this.body]; }
}
