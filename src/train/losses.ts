// The losses a trainer can optimise, each as graph (for the training step) and as host arithmetic (for evaluation,
// which already reads the model's outputs back). Classification losses also count correct predictions on the
// device, so a training accuracy comes back with the sampled loss read and no extra readback.
import { input, Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { bceWithLogits, mae, huber, logSoftmax, maxout } from '../graph/activations.js';
import type { ColumnStats } from '../data/standardize.js';
import { ShapeError, fmt } from '../graph/shape.js';
import { OptionError } from '../util/errors.js';

export const LOSSES = ['softmax_xent', 'mse', 'mae', 'huber', 'bce'] as const;
export type LossName = (typeof LOSSES)[number];

export interface LossGraph {
  /** Fed with the batch's targets: int32 labels [B] for softmax_xent, float32 of the output's shape otherwise. */
  target: Tensor;
  /** Mean over the batch. */
  loss: Tensor;
  /** Scalar count of correct predictions in the batch (classification losses only). */
  correct?: Tensor;
}

/** 1 where x > 0, else 0: relu's gradient rule with an upstream gradient of 1. */
const positive = (x: Tensor) => ops.binary('relu_grad', x, 1);

export function lossGraph(kind: LossName, out: Tensor): LossGraph {
  switch (kind) {
    case 'softmax_xent': {
      if (out.rank !== 2) throw new ShapeError('softmax_xent', `expected model outputs [batch, classes], got ${fmt(out.shape)}`);
      const target = input([out.shape[0]], 'i32', 'labels');
      const rows = ops.softmaxCrossEntropyRows(out, target);
      // rows = lse - logit_y and max(logSoftmax) = max - lse, so their sum is max - logit_y: 0 exactly when the label
      // holds the top score (ties count as correct), and the tolerance absorbs the two kernels' rounding.
      const top = maxout(logSoftmax(out), out.shape[1]).reshape([out.shape[0]]);
      const correct = ops.sum(positive(ops.sub(1e-5, ops.add(rows, top))));
      return { target, loss: ops.mean(rows), correct };
    }
    case 'bce': {
      const target = input(out.shape, 'f32', 'targets');
      // A logit on the target's side of 0 (targets 0 or 1): logit·(2y - 1) > 0.
      const correct = ops.sum(positive(ops.mul(out, ops.sub(ops.mul(target, 2), 1))));
      return { target, loss: bceWithLogits(out, target), correct };
    }
    case 'mse': { const target = input(out.shape, 'f32', 'targets'); return { target, loss: ops.mse(out, target) }; }
    case 'mae': { const target = input(out.shape, 'f32', 'targets'); return { target, loss: mae(out, target) }; }
    case 'huber': { const target = input(out.shape, 'f32', 'targets'); return { target, loss: huber(out, target) }; }
    default: throw new OptionError(`loss: unknown loss '${kind}' (expected one of ${LOSSES.join(', ')})`);
  }
}

/** Predictions that `correct` counts per row: 1 for softmax_xent, the output's width for bce, none for regression. */
export const predictionsPerRow = (kind: LossName, outPerRow: number) => (kind === 'softmax_xent' ? 1 : kind === 'bce' ? outPerRow : 0);

/**
 * Loss summed over `n` rows (each the mean over its elements, as the graph's loss is per batch) and the number of
 * correct predictions, from outputs read back to the host. float64 throughout.
 */
export function hostLoss(kind: LossName, out: Float32Array, target: Int32Array | Float32Array, n: number): { lossSum: number; correct: number } {
  const per = out.length / n;
  let lossSum = 0, correct = 0;
  for (let i = 0; i < n; i++) {
    const o = out.subarray(i * per, (i + 1) * per);
    if (kind === 'softmax_xent') {
      const y = target[i];
      let max = -Infinity, best = 0;
      for (let c = 0; c < per; c++) if (o[c] > max) { max = o[c]; best = c; }
      let s = 0;
      for (let c = 0; c < per; c++) s += Math.exp(o[c] - max);
      lossSum += max + Math.log(s) - o[y];
      if (best === y) correct++; // ties go to the first class, as argmax (a zero-initialised head is not 100% right)
      continue;
    }
    let l = 0;
    for (let c = 0; c < per; c++) {
      const x = o[c], t = target[i * per + c], d = x - t;
      if (kind === 'mse') l += d * d;
      else if (kind === 'mae') l += Math.abs(d);
      else if (kind === 'huber') l += Math.abs(d) <= 1 ? 0.5 * d * d : Math.abs(d) - 0.5;
      else {
        l += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
        if (x * (2 * t - 1) > 0) correct++;
      }
    }
    lossSum += l / per;
  }
  return { lossSum, correct };
}

/** The losses that fit float targets of any value (regression); softmax_xent and bce classify. */
export const isRegressionLoss = (kind: LossName) => kind === 'mse' || kind === 'mae' || kind === 'huber';

/** Regression metrics over every target value, in the targets' own units. */
export interface RegressionMetrics { rmse: number; mae: number; r2: number }

/**
 * RMSE, MAE and R² of outputs against float targets (n rows, the same values per row), float64 throughout. With
 * `scale`, both were standardised by it and are measured back in the original units (R² does not change). R² is
 * 1 - SS_res / SS_tot per output column, averaged over columns (scikit-learn's uniform average). Columns whose
 * targets are constant (SS_tot = 0) have no R² and are left out; with none left, R² is 1 for an exact fit, else 0.
 */
export function regressionMetrics(out: Float32Array, target: Float32Array, n: number, scale?: ColumnStats): RegressionMetrics {
  const per = out.length / n;
  const std = (c: number) => scale?.std[c % scale.std.length] ?? 1;
  let se = 0, ae = 0;
  const mean = new Float64Array(per), res = new Float64Array(per), tot = new Float64Array(per);
  for (let i = 0; i < n; i++) for (let c = 0; c < per; c++) mean[c] += (target[i * per + c] * std(c)) / n;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < per; c++) {
      const t = target[i * per + c] * std(c), d = (out[i * per + c] - target[i * per + c]) * std(c);
      se += d * d; ae += Math.abs(d); res[c] += d * d; tot[c] += (t - mean[c]) ** 2;
    }
  }
  const cols = [...tot.keys()].filter((c) => tot[c] > 0);
  const r2 = cols.length ? cols.reduce((a, c) => a + 1 - res[c] / tot[c], 0) / cols.length : res.every((v) => v === 0) ? 1 : 0;
  return { rmse: Math.sqrt(se / out.length), mae: ae / out.length, r2 };
}
