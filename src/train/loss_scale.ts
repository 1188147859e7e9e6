// Dynamic loss scaling for mixed precision (precision 'f16'): gradients stored in half precision underflow below
// 2^-24, so the loss is multiplied by a scale before the backward pass and every gradient divided by it (in float32)
// before the update. A step whose scaled gradients overflowed (an infinity or a NaN anywhere) is skipped and the scale
// halved; after `growthInterval` good steps in a row it doubles. All of it runs on the device, in the step's graph:
// the scale and the count of good steps are Variables, updated by effects, so nothing is read back and a checkpoint
// saves them (resume continues with the same scale).
import { Tensor, Variable } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { concat } from '../graph/shape_ops.js';
import { runningUpdate } from '../graph/norm.js';
import { OptionError } from '../util/errors.js';

export interface LossScaleOptions {
  /** The scale of the first step. [2^15] */
  initScale?: number;
  /** Good steps in a row after which the scale doubles. [2000, as PyTorch's GradScaler] */
  growthInterval?: number;
}

export const LOSS_SCALE_DEFAULTS = { initScale: 2 ** 15, growthInterval: 2000 };

export class LossScaler {
  /** The current scale, and the good steps since it last changed: checkpoint tensors `loss_scale.scale`, `loss_scale.good_steps`. */
  readonly scale: Variable;
  readonly goodSteps: Variable;
  readonly growthInterval: number;

  constructor(o: LossScaleOptions = {}) {
    const { initScale, growthInterval } = { ...LOSS_SCALE_DEFAULTS, ...o };
    if (!(Number.isFinite(initScale) && initScale > 0)) throw new OptionError(`loss scale: initScale must be a finite number > 0, got ${initScale}`);
    if (!(Number.isInteger(growthInterval) && growthInterval >= 1)) throw new OptionError(`loss scale: growthInterval must be an integer >= 1, got ${growthInterval}`);
    this.scale = new Variable(Float32Array.of(initScale), [1], 'loss_scale.scale');
    this.goodSteps = Variable.zeros([1], 'loss_scale.good_steps');
    this.growthInterval = growthInterval;
  }

  /** Variables a checkpoint saves. */
  state(): Variable[] { return [this.scale, this.goodSteps]; }

  /** The loss to differentiate: loss · scale. */
  scaled(loss: Tensor): Tensor { return ops.mul(loss, ops.reshape(this.scale.tensor, loss.shape.map(() => 1))); }

  /** 1 when any scaled gradient holds an infinity or a NaN, else 0 (anyNonFinite, f16-safe). */
  overflowed(grads: readonly Tensor[]): Tensor { return anyNonFinite(grads, true); }

  /** The gradients of the unscaled loss, in float32: g / scale. */
  unscale(grads: readonly Tensor[]): Tensor[] { return grads.map((g) => ops.div(g, ops.reshape(this.scale.tensor, g.shape.map(() => 1)))); }

  /**
   * The scale's own update, given the step's overflow flag: halve on an overflow (and restart the count), double
   * after growthInterval good steps (and restart it), else count the good step.
   */
  updates(skip: Tensor): Tensor[] {
    const next = ops.add(this.goodSteps.tensor, 1);
    const grow = ops.mul(ops.sub(1, skip), indicator(ops.sub(next, this.growthInterval - 0.5)));
    const factor = ops.add(ops.add(ops.mul(skip, 0.5), ops.sub(1, skip)), grow); // 0.5, 1 or 2
    const good = ops.mul(ops.mul(ops.sub(1, skip), ops.sub(1, grow)), next);
    return [runningUpdate(this.scale.tensor, ops.mul(this.scale.tensor, factor), 1), runningUpdate(this.goodSteps.tensor, good, 1)];
  }
}

/** 1 where t > 0, else 0 (NaN too): finite whatever t holds. */
export const indicator = (t: Tensor) => ops.binary('relu_grad', t, ops.constant(1));

/**
 * A [1] tensor: 1 when any of the tensors holds an infinity or a NaN, else 0; the one check behind the loss scaler's
 * overflow flag and the trainer's gradient guard. (Σ sum(g))·0 is NaN exactly then (0·Inf is NaN; a finite float32 sum
 * overflows only for gradients past 1e30, a run long diverged), and relu_grad(t + 1, 1) maps it to a finite 0/1. With
 * `half`, Σ sum(g · 0) instead, at an elementwise kernel per tensor: a long sum runs in two kernels whose partial sums
 * are stored in f16 under mixed precision, and the partial sums of large finite scaled gradients overflow there. The
 * per-tensor sums are gathered by one concat and summed once rather than added pairwise (a kernel per parameter was a
 * tenth of a batch-32 MLP step on lavapipe).
 */
export function anyNonFinite(ts: readonly Tensor[], half = false): Tensor {
  const sums = ts.map((g) => ops.reshape(ops.sum(half ? ops.mul(g, 0) : g), [1]));
  const total = ops.sum(sums.length > 1 ? concat(sums) : sums[0]);
  return ops.sub(1, indicator(ops.add(half ? total : ops.mul(total, 0), 1)));
}
