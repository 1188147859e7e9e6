// Activations and losses: graph builders. The pointwise ones are entries of the elementwise table (elementwise.ts),
// so both backends run them through the elementwise kernels; a slope, ELU's alpha or Huber's delta travels as the
// node's `alpha` attribute. maxout and log-softmax look along the last axis and have kernels of their own.
import { Tensor } from './tensor.js';
import { Shape, ShapeError, fmt, broadcastShapes } from './shape.js';
import { node, needF32, unary, binary, reshape, sub, mul, sum, mean } from './ops.js';
import type { UnaryOp, BinaryOp } from './op_table.js';

// Builders for elementwise functions the table already had, so users can call them by name.
export { exp, log } from './ops.js';
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const abs = (x: Tensor) => unary('abs', x);

function needNumber(op: string, what: string, v: number, x: Tensor): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ShapeError(op, `${what} must be a finite number, got ${v} (input ${fmt(x.shape)})`);
}

/** A pointwise function of one input with a scalar parameter (the elementwise kernels read it as `alpha`). */
function withAlpha(builder: string, op: UnaryOp, x: Tensor, alpha: number): Tensor {
  needF32(builder, x);
  return node(op, [x], x.shape, 'f32', { alpha });
}

/** A pointwise function of two same-shaped (or broadcast) operands with a scalar parameter. */
export function binaryAlpha(op: BinaryOp, a: Tensor, b: Tensor, alpha: number): Tensor {
  needF32(op, a, b);
  return node(op, [a, b], broadcastShapes(op, a.shape, b.shape), 'f32', { alpha });
}

/** x for x > 0, alpha·x otherwise. */
export function leakyRelu(x: Tensor, alpha = 0.01): Tensor {
  needNumber('leakyRelu', 'alpha', alpha, x);
  return withAlpha('leakyRelu', 'leaky_relu', x, alpha);
}

/** x for x > 0, alpha·(exp(x) - 1) otherwise. */
export function elu(x: Tensor, alpha = 1): Tensor {
  needNumber('elu', 'alpha', alpha, x);
  return withAlpha('elu', 'elu', x, alpha);
}

/** log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so that no exp overflows. */
export const softplus = (x: Tensor) => unary('softplus', x);

/** The threshold (step) unit of McCulloch and Pitts and the perceptron: 1 where x > 0, else 0. Its gradient is 0. */
export const step = (x: Tensor) => unary('step', x);

/** GELU, tanh approximation on both backends (WGSL has no erf): 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))). */
export const gelu = (x: Tensor) => unary('gelu', x);

/**
 * Parametric ReLU: x for x > 0, slope·x otherwise, with a learned slope per channel. Channels are dim 1 (PyTorch's
 * convention: [B, C] or [N, C, H, W]); an input of rank < 2 has one channel. `slope` is [C], or [1] for one slope
 * shared by every channel; it is laid along dim 1 and broadcast over the rest.
 */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  needF32('prelu', x, slope);
  const C = x.rank >= 2 ? x.shape[1] : 1;
  if (slope.rank !== 1 || (slope.shape[0] !== C && slope.shape[0] !== 1)) {
    throw new ShapeError('prelu', `slope ${fmt(slope.shape)} does not fit input ${fmt(x.shape)} (expected [${C}], one slope per channel of dim 1, or [1])`);
  }
  // [C] -> [C, 1, ..., 1] so that it broadcasts along dim 1; a scalar input takes a scalar slope.
  const along = reshape(slope, x.rank >= 2 ? [slope.shape[0], ...Array(x.rank - 2).fill(1)] : x.rank === 1 ? [slope.shape[0]] : []);
  return node('prelu', [x, along], x.shape);
}

/**
 * Maxout over the last axis: [..., C·k] -> [..., C], output c the max of the k consecutive features c·k .. c·k+k-1
 * (the layout of reshape([..., C, k]).max(-1)). Its gradient goes to the argmax; on ties, to the first index.
 */
