// Batch normalisation, layer normalisation and dropout.
//
// Batch norm is a composite of existing ops (reductions and broadcasting arithmetic), so its gradient, training mode
// included, comes from autodiff and its kernels are ones the parity tests already cover. The only new op is the
// effect `running_update`, which folds the batch statistics into the running-stat Variables after the step.
//
// Dropout draws its mask from a counter-based hash: element i of a dropout node is kept at step s iff
// hash32(seed, s, i) >= p·2^32. Nothing is stored between forward and backward, and the CPU and the GPU compute the
// same mask from the same (seed, step). The step lives in a host-side counter object that kernels read at run time
// (the WebGPU launch re-reads it through a dynamic uniform), and the effect `dropout_advance` moves it on by one
// after each run.
import { Tensor } from './tensor.js';
import { ShapeError, fmt } from './shape.js';
import { node, needF32, mean, sub, mul, add, div, unary, reshape } from './ops.js';
import { composite, CompositeSpec } from './composite.js';
import type { Node } from './op_table.js';
import type { DropoutCounter } from './attrs.js';

export type { DropoutCounter };

// ---- batch norm ----

/** The per-channel view of a [C] vector for x: [1, C] for dense [B, C] input, [1, C, 1, 1] for NCHW. */
function channelShape(op: string, x: Tensor): number[] {
  if (x.rank === 2) return [1, x.shape[1]];
  if (x.rank === 4) return [1, x.shape[1], 1, 1];
  throw new ShapeError(op, `expected input [batch, features] or [N, C, H, W], got ${fmt(x.shape)}`);
}

function checkChannels(op: string, x: Tensor, named: Record<string, Tensor>): number[] {
  const cs = channelShape(op, x);
  needF32(op, x, ...Object.values(named));
  for (const [name, t] of Object.entries(named)) {
    if (t.rank !== 1 || t.shape[0] !== x.shape[1]) {
      throw new ShapeError(op, `${name} ${fmt(t.shape)} does not match input ${fmt(x.shape)} (expected [${x.shape[1]}], one value per channel)`);
    }
  }
  return cs;
}

/** The reduction axes of batch statistics: the batch and, for images, the spatial dims. */
const statAxes = (x: Tensor) => (x.rank === 2 ? [0] : [0, 2, 3]);

export interface BatchNormTrain {
  y: Tensor;
  /** Batch mean and biased batch variance, [C]. */
  mean: Tensor;
  var: Tensor;
  /** How many values each channel's statistics are taken over (N, or N·H·W). */
  count: number;
}

/** Training mode: normalise with the batch's own mean and (biased) variance, then scale by gamma and shift by beta. */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): BatchNormTrain {
  const cs = checkChannels('batchNorm', x, { gamma, beta });
  const axes = statAxes(x);
  const count = x.size / x.shape[1];
  if (count < 2) {
    throw new ShapeError('batchNorm', `input ${fmt(x.shape)} has ${count} value per channel (expected more than one in training mode: a batch statistic of one value normalises it to 0)`);
  }
  const mu = mean(x, axes, true);
  const d = sub(x, mu);
  const v = mean(mul(d, d), axes, true); // two passes: no cancellation, unlike E[x²] - E[x]²
  // Scale per channel first, so only three ops (sub above, mul, add) run over the whole input.
  const scale = div(reshape(gamma, cs), unary('sqrt', add(v, eps)));
  const y = add(mul(d, scale), reshape(beta, cs));
  return { y, mean: reshape(mu, [x.shape[1]]), var: reshape(v, [x.shape[1]]), count };
}

/** Eval mode: normalise with the running statistics. */
export function batchNormEval(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, eps = 1e-5): Tensor {
  const cs = checkChannels('batchNorm', x, { gamma, beta, runningMean, runningVar });
  const scale = div(reshape(gamma, cs), unary('sqrt', add(reshape(runningVar, cs), eps)));
  return add(mul(sub(x, reshape(runningMean, cs)), scale), reshape(beta, cs));
}

// ---- layer norm ----

