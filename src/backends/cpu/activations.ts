// Reference kernels of the last-axis activations (the pointwise ones come from the elementwise table). Each walks the
// input as rows of its last dim; sums accumulate in float64.
import { rowsOf } from '../../graph/activations.js';
import type { Node } from '../../graph/op_table.js';
import type { Arr, CpuKernels } from './loops.js';

/** Index within x's group of k (at `base`) of its maximum; the first one on ties (strict >). */
function argmaxOf(x: Arr, base: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (x[base + j] > x[base + best]) best = j;
  return best;
}

function maxout(n: Node<'maxout'>, [x]: Arr[], out: Float32Array): void {
  const k = n.attrs.k;
  for (let o = 0; o < out.length; o++) out[o] = x[o * k + argmaxOf(x, o * k, k)];
}

/** Each output's gradient goes to its group's argmax; every other input of the group gets 0. */
function maxoutGrad(n: Node<'maxout_grad'>, [x, dy]: Arr[], out: Float32Array): void {
  const k = n.attrs.k;
  out.fill(0);
  for (let o = 0; o < dy.length; o++) out[o * k + argmaxOf(x, o * k, k)] = dy[o];
}

/** y = x - max - log Σ exp(x - max), per row. */
function logSoftmax(n: Node<'log_softmax'>, [x]: Arr[], out: Float32Array): void {
  const [rows, C] = rowsOf(n.shape);
  for (let r = 0; r < rows; r++) {
    const row = r * C;
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, x[row + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[row + c] - mx);
    const lse = mx + Math.log(s);
    for (let c = 0; c < C; c++) out[row + c] = x[row + c] - lse;
  }
}

/** dx = dy - softmax·Σ dy per row, with softmax = exp(y) from the saved output y. */
function logSoftmaxGrad(n: Node<'log_softmax_grad'>, [y, dy]: Arr[], out: Float32Array): void {
  const [rows, C] = rowsOf(n.shape);
  for (let r = 0; r < rows; r++) {
    const row = r * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += dy[row + c];
    for (let c = 0; c < C; c++) out[row + c] = dy[row + c] - Math.exp(y[row + c]) * s;
  }
}

export const ACTIVATION_CPU_KERNELS = {
  maxout,
  maxout_grad: maxoutGrad,
  log_softmax: logSoftmax,
  log_softmax_grad: logSoftmaxGrad,
} satisfies CpuKernels;
