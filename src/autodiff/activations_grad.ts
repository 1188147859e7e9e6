// Gradient rules of the activations and losses. Each pointwise activation has a backward function in the elementwise
// table taking (saved input, dy), so its gradient is one kernel; the ones with a parameter pass it on as `alpha`.
import * as ops from '../graph/ops.js';
import * as act from '../graph/activations.js';
import type { GradRules } from './rule.js';

const alphaOf = (n: { attrs: { alpha?: number } }) => n.attrs.alpha ?? 0;

export const ACTIVATION_GRAD_RULES = {
  leaky_relu: (n, dy) => [act.binaryAlpha('leaky_relu_grad', n.inputs[0], dy, alphaOf(n))],
  elu: (n, dy) => [act.binaryAlpha('elu_grad', n.inputs[0], dy, alphaOf(n))],
  softplus: (n, dy) => [ops.binary('softplus_grad', n.inputs[0], dy)],
  gelu: (n, dy) => [ops.binary('gelu_grad', n.inputs[0], dy)],
  huber: (n, dy) => [act.binaryAlpha('huber_grad', n.inputs[0], dy, alphaOf(n))],
  // d/dx = dy·(1 or slope); d/dslope = Σ x·dy over the elements where x <= 0 that share the slope.
  prelu: ({ inputs: [x, a] }, dy) => [
    ops.mul(dy, ops.binary('prelu_gate', x, a)),
    ops.sumTo(ops.binary('prelu_slope_grad', x, dy), a.shape),
  ],
  // d/dx = sigmoid(x) - t, d/dt = -x (targets are usually data, but the rule is exact either way).
  bce_logits: ({ inputs: [x, t] }, dy) => [
    ops.sumTo(ops.mul(dy, ops.sub(ops.sigmoid(x), t)), x.shape),
    ops.sumTo(ops.mul(dy, ops.neg(x)), t.shape),
  ],
  // Piecewise constant: the derivative is 0 wherever it exists. The perceptron rule still trains a threshold unit,
  // through perceptronLoss (graph/activations.ts), whose gradient needs no derivative of the step.
  step: (n, dy) => [ops.mul(dy, 0)],
  maxout: (n, dy) => [act.maxoutGrad(n.inputs[0], dy, n.attrs.k)],
  log_softmax: (n, dy) => [act.logSoftmaxGrad(n, dy)],
  // maxout_grad and log_softmax_grad have no rules: nothing here takes second derivatives through them.
} satisfies GradRules;
