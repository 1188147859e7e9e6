// Weight penalties added to the loss as graph, so autodiff derives their gradient and the optimizer needs nothing
// new: L1 (lasso), L2 (ridge) or both (elastic net), in Keras's form l1·Σ|w| + l2·Σw² (no ½).
import { Variable, Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { abs } from '../graph/activations.js';
import { OptionError } from '../util/errors.js';

export interface Regularization { l1?: number; l2?: number }

/**
 * Weights are the parameters of rank >= 2 (linear and conv kernels, recurrent matrices). Biases, batch-norm scales
 * and shifts and PReLU slopes are vectors, and penalising them only pulls a layer's offsets or scales towards 0.
 */
export const isWeight = (p: Variable) => p.shape.length >= 2;

/** l1·Σ|w| + l2·Σw² over the weights among `params`, as a scalar tensor; undefined when there is nothing to add. */
export function weightPenalty(params: readonly Variable[], r: Regularization): Tensor | undefined {
  return penalty(params.filter(isWeight).map((p) => p.tensor), r);
}

/** l1·Σ|w| + l2·Σw² summed over `ws`. */
export function penalty(ws: readonly Tensor[], r: Regularization): Tensor | undefined {
  const l1 = r.l1 ?? 0, l2 = r.l2 ?? 0;
  for (const [k, v] of [['l1', l1], ['l2', l2]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new OptionError(`weightPenalty: ${k} must be a finite number >= 0, got ${v}`);
  }
  let total: Tensor | undefined;
  for (const w of ws) {
    const terms = [l1 > 0 ? ops.mul(ops.sum(abs(w)), l1) : undefined, l2 > 0 ? ops.mul(ops.sum(ops.mul(w, w)), l2) : undefined];
    for (const t of terms) if (t) total = total ? ops.add(total, t) : t;
  }
  return total;
}
