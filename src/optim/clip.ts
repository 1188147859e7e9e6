// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_), as graph: the norm is never read back, the
// scale is a device-side scalar every gradient is multiplied by, inside the same submission as the step.
import { Tensor } from '../graph/tensor.js';
import { ShapeError } from '../graph/shape.js';
import * as ops from '../graph/ops.js';

/** The global L2 norm of `grads`: sqrt of the sum of every element's square, as a scalar node. */
export function globalNorm(grads: readonly Tensor[]): Tensor {
  if (grads.length === 0) throw new ShapeError('clipGradNorm', 'no gradients to clip (expected at least one)');
  const squares = grads.map((g) => ops.sum(ops.mul(g, g)));
  return ops.unary('sqrt', squares.reduce((a, b) => ops.add(a, b)));
}

/**
 * Every gradient times min(1, maxNorm / (norm + 1e-6)), norm being their global L2 norm: below maxNorm nothing
 * changes (up to that 1e-6), above it the whole set is scaled down together so the direction is kept.
 */
export function clipGradNorm(grads: readonly Tensor[], maxNorm: number): Tensor[] {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new ShapeError('clipGradNorm', `maxNorm must be a finite number > 0, got ${maxNorm}`);
  const ratio = ops.div(maxNorm, ops.add(globalNorm(grads), 1e-6));
  // min(1, r) = r - relu(r - 1): the elementwise table has no min, and this keeps the scale on the device.
  const scale = ops.sub(ratio, ops.relu(ops.sub(ratio, 1)));
  return grads.map((g) => ops.mul(g, scale));
}