/**
 * Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) · weight + bias, with the biased variance of each
 * row of the last axis and weight, bias of shape [features]. A composite (see composite.ts): its gradient, reference
 * and checks come from the primitives; shaders/layer_norm.wgsl is the fused kernel the scheduler substitutes.
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  needF32('layerNorm', x, weight, bias);
  if (x.rank < 1) throw new ShapeError('layerNorm', `expected a tensor of rank >= 1 (normalised over its last axis), got a scalar ${fmt(x.shape)}`);
  const C = x.shape[x.rank - 1];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t.rank !== 1 || t.shape[0] !== C) throw new ShapeError('layerNorm', `${name} ${fmt(t.shape)} does not match input ${fmt(x.shape)} (expected [${C}], one value per feature of the last axis)`);
  }
  if (!(eps > 0 && Number.isFinite(eps))) throw new ShapeError('layerNorm', `eps must be a finite number > 0, got ${eps} (input ${fmt(x.shape)})`);
  return composite('layer_norm', [x, weight, bias], { eps }, () => {
    const d = sub(x, mean(x, -1, true));
    const rstd = div(1, unary('sqrt', add(mean(mul(d, d), -1, true), eps))); // two passes, as batch norm
    return add(mul(mul(d, rstd), weight), bias);
  });
}

export const LAYER_NORM: CompositeSpec = {
  name: 'layerNorm',
  examples: [
    { name: 'layerNorm [7,33]', shapes: [[7, 33], [33], [33]], f: (x, w, b) => layerNorm(x, w, b) },
    { name: 'layerNorm [3,5,9] eps 1e-3', shapes: [[3, 5, 9], [9], [9]], f: (x, w, b) => layerNorm(x, w, b, 1e-3) },
    { name: 'layerNorm [1,257]', shapes: [[1, 257], [257], [257]], f: (x, w, b) => layerNorm(x, w, b) },
  ],
  fuzz: {
    // Three features at least: a row of one or two values normalises to constants, whose gradient is all cancellation.
    ok: (x) => x.rank >= 1 && x.shape[x.rank - 1] >= 3,
    make: (d, x) => { const C = x.shape[x.rank - 1]; return layerNorm(x, d.fresh([C]), d.fresh([C]), d.pick([1e-5, 1e-3])); },
  },
};

/**
 * Effect: target ← (1 - momentum)·target + momentum·scale·value, in place, after the rest of the step. With
 * scale = n/(n-1) it turns a biased batch variance into the unbiased one PyTorch's running_var tracks. Momentum 1
 * assigns scale·value (a NaN or infinite target is overwritten, not multiplied by 0).
 */
export function runningUpdate(target: Tensor, value: Tensor, momentum: number, scale = 1): Tensor {
  if (target.op !== 'param') throw new ShapeError('runningUpdate', `target ${target} must be a Variable`);
  if (fmt(target.shape) !== fmt(value.shape)) throw new ShapeError('runningUpdate', `target ${fmt(target.shape)} and value ${fmt(value.shape)} differ (expected the same shape)`);
  needF32('runningUpdate', value);
  if (!(momentum >= 0 && momentum <= 1)) throw new ShapeError('runningUpdate', `momentum ${momentum} is out of range (expected 0 <= momentum <= 1)`);
  return node('running_update', [target, value], [], 'f32', { momentum, scale });
}

// ---- dropout ----


/** Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, seed: number, counter: DropoutCounter): Tensor {
  needF32('dropout', x);
  if (!(p >= 0 && p < 1)) throw new ShapeError('dropout', `drop probability ${p} is out of range (expected 0 <= p < 1)`);
  if (p === 0) return x;
  return node('dropout', [x], x.shape, 'f32', { p, seed: seed >>> 0, counter });
}

/** Effect: advance the counter by one. Include it in every compiled training step so each run draws a new mask. */
export const dropoutAdvance = (counter: DropoutCounter): Tensor => node('dropout_advance', [], [], 'f32', { counter });

/**
 * What both backends compute a dropout node with: keep element i iff hash32(seed, step, i) >= threshold (an integer
 * comparison, so the masks agree bit for bit), and scale a kept element by the float32 `scale`.
 */
export function dropoutParams(n: Node<'dropout'>): { seed: number; step: number; threshold: number; scale: number } {
  const p = n.attrs.p;
  return {
    seed: n.attrs.seed,
    step: n.attrs.counter.step >>> 0,
    threshold: Math.floor(p * 2 ** 32),
    scale: Math.fround(1 / (1 - p)),
  };
}