export function maxout(x: Tensor, k: number): Tensor {
  needF32('maxout', x);
  if (!Number.isInteger(k) || k < 1) throw new ShapeError('maxout', `k must be a positive integer, got ${k} (input ${fmt(x.shape)})`);
  if (x.rank < 1) throw new ShapeError('maxout', `expected a tensor of rank >= 1 (groups along its last axis), got a scalar ${fmt(x.shape)}`);
  const last = x.shape[x.rank - 1];
  if (last % k !== 0) throw new ShapeError('maxout', `the last dimension ${last} of input ${fmt(x.shape)} is not a multiple of k = ${k} (expected [..., C·${k}])`);
  return node('maxout', [x], [...x.shape.slice(0, -1), last / k], 'f32', { k });
}

/** log(softmax(x)) over the last axis, x - max - log Σ exp(x - max): finite for any finite logits. */
export function logSoftmax(x: Tensor): Tensor {
  needF32('logSoftmax', x);
  if (x.rank < 1) throw new ShapeError('logSoftmax', `expected a tensor of rank >= 1 (softmax over its last axis), got a scalar ${fmt(x.shape)}`);
  return node('log_softmax', [x], x.shape);
}

// ---- losses: the mean over every element ----

function sameShape(op: string, what: [string, string], a: Tensor, b: Tensor): void {
  needF32(op, a, b);
  if (fmt(a.shape) !== fmt(b.shape)) throw new ShapeError(op, `${what[0]} ${fmt(a.shape)} and ${what[1]} ${fmt(b.shape)} differ (expected the same shape)`);
}

/** Binary cross-entropy of logits against targets in [0, 1]: mean of max(x, 0) - x·y + log(1 + exp(-|x|)). */
export function bceWithLogits(logits: Tensor, targets: Tensor): Tensor {
  sameShape('bceWithLogits', ['logits', 'targets'], logits, targets);
  return mean(binary('bce_logits', logits, targets));
}

/** Mean absolute error. Its gradient at pred = target is 0 (the subgradient sign(0)). */
export function mae(pred: Tensor, target: Tensor): Tensor {
  sameShape('mae', ['prediction', 'target'], pred, target);
  return mean(abs(sub(pred, target)));
}

/** Huber loss: mean of 0.5·d² where |d| <= delta, delta·(|d| - 0.5·delta) elsewhere, d = pred - target. */
export function huber(pred: Tensor, target: Tensor, delta = 1): Tensor {
  sameShape('huber', ['prediction', 'target'], pred, target);
  if (!(delta > 0 && Number.isFinite(delta))) throw new ShapeError('huber', `delta must be a finite number > 0, got ${delta} (prediction ${fmt(pred.shape)})`);
  return mean(withAlpha('huber', 'huber', sub(pred, target), delta));
}

/**
 * The perceptron criterion, summed over every element: Σ (step(z) - y)·z for pre-activations z and targets y in
 * {0, 1}. It is |z| on each misclassified element and 0 elsewhere, and since step's derivative is 0 its gradient is
 * (step(z) - y) per element: with z = x·w + b, plain SGD at learning rate η on it is Rosenblatt's rule
 * w ← w + η·(y - step(z))·x, which changes w only on misclassified inputs.
 */
export function perceptronLoss(z: Tensor, y: Tensor): Tensor {
  sameShape('perceptronLoss', ['pre-activations', 'targets'], z, y);
  return sum(mul(sub(step(z), y), z));
}

// ---- backward-only nodes, made by the gradient rules ----

/** dx of maxout: dy[..., c] at the first argmax of each group of k, zeros elsewhere. */
export const maxoutGrad = (x: Tensor, dy: Tensor, k: number) => node('maxout_grad', [x, dy], x.shape, 'f32', { k });

/** dx of log-softmax from its output y: dy - exp(y)·Σ dy, per row. */
export const logSoftmaxGrad = (y: Tensor, dy: Tensor) => node('log_softmax_grad', [y, dy], y.shape);

/** Rows and row length of a last-axis op on `shape`: the two numbers its kernels need. */
export function rowsOf(shape: Shape): [number, number] {
  const C = shape[shape.length - 1];
  return [shape.reduce((a, b) => a * b, 1) / C, C];
}
