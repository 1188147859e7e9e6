// The facts about every op that the rest of the engine asks (OP_FACTS). The op names and attribute types (OpName,
// OpAttrs) are declared with the Tensor class in tensor.ts and re-exported here. Every per-op table is declared
// against OpName (it satisfies a mapped type over it), so an op added to OpAttrs without its facts, gradient rule,
// CPU kernel or WebGPU kernel fails `npm run typecheck`; ops that deliberately have none are listed by name
// (NO_KERNEL here, NO_GRADIENT in autodiff/rules.ts).
import { UNARY, BINARY } from './elementwise.js';
import { isOp } from './tensor.js';
import type { Tensor, OpName, Node, UnaryOp, BinaryOp } from './tensor.js';
import type { Window } from './attrs.js';

export { isOp };
export type { OpName, OpAttrs, Node, UnaryOp, BinaryOp } from './tensor.js';

export const UNARY_OPS = Object.keys(UNARY) as UnaryOp[];
export const BINARY_OPS = Object.keys(BINARY) as BinaryOp[];

export const isUnary = (n: Tensor): n is Node<UnaryOp> => n.op in UNARY;
export const isBinary = (n: Tensor): n is Node<BinaryOp> => n.op in BINARY;
/** An elementwise node's function code (the OP constant of shaders/elementwise.wgsl). */
export const codeOf = (n: Node<UnaryOp | BinaryOp>): number => (isUnary(n) ? UNARY[n.op] : BINARY[n.op as BinaryOp]).code;

/** Ops no backend runs a kernel for: leaves have buffers of their own, a view shares its input's. */
export const NO_KERNEL = ['input', 'param', 'const', 'reshape'] as const satisfies readonly OpName[];
export type KernelOp = Exclude<OpName, (typeof NO_KERNEL)[number]>;

/** A table with one entry for each of `keys`, built by `f` (for the elementwise ops, which come from their table). */
export function each<K extends string, V>(keys: readonly K[], f: (k: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((k) => [k, f(k)])) as Record<K, V>;
}

export interface OpFacts<O extends OpName> {
  /**
   * How many terms an output element sums (K in the parity and fuzz tolerances, which grow like sqrt(K)): 1 for
   * elementwise ops, the inner dimension for matmul, the classes for a softmax.
   */
  k: number | ((n: Node<O>) => number);
  /** Updates variables in place after the rest of the step and has no value. */
  effect?: true;
  /** Shares its input's buffer (no kernel). */
  view?: true;
  /**
   * Input `input` holds int32 class labels (or ids) that must lie in [0, classes(n)), or equal ignore(n): checked on the
   * host before a run; `message` words the error where the default (a softmax cross-entropy label) does not fit.
   */
  labels?: { input: number; classes: (n: Node<O>) => number; ignore?: (n: Node<O>) => number | undefined; message?: (n: Node<O>, value: number, index: number) => string };
  /** An activation the GEMM epilogue can apply (shaders/matmul.wgsl, ACT). */
  epilogue?: true;
  /**
   * Branches on input `input` (relu_grad on x > 0): where the two backends' values of that input fall on opposite
   * sides, each is right to take its own branch, and parity does not compare those elements.
   */
  branch?: { input: number; test: (v: number) => boolean };
  /** true: the fuzzer must draw it (as a forward op, or in a gradient), which its test checks; else why it does not. */
  fuzz: true | string;
}

const windowTaps = (n: { attrs: { win: Window } }) => n.attrs.win.kh * n.attrs.win.kw;
const lastDim = (t: Tensor) => t.shape[t.rank - 1];
const EFFECT = 'an effect on variables: covered by the optimizer and norm tests, not by random graphs';

