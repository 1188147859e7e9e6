// Loop helpers shared by the reference kernels.
import { Shape, sizeOf } from '../../graph/shape.js';
import type { Tensor } from '../../graph/tensor.js';
import type { OpName, Node } from '../../graph/op_table.js';

export type Arr = Float32Array | Int32Array;
/** The reference kernel of op O: reads `ins` (the node's inputs, in order) and writes `out` (empty for effects). */
export type CpuKernel<O extends OpName = OpName> = (n: Node<O>, ins: Arr[], out: Float32Array) => void;
/** A kernel as the executor calls it, on any node (it only ever passes a kernel nodes of its own op). */
export type CpuKernelFn = (n: Tensor, ins: Arr[], out: Float32Array) => void;
/** Kernels for some ops, each typed by its op: what the kernel families export. */
export type CpuKernels = Partial<{ [O in OpName]: CpuKernel<O> }>;

/** Visit every index of `shape` in row-major order, tracking the flat offset into each strided operand. */
export function strided(shape: Shape, strides: number[][], visit: (i: number, offs: number[]) => void): void {
  const r = shape.length, n = sizeOf(shape);
  const idx = new Array<number>(r).fill(0);
  const offs = strides.map(() => 0);
  for (let i = 0; i < n; i++) {
    visit(i, offs);
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < offs.length; k++) offs[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (let k = 0; k < offs.length; k++) offs[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}


