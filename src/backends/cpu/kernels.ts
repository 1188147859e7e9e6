// Reference kernels: plain loops, written to be read and trusted. Reductions accumulate in float64 (JS numbers),
// so the reference is the more accurate side of every parity test.
import { Tensor } from '../../graph/tensor.js';
import { broadcastStrides, permutedStrides } from '../../graph/shape.js';
import { UNARY, BINARY } from '../../graph/elementwise.js';
import { UNARY_OPS, BINARY_OPS, UnaryOp, BinaryOp, KernelOp, Node, OpName, each } from '../../graph/op_table.js';

import { Arr, CpuKernel, CpuKernelFn, strided } from './loops.js';
import { CONV_CPU_KERNELS } from './conv.js';
import { ACTIVATION_CPU_KERNELS } from './activations.js';
import { SHAPE_OPS_CPU_KERNELS } from './shape_ops.js';
import { NORM_CPU_KERNELS } from './norm.js';
import { OPTIM_CPU_KERNELS } from './optim.js';
import { ATTENTION_CPU_KERNELS } from './attention.js';

export type { Arr, CpuKernel, CpuKernelFn };

function unaryKernel(op: UnaryOp): CpuKernel<UnaryOp> {
  const fn: (x: number, alpha: number) => number = UNARY[op].cpu;
  return (n, [x], out) => {
    const alpha = n.attrs.alpha ?? 0, st = broadcastStrides(n.inputs[0].shape, n.shape);
    strided(n.shape, [st], (i, [o]) => { out[i] = fn(x[o], alpha); });
  };
}

function transpose(n: Node<'transpose'>, [x]: Arr[], out: Float32Array): void {
  strided(n.shape, [permutedStrides(n.inputs[0].shape, n.attrs.perm)], (i, [o]) => { out[i] = x[o]; });
}

function binaryKernel(op: BinaryOp): CpuKernel<BinaryOp> {
  const fn: (a: number, b: number, alpha: number) => number = BINARY[op].cpu;
  return (n, [a, b], out) => {
    const alpha = n.attrs.alpha ?? 0;
    const sa = broadcastStrides(n.inputs[0].shape, n.shape), sb = broadcastStrides(n.inputs[1].shape, n.shape);
    strided(n.shape, [sa, sb], (i, [oa, ob]) => { out[i] = fn(a[oa], b[ob], alpha); });
  };
}

function matmul(n: Node<'matmul'>, [a, b]: Arr[], out: Float32Array): void {
  const { transA, transB } = n.attrs;
  const r = n.rank, batch = r === 3 ? n.shape[0] : 1;
  const M = n.shape[r - 2], N = n.shape[r - 1];
  const K = transA ? n.inputs[0].shape[r - 2] : n.inputs[0].shape[r - 1];
  // Copy each operand into row-major A[M,K] and Bᵀ[N,K] so the inner product runs over contiguous memory.
  const ar = new Float64Array(M * K), bt = new Float64Array(N * K);
  for (let p = 0; p < batch; p++) {
    const ao = p * M * K, bo = p * K * N, oo = p * M * N;
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) ar[m * K + k] = transA ? a[ao + k * M + m] : a[ao + m * K + k];
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bt[j * K + k] = transB ? b[bo + j * K + k] : b[bo + k * N + j];
    for (let m = 0; m < M; m++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += ar[m * K + k] * bt[j * K + k];
        out[oo + m * N + j] = s;
      }
    }
  }
}

function sum(n: Node<'sum'>, [x]: Arr[], out: Float32Array): void {
  const inShape = n.inputs[0].shape, axes = n.attrs.axes;
  const kept = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const acc = new Float64Array(out.length);
  // Walk the input; each element lands in the output slot of its kept coordinates.
  strided(inShape, [broadcastStrides(kept, inShape)], (i, [o]) => { acc[o] += x[i]; });
  out.set(acc);
}

/** Per row: loss = logsumexp(logits) - logits[label], with the row max subtracted first. */
function softmaxXent(n: Node<'softmax_xent'>, [z, y]: Arr[], out: Float32Array): void {
  const [B, C] = n.inputs[0].shape;
  for (let i = 0; i < B; i++) {
    if (y[i] === n.attrs.ignore) { out[i] = 0; continue; }
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, z[i * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[i * C + c] - mx);
    out[i] = Math.log(s) + mx - z[i * C + y[i]];
  }
}

/** d loss_i / d logits_ic = (softmax_ic - [c == label_i]) · dy_i; 0 for an ignored row. */
function softmaxXentGrad(n: Node<'softmax_xent_grad'>, [z, y, dy]: Arr[], out: Float32Array): void {
  const [B, C] = n.shape;
  for (let i = 0; i < B; i++) {
    if (y[i] === n.attrs.ignore) { out.fill(0, i * C, (i + 1) * C); continue; }
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, z[i * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[i * C + c] - mx);
    for (let c = 0; c < C; c++) out[i * C + c] = (Math.exp(z[i * C + c] - mx) / s - (c === y[i] ? 1 : 0)) * dy[i];
  }
}

// Every op but the leaves and views (NO_KERNEL) must have its kernel here, or typecheck fails.
const KERNELS = {
  ...CONV_CPU_KERNELS,
  ...ACTIVATION_CPU_KERNELS,
  ...SHAPE_OPS_CPU_KERNELS,
  ...NORM_CPU_KERNELS,
  ...OPTIM_CPU_KERNELS,
  ...ATTENTION_CPU_KERNELS,
  ...each(UNARY_OPS, unaryKernel),
  ...each(BINARY_OPS, binaryKernel),
  transpose,
  matmul,
  sum,
  softmax_xent: softmaxXent,
  softmax_xent_grad: softmaxXentGrad,
} satisfies { [O in KernelOp]: CpuKernel<O> };

/** The reference kernels, by op. Widened once here: a kernel is only called on a node of its op. */
export const CPU_KERNELS = KERNELS as unknown as Readonly<Partial<Record<OpName, CpuKernelFn>>>;
