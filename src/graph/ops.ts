// Graph-building ops. Each one checks its inputs and infers the output shape; nothing is computed here.
import { Tensor, DType } from './tensor.js';
import { Shape, ShapeError, fmt, sizeOf, broadcastShapes, normAxes } from './shape.js';
import { UNARY } from './elementwise.js';
import type { OpName, OpAttrs, UnaryOp, BinaryOp, Node } from './tensor.js';

/** A new node of op O, with O's attributes (see OpAttrs). */
export const node = <O extends OpName>(op: O, inputs: Tensor[], shape: Shape, dtype: DType = 'f32', attrs: OpAttrs[O] = {} as OpAttrs[O]) =>
  new Tensor(op, inputs, shape, dtype, attrs) as Node<O>;

export function needF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new ShapeError(op, `expected a float32 tensor, got ${t.dtype} ${fmt(t.shape)}`);
}

/** A constant filled with one value; scalars in arithmetic become these. */
export function constant(value: number, shape: Shape = []): Tensor {
  return node('const', [], [...shape], 'f32', { value });
}

const lift = (x: Tensor | number) => (typeof x === 'number' ? constant(x) : x);

export function unary(fn: UnaryOp, x: Tensor): Tensor {
  if (!(fn in UNARY)) throw new ShapeError(fn, `unknown elementwise function`);
  needF32(fn, x);
  return node(fn, [x], x.shape);
}

export function binary(fn: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  const ta = lift(a), tb = lift(b);
  needF32(fn, ta, tb);
  return node(fn, [ta, tb], broadcastShapes(fn, ta.shape, tb.shape));
}

export const add = (a: Tensor | number, b: Tensor | number) => binary('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number) => binary('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number) => binary('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number) => binary('div', a, b);
export const neg = (x: Tensor) => unary('neg', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);

/** Materialise `x` at a larger shape (NumPy broadcasting rules). The backward of sum. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes('broadcastTo', x.shape, shape);
  if (fmt(out) !== fmt(shape)) throw new ShapeError('broadcastTo', `cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
  if (fmt(x.shape) === fmt(shape)) return x;
  return node('identity', [x], [...shape]);
}

/**
 * Matrix product over the last two dims, optionally reading either operand transposed (the backward pass needs
 * Aᵀ·B and A·Bᵀ without materialising a transpose). Rank 3 operands carry a batch dimension that must match.
 */
export function matmul(a: Tensor, b: Tensor, o: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = !!o.transA, transB = !!o.transB;
  needF32('matmul', a, b);
  if (a.rank < 2 || a.rank > 3 || b.rank !== a.rank) {
    throw new ShapeError('matmul', `expected two rank-2 or two rank-3 tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const r = a.rank;
  const [M, K] = transA ? [a.shape[r - 1], a.shape[r - 2]] : [a.shape[r - 2], a.shape[r - 1]];
  const [K2, N] = transB ? [b.shape[r - 1], b.shape[r - 2]] : [b.shape[r - 2], b.shape[r - 1]];
  const desc = `${fmt(a.shape)}${transA ? 'ᵀ' : ''} · ${fmt(b.shape)}${transB ? 'ᵀ' : ''}`;
  if (K !== K2) throw new ShapeError('matmul', `inner dimensions differ in ${desc}: ${K} vs ${K2} (expected equal)`);
  if (r === 3 && a.shape[0] !== b.shape[0]) throw new ShapeError('matmul', `batch dimensions differ in ${desc}: ${a.shape[0]} vs ${b.shape[0]}`);
  const shape = r === 3 ? [a.shape[0], M, N] : [M, N];
  return node('matmul', [a, b], shape, 'f32', { transA, transB });
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  needF32('sum', x);
  const ax = normAxes('sum', axes, x.rank);
  if (ax.length === 0) return x;
  // A long reduction to one value is split in two: the rows first (one invocation per row, in parallel), then their
  // sums. One output would otherwise be one workgroup, one CPU thread on drivers such as lavapipe: a [784,256]
  // gradient's sum took 12 ms there, as long as the GEMM that made it.
  // A short leading dim ([32, 256, 32]) or a single one: the same split over a 2-D view of the elements.
  if (ax.length === x.rank && x.size >= 1 << 15) {
    let rows: Tensor | undefined = x;
    if (!(x.rank >= 2 && x.shape[0] >= 64 && x.size / x.shape[0] >= 64)) {
      const r = splitRows(x.size);
      rows = r > 1 ? reshape(x, [r, x.size / r]) : undefined;
    }
    if (rows) {
      const total = sum(sum(rows, rows.shape.slice(1).map((_, i) => i + 1)), 0);
      return keepDims ? reshape(total, x.shape.map(() => 1)) : total;
    }
  }
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepDims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return node('sum', [x], shape, 'f32', { axes: ax, keepDims });
}

/** Rows of the 2-D view a long sum splits into: the largest divisor of n up to its square root, 1 below 64 rows. */
function splitRows(n: number): number {
  for (let r = Math.floor(Math.sqrt(n)); r >= 64; r--) if (n % r === 0) return r;
  return 1;
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes('mean', axes, x.rank);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return mul(sum(x, ax, keepDims), 1 / n);
}

export function reshape(x: Tensor, shape: number[]): Tensor {
  const free = shape.filter((d) => d === -1).length;
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const target = shape.map((d) => (d === -1 ? x.size / known : d));
  if (free > 1 || target.some((d) => !Number.isInteger(d) || d < 1) || sizeOf(target) !== x.size) {
    throw new ShapeError('reshape', `cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  }
  if (fmt(target) === fmt(x.shape)) return x;
  return node('reshape', [x], target, x.dtype, {});
}

/** Permute dims; the default swaps the last two. */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? [...Array(x.rank).keys()].map((i) => (i < x.rank - 2 ? i : 2 * x.rank - 3 - i));
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw new ShapeError('transpose', `perm ${fmt(p)} is not a permutation of the ${x.rank} dims of ${fmt(x.shape)}`);
  }
  if (p.every((v, i) => v === i)) return x;
  return node('transpose', [x], p.map((i) => x.shape[i]), x.dtype, { perm: p });
}

