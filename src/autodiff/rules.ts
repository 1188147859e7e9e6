// One gradient rule per op: given the forward node and the gradient of its output, return the gradient of
// each input (undefined where an input takes no gradient, e.g. integer labels). Rules build graph nodes.
// GRAD_RULES must name every op except those in NO_GRADIENT, or typecheck fails.
import * as ops from '../graph/ops.js';
import type { OpName } from '../graph/op_table.js';
import type { GradRule } from './rule.js';
import { CONV_GRAD_RULES } from './conv_grad.js';
import { ACTIVATION_GRAD_RULES } from './activations_grad.js';
import { SHAPE_OPS_GRAD_RULES } from './shape_ops_grad.js';
import { NORM_GRAD_RULES } from './norm_grad.js';
import { ATTENTION_GRAD_RULES } from './attention_grad.js';

export type { GradRule };

/**
 * Ops without a gradient rule: leaves and effects, and backward-only ops that nothing here differentiates again
 * (second derivatives are not needed by anything in the engine).
 */
export const NO_GRADIENT = [
  'input', 'param', 'const', 'optim_step', 'optim_multi', 'running_update', 'dropout_advance', 'randn', // randn: a source, no inputs
  'softmax_xent_grad', 'maxout_grad', 'log_softmax_grad', 'maxpool_grad',
  'relu_grad', 'sigmoid_grad', 'tanh_grad', 'abs_grad', 'leaky_relu_grad', 'elu_grad', 'softplus_grad', 'gelu_grad', 'huber_grad',
  'prelu_gate', 'prelu_slope_grad', 'embedding_grad', 'label_count', 'topk',
] as const satisfies readonly OpName[];
type Differentiable = Exclude<OpName, (typeof NO_GRADIENT)[number]>;

const inv = (perm: number[]) => perm.map((_, i) => perm.indexOf(i));

const RULES = {
  ...CONV_GRAD_RULES,
  ...ACTIVATION_GRAD_RULES,
  ...SHAPE_OPS_GRAD_RULES,
  ...NORM_GRAD_RULES,
  ...ATTENTION_GRAD_RULES,
  add: (n, dy) => [ops.sumTo(dy, n.inputs[0].shape), ops.sumTo(dy, n.inputs[1].shape)],
  sub: (n, dy) => [ops.sumTo(dy, n.inputs[0].shape), ops.sumTo(ops.neg(dy), n.inputs[1].shape)],
  mul: ({ inputs: [a, b] }, dy) => [ops.sumTo(ops.mul(dy, b), a.shape), ops.sumTo(ops.mul(dy, a), b.shape)],
  div: ({ inputs: [a, b] }, dy) => [
    ops.sumTo(ops.div(dy, b), a.shape),
    ops.sumTo(ops.neg(ops.div(ops.mul(dy, a), ops.mul(b, b))), b.shape),
  ],
  identity: (n, dy) => [ops.sumTo(dy, n.inputs[0].shape)],
  neg: (_, dy) => [ops.neg(dy)],
  // From the output (y > 0 exactly where x > 0): the pre-activation then has one use and fuses with the ReLU.
  relu: (n, dy) => [ops.binary('relu_grad', n, dy)],
  sigmoid: (n, dy) => [ops.binary('sigmoid_grad', n, dy)],
  tanh: (n, dy) => [ops.binary('tanh_grad', n, dy)],
  exp: (n, dy) => [ops.mul(dy, n)],
  log: (n, dy) => [ops.div(dy, n.inputs[0])],
  sqrt: (n, dy) => [ops.div(dy, ops.mul(n, 2))],
  abs: (n, dy) => [ops.binary('abs_grad', n.inputs[0], dy)], // sign(x)·dy; x/|x| would be 0/0 at x = 0
  sum: (n, dy) => {
    const x = n.inputs[0];
    const kept = x.shape.map((d, i) => (n.attrs.axes.includes(i) ? 1 : d));
    return [ops.broadcastTo(ops.reshape(dy, kept), x.shape)];
  },
  reshape: (n, dy) => [ops.reshape(dy, [...n.inputs[0].shape])],
  transpose: (n, dy) => [ops.transpose(dy, inv(n.attrs.perm))],
  matmul: (n, dy) => {
    const [a, b] = n.inputs;
    const { transA, transB } = n.attrs;
    // C = op(A)·op(B). Each case reads the saved operands transposed as needed, never materialising a transpose.
    if (!transA && !transB) return [ops.matmul(dy, b, { transB: true }), ops.matmul(a, dy, { transA: true })];
    if (!transA && transB) return [ops.matmul(dy, b), ops.matmul(dy, a, { transA: true })];
    if (transA && !transB) return [ops.matmul(b, dy, { transB: true }), ops.matmul(a, dy)];
    return [ops.matmul(b, dy, { transA: true, transB: true }), ops.matmul(dy, a, { transA: true, transB: true })];
  },
  softmax_xent: (n, dy) => [ops.softmaxCrossEntropyGrad(n, dy), undefined],
} satisfies { [O in Differentiable]: GradRule<O> };

/** Every rule, by op (the ops in NO_GRADIENT have none). Widened once here: a rule is only called on a node of its op. */
export const GRAD_RULES = RULES as unknown as Readonly<Partial<Record<OpName, GradRule>>>;
