// A Tensor is a lazy node in a graph: building one computes nothing. Backends compile a set of tensors into a plan.
import { Shape, sizeOf, checkShape, fmt } from './shape.js';
import * as ops from './ops.js';
import { isOp, type OpName } from './op_table.js';

export type DType = 'f32' | 'i32';
/** A node's attributes; OpAttrs (op_table.ts) types them per op, and Node<O> reads them typed. */
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

  add(b: Tensor | number) { return ops.add(this, b); }
  sub(b: Tensor | number) { return ops.sub(this, b); }
  mul(b: Tensor | number) { return ops.mul(this, b); }
  div(b: Tensor | number) { return ops.div(this, b); }
  neg() { return ops.neg(this); }
  matmul(b: Tensor, o?: { transA?: boolean; transB?: boolean }) { return ops.matmul(this, b, o); }
  relu() { return ops.relu(this); }
  sigmoid() { return ops.sigmoid(this); }
  tanh() { return ops.tanh(this); }
  sum(axes?: number | number[], keepDims = false) { return ops.sum(this, axes, keepDims); }
  mean(axes?: number | number[], keepDims = false) { return ops.mean(this, axes, keepDims); }
  reshape(shape: number[]) { return ops.reshape(this, shape); }
  transpose(perm?: number[]) { return ops.transpose(this, perm); }
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
  constructor(readonly init: Float32Array, shape: Shape, readonly name = 'var') {
    checkShape('variable', shape);
    if (init.length !== sizeOf(shape)) {
      throw new Error(`variable ${name}: ${init.length} initial values for shape ${fmt(shape)} (expected ${sizeOf(shape)})`);
    }
    this.tensor = new Tensor('param', [], [...shape], 'f32', { variable: this }, name);
  }
  get shape(): Shape { return this.tensor.shape; }
  get size(): number { return this.tensor.size; }
  static zeros(shape: Shape, name?: string): Variable { return new Variable(new Float32Array(sizeOf(shape)), shape, name); }
}

export const variableOf = (t: Tensor): Variable | undefined => (isOp(t, 'param') ? t.attrs.variable : undefined);