/**
 * Per-row softmax cross-entropy of logits [B,C] against integer labels [B]; returns [B]. A row whose label is
 * `ignore` (padding in a sequence) has loss 0 and gradient 0.
 */
export function softmaxCrossEntropyRows(logits: Tensor, labels: Tensor, ignore?: number): Tensor {
  needF32('softmaxCrossEntropy', logits);
  if (logits.rank !== 2) throw new ShapeError('softmaxCrossEntropy', `expected logits of shape [batch, classes], got ${fmt(logits.shape)}`);
  if (labels.dtype !== 'i32' || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new ShapeError('softmaxCrossEntropy', `expected int32 labels of shape [${logits.shape[0]}] for logits ${fmt(logits.shape)}, got ${labels.dtype} ${fmt(labels.shape)}`);
  }
  if (ignore !== undefined && !Number.isInteger(ignore)) throw new ShapeError('softmaxCrossEntropy', `ignore index must be an integer, got ${ignore}`);
  return node('softmax_xent', [logits, labels], [logits.shape[0]], 'f32', ignore === undefined ? {} : { ignore });
}

/** Mean softmax cross-entropy over the batch (subtracts the row max, so large logits do not overflow). */
export const softmaxCrossEntropy = (logits: Tensor, labels: Tensor) => mean(softmaxCrossEntropyRows(logits, labels));

/** Mean squared error over every element. */
export function mse(pred: Tensor, target: Tensor): Tensor {
  if (fmt(pred.shape) !== fmt(target.shape)) throw new ShapeError('mse', `prediction ${fmt(pred.shape)} and target ${fmt(target.shape)} differ (expected the same shape)`);
  const d = sub(pred, target);
  return mean(mul(d, d));
}

// Backward-only nodes, made by autodiff rules.
export const softmaxCrossEntropyGrad = (xent: Tensor, dy: Tensor) =>
  node('softmax_xent_grad', [xent.inputs[0], xent.inputs[1], dy], xent.inputs[0].shape, 'f32', xent.attrs);

/** Sum `g` down to `shape`: the backward of broadcasting. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (fmt(g.shape) === fmt(shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = sum(g, axes, true);
  return reshape(s, [...shape]);
}

// The fluent methods of Tensor, installed here rather than written in tensor.ts, which would then import this file
// while this file imports it: graph building always loads this module (every builder does), so they are there.
declare module './tensor.js' {
  interface Tensor {
    add(b: Tensor | number): Tensor;
    sub(b: Tensor | number): Tensor;
    mul(b: Tensor | number): Tensor;
    div(b: Tensor | number): Tensor;
    neg(): Tensor;
    matmul(b: Tensor, o?: { transA?: boolean; transB?: boolean }): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    sum(axes?: number | number[], keepDims?: boolean): Tensor;
    mean(axes?: number | number[], keepDims?: boolean): Tensor;
    reshape(shape: number[]): Tensor;
    transpose(perm?: number[]): Tensor;
  }
}
Object.assign(Tensor.prototype, {
  add(this: Tensor, b: Tensor | number) { return add(this, b); },
  sub(this: Tensor, b: Tensor | number) { return sub(this, b); },
  mul(this: Tensor, b: Tensor | number) { return mul(this, b); },
  div(this: Tensor, b: Tensor | number) { return div(this, b); },
  neg(this: Tensor) { return neg(this); },
  matmul(this: Tensor, b: Tensor, o?: { transA?: boolean; transB?: boolean }) { return matmul(this, b, o); },
  relu(this: Tensor) { return relu(this); },
  sigmoid(this: Tensor) { return sigmoid(this); },
  tanh(this: Tensor) { return tanh(this); },
  sum(this: Tensor, axes?: number | number[], keepDims = false) { return sum(this, axes, keepDims); },
  mean(this: Tensor, axes?: number | number[], keepDims = false) { return mean(this, axes, keepDims); },
  reshape(this: Tensor, shape: number[]) { return reshape(this, shape); },
  transpose(this: Tensor, perm?: number[]) { return transpose(this, perm); },
});
