// Loop helpers shared by the reference kernels.
import { Tensor } from '../../graph/tensor.js';
import { Shape, stridesOf, sizeOf } from '../../graph/shape.js';

export type Arr = Float32Array | Int32Array;
export type CpuKernel = (n: Tensor, ins: Arr[], out: Float32Array) => void;

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

/** Strides of a transposed view: output dim j reads input dim perm[j]. */
export const permutedStrides = (inShape: Shape, perm: number[]) => perm.map((p) => stridesOf(inShape)[p]);

