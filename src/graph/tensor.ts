// A Tensor is a lazy node in a graph: building one computes nothing. Backends compile a set of tensors into a plan.
import { Shape, ShapeError, sizeOf, checkShape, fmt } from './shape.js';
import type { UNARY, BINARY } from './elementwise.js';
import type { Window, ColLayout, DropoutCounter, OptimAttrs, OptimMultiAttrs } from './attrs.js';

export type DType = 'f32' | 'i32';

// ---- every op, by name, with its attributes' types (the facts about each op: op_table.ts) ----

export type UnaryOp = keyof typeof UNARY;
export type BinaryOp = keyof typeof BINARY;

/** A scalar parameter of an elementwise function (a slope, ELU's alpha, Huber's delta); 0 where it takes none. */
interface Alpha { alpha?: number }
type None = Record<never, never>;

/** Each op's attributes, by op name. The names of this map are the ops. */
export interface OpAttrs extends Record<UnaryOp | BinaryOp, Alpha> {
  input: None;
  param: { variable: Variable };
  const: { value: number };
  reshape: None;
  transpose: { perm: number[] };
  matmul: { transA: boolean; transB: boolean };
  sum: { axes: number[]; keepDims: boolean };
  softmax_xent: { ignore?: number };
  softmax_xent_grad: { ignore?: number };
  im2col: { win: Window; layout: ColLayout };
  col2im: { win: Window; layout: ColLayout };
  maxpool: { win: Window };
  maxpool_grad: { win: Window };
  avgpool: { win: Window; countIncludePad: boolean };
  avgpool_grad: { win: Window; countIncludePad: boolean };
  maxout: { k: number };
  maxout_grad: { k: number };
  log_softmax: None;
  log_softmax_grad: None;
  concat: { axis: number };
  slice: { begin: number[] };
  pad: { pads: number[][] };
  dropout: { p: number; seed: number; counter: DropoutCounter };
  dropout_advance: { counter: DropoutCounter };
  randn: { seed: number; counter: DropoutCounter };
  running_update: { momentum: number; scale: number };
  optim_step: OptimAttrs;
  optim_multi: OptimMultiAttrs;
  embedding: None;
  embedding_grad: None;
  softmax: { causal: boolean };
  label_count: { ignore: number };
  topk: { k: number };
}
export type OpName = keyof OpAttrs;

/** A node of op O, with O's attributes typed. */
export type Node<O extends OpName = OpName> = Tensor & { readonly op: O; readonly attrs: OpAttrs[O] };
export const isOp = <O extends OpName>(n: Tensor, op: O): n is Node<O> => n.op === op;

/** A node's attributes; OpAttrs types them per op, and Node<O> reads them typed. */
export type Attrs = object;

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  constructor(
    readonly op: OpName,
    readonly inputs: readonly Tensor[],
    readonly shape: Shape,
    readonly dtype: DType = 'f32',
    readonly attrs: Attrs = {},
    public name?: string,
  ) {}

  get size(): number { return sizeOf(this.shape); }
  get rank(): number { return this.shape.length; }
  toString(): string { return `${this.name ?? this.op}#${this.id}${fmt(this.shape)}`; }

  // The fluent methods (x.matmul(w).relu()) are installed by ops.ts, which builds every op: see the end of that file.
}

/** A value fed from the host on every run (a batch of images, its labels). */
export function input(shape: Shape, dtype: DType = 'f32', name = 'input'): Tensor {
  checkShape('input', shape);
  return new Tensor('input', [], [...shape], dtype, {}, name);
}

/**
 * Persistent state that lives on a backend between runs: weights and optimizer slots.
 * `init` is the value a backend starts from; a backend holds its own copy once it has seen the variable.
 */
export class Variable {
  readonly tensor: Tensor;
  /** Where a backend that shares memory keeps it: element `arena.offsets[index]` of the arena's buffer (Arena, below). */
  placement?: { arena: Arena; index: number };
  constructor(readonly init: Float32Array, shape: Shape, readonly name = 'var') {
    checkShape('variable', shape);
    if (init.length !== sizeOf(shape)) {
      throw new ShapeError(`variable ${name}`, `${init.length} initial values for shape ${fmt(shape)} (expected ${sizeOf(shape)})`);
    }
    this.tensor = new Tensor('param', [], [...shape], 'f32', { variable: this }, name);
  }
  get shape(): Shape { return this.tensor.shape; }
  get size(): number { return this.tensor.size; }
  static zeros(shape: Shape, name?: string): Variable { return new Variable(new Float32Array(sizeOf(shape)), shape, name); }
}

/**
 * Variables laid out in one shared buffer (a fused multi-tensor optimizer's parameters, or one of its state slots):
 * variable k starts at float `offsets[k]`, a multiple of ARENA_ALIGN (256 bytes, WebGPU's storage offset alignment), so
 * each is still bindable on its own. A backend that shares memory (WebGPU) places them so; the CPU ignores it.
 */
export interface Arena { readonly name: string; readonly offsets: readonly number[]; readonly size: number; readonly vars: readonly Variable[] }

export const variableOf = (t: Tensor): Variable | undefined => (isOp(t, 'param') ? t.attrs.variable : undefined);
