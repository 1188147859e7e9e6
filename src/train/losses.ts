// The losses a trainer can optimise, each as graph (for the training step) and as host arithmetic (for evaluation,
// which already reads the model's outputs back). Classification losses also count correct predictions on the
// device, so a training accuracy comes back with the sampled loss read and no extra readback.
import { input, Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { bceWithLogits, mae, logSoftmax, maxout } from '../graph/activations.js';
import { ShapeError, fmt } from '../graph/shape.js';
import { OptionError } from '../util/errors.js';

export const LOSSES = ['softmax_xent', 'mse', 'mae', 'bce'] as const;
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
      else {
        l += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
        if (x * (2 * t - 1) > 0) correct++;
      }
    }
    lossSum += l / per;
  }
  return { lossSum, correct };
}