export const OP_FACTS = {
  ...each(UNARY_OPS, (): OpFacts<UnaryOp> => ({ k: 1, fuzz: true })),
  ...each(BINARY_OPS, (): OpFacts<BinaryOp> => ({ k: 1, fuzz: true })),
  relu: { k: 1, epilogue: true, fuzz: true },
  sigmoid: { k: 1, epilogue: true, fuzz: true },
  tanh: { k: 1, epilogue: true, fuzz: true },
  // Where the two backends' inputs fall on opposite sides of 0, each is right to output its own 0 or 1.
  step: { k: 1, branch: { input: 0, test: (x) => x > 0 }, fuzz: true },
  relu_grad: { k: 1, branch: { input: 0, test: (x) => x > 0 }, fuzz: true },
  input: { k: 1, fuzz: 'a leaf: every fuzzed graph starts from inputs' },
  param: { k: 1, fuzz: 'a leaf: the fuzzer feeds inputs, not variables' },
  const: { k: 1, fuzz: 'a leaf: scalars in arithmetic' },
  reshape: { k: 1, view: true, fuzz: true },
  transpose: { k: 1, fuzz: true },
  matmul: { k: (n) => { const a = n.inputs[0], r = a.rank; return n.attrs.transA ? a.shape[r - 2] : a.shape[r - 1]; }, fuzz: true },
  sum: { k: (n) => n.attrs.axes.reduce((p, a) => p * n.inputs[0].shape[a], 1), fuzz: true },
  softmax_xent: { k: (n) => n.inputs[0].shape[1], labels: { input: 1, classes: (n) => n.inputs[0].shape[1], ignore: (n) => n.attrs.ignore }, fuzz: true },
  softmax_xent_grad: { k: (n) => n.inputs[0].shape[1], labels: { input: 1, classes: (n) => n.inputs[0].shape[1], ignore: (n) => n.attrs.ignore }, fuzz: true },
  im2col: { k: 1, fuzz: true },
  // A pixel receives at most one term per window tap (scatter-adds and overlapping windows).
  col2im: { k: windowTaps, fuzz: true },
  maxpool: { k: 1, fuzz: true },
  maxpool_grad: { k: windowTaps, fuzz: true },
  avgpool: { k: windowTaps, fuzz: true },
  avgpool_grad: { k: windowTaps, fuzz: true },
  maxout: { k: 1, fuzz: true },
  maxout_grad: { k: 1, fuzz: true },
  log_softmax: { k: (n) => lastDim(n.inputs[0]), fuzz: true },
  log_softmax_grad: { k: (n) => lastDim(n.inputs[0]), fuzz: true },
  concat: { k: 1, fuzz: true },
  slice: { k: 1, fuzz: true },
  pad: { k: 1, fuzz: true },
  dropout: { k: 1, fuzz: true },
  dropout_advance: { k: 1, effect: true, fuzz: EFFECT },
  randn: { k: 1, fuzz: true },
  running_update: { k: 1, effect: true, fuzz: EFFECT },
  optim_step: { k: 1, effect: true, fuzz: EFFECT },
  optim_multi: { k: 1, effect: true, fuzz: EFFECT },
  embedding: {
    k: 1, fuzz: true,
    labels: {
      input: 0, classes: (n) => n.inputs[1].shape[0],
      message: (n, v, i) => `embedding: id ${v} at flat index ${i} is out of range for table [${n.inputs[1].shape.join(', ')}] (expected an integer in [0, ${n.inputs[1].shape[0] - 1}])`,
    },
  },
  // A table row's gradient sums the rows of every position holding its id: at most all of them.
  embedding_grad: { k: (n) => n.inputs[0].size, fuzz: true },
  softmax: { k: (n) => lastDim(n), fuzz: true },
  label_count: { k: 1, fuzz: true },
  topk: { k: 1, fuzz: true },
} satisfies { [O in OpName]: OpFacts<O> };

/** The facts of `n`'s op. */
export const factsOf = (n: { op: OpName }): OpFacts<OpName> => OP_FACTS[n.op] as OpFacts<OpName>;
/** How many terms one element of `n` sums (see OpFacts.k). */
export function reductionLength(n: Tensor): number {
  const k = factsOf(n).k;
  return typeof k === 'number' ? k : k(n as Node);
}
export const isEffect = (n: Tensor): boolean => !!factsOf(n).effect;
export const isView = (n: Tensor): boolean => !!factsOf(n).view;
