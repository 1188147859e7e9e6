// The WebGPU kernel registry: for each op, which shader in shaders/ runs it, how it is specialised, the uniform
// data it reads, the storage buffers it binds (in binding order after the uniform at binding 0), and its grid.
import { Tensor } from '../../graph/tensor.js';
import { Shape, ShapeError, fmt, sizeOf, stridesOf, broadcastStrides } from '../../graph/shape.js';
import { UNARY, BINARY } from '../../graph/elementwise.js';
import { permutedStrides, SgdHyper } from '../cpu/kernels.js';

export interface Launch {
  shader: string;
  defines?: Record<string, boolean>;
  constants?: Record<string, number>;
  /** Uniform data at binding 0, written once at compile time. */
  uniform: ArrayBuffer;
  /** For kernels whose uniform can change between runs (optimizer hyper-parameters): its current value. */
  dynamicUniform?: () => ArrayBuffer;
  bindings: Tensor[];
  workgroups: [number, number, number];
}

export const MAX_RANK = 6;
const MAX_GRID = 65535;

/** Spread `groups` workgroups over x and y; shaders rebuild the flat index from num_workgroups. */
export function grid(op: string, groups: number): [number, number, number] {
  if (groups <= MAX_GRID) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / MAX_GRID);
  if (y > MAX_GRID) throw new ShapeError(op, `needs ${groups} workgroups, over the ${MAX_GRID}² a dispatch can address`);
  return [MAX_GRID, y, 1];
}

function u32s(words: number[], minBytes = 16): ArrayBuffer {
  const n = Math.max(Math.ceil(words.length / 4) * 4, minBytes / 4);
  const a = new Uint32Array(n);
  a.set(words);
  return a.buffer;
}
const f32bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
const pad = (xs: readonly number[]) => [...xs, ...Array(MAX_RANK - xs.length).fill(0)];

function checkRank(op: string, s: Shape) {
  if (s.length > MAX_RANK) throw new ShapeError(op, `rank ${s.length} ${fmt(s)} exceeds the WebGPU kernels' maximum rank ${MAX_RANK}`);
}

/**
 * The period with which an operand read through `strides` repeats along the flat output, if it simply repeats:
 * zero strides on leading dims, contiguous strides on the rest (same shape: period n; scalar: 1; bias row: N).
 */
function periodOf(shape: Shape, strides: number[]): number | undefined {
  let lead = 0;
  while (lead < strides.length && strides[lead] === 0) lead++;
  const tail = shape.slice(lead);
  return stridesOf(tail).join() === strides.slice(lead).join() ? sizeOf(tail) : undefined;
}

function elementwise(n: Tensor, strides: number[][], code: number): Launch {
  checkRank(n.op, n.shape);
  const periods = strides.map((s) => periodOf(n.shape, s));
  const strided = periods.some((p) => p === undefined);
  const shape = n.shape.length ? n.shape : [1];
  const st = strides.map((s) => (s.length ? s : [0]));
  const words = [n.size, shape.length, f32bits((n.attrs.alpha as number) ?? 0), periods[0] ?? 1, ...pad(shape), ...pad(st[0]), ...pad(st[1] ?? []), periods[1] ?? 1, 0];
  return {
    shader: 'elementwise',
    defines: { BINARY: strides.length === 2, STRIDED: strided },
    constants: { OP: code },
    uniform: u32s(words),
    bindings: [...n.inputs, n],
    workgroups: grid(n.op, Math.ceil(n.size / 256)),
  };
}

function reduce(n: Tensor): Launch {
  const x = n.inputs[0], axes = n.attrs.axes as number[];
  checkRank('sum', x.shape);
  const st = stridesOf(x.shape);
  const keptDims = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const words = [
    n.size, sizeOf(axes.map((a) => x.shape[a])), keptDims.length, axes.length,
    ...pad(keptDims.map((i) => x.shape[i])), ...pad(keptDims.map((i) => st[i])),
    ...pad(axes.map((a) => x.shape[a])), ...pad(axes.map((a) => st[a])),
  ];
  // Many outputs: one invocation per output, summing serially, with no barriers (on CPU drivers each barrier is a
  // context switch). Few outputs, long reductions: one workgroup per output, reducing in workgroup memory.
  const serial = n.size >= 64;
  return {
    shader: 'reduce',
    defines: { SERIAL: serial },
    uniform: u32s(words),
    bindings: [x, n],
    workgroups: grid('sum', serial ? Math.ceil(n.size / 64) : n.size),
  };
}

/**
 * GEMM tiling: TS x TS invocations per workgroup, each computing 4x4 outputs; K staged TK deep. 16/32 measured best
 * on lavapipe (1024³: 16/32 1.96 GFLOP/s, 16/16 1.36, 8/32 0.95, 8/8 1.64); benchmarks may set other values.
 */
export const gemmTiles = { TS: 16, TK: 32 };

function matmul(n: Tensor): Launch {
  const { transA, transB } = n.attrs as { transA: boolean; transB: boolean };
  const r = n.rank, batch = r === 3 ? n.shape[0] : 1;
  const M = n.shape[r - 2], N = n.shape[r - 1];
  const K = transA ? n.inputs[0].shape[r - 2] : n.inputs[0].shape[r - 1];
  const { TS, TK } = gemmTiles;
  const wg: [number, number, number] = [Math.ceil(N / (4 * TS)), Math.ceil(M / (4 * TS)), batch];
  if (wg.some((g) => g > MAX_GRID)) throw new ShapeError('matmul', `output ${fmt(n.shape)} needs a ${wg.join('x')} grid, over the ${MAX_GRID} per dimension a dispatch allows`);
  return {
    shader: 'matmul',
    constants: { TRANS_A: +transA, TRANS_B: +transB, TS, TK },
    uniform: u32s([M, N, K, batch]),
    bindings: [n.inputs[0], n.inputs[1], n],
    workgroups: wg,
  };
}

function softmaxXent(n: Tensor, grad: boolean): Launch {
  const [B, C] = n.inputs[0].shape;
  return {
    shader: 'softmax_xent',
    defines: { GRAD: grad },
    uniform: u32s([B, C]),
    bindings: [...n.inputs, n],
    workgroups: grid(n.op, Math.ceil(B / 64)),
  };
}

function sgd(n: Tensor): Launch {
  const [p] = n.inputs;
  const hyperBytes = () => {
    const h = n.attrs.hyper as SgdHyper;
    const b = new ArrayBuffer(32), u = new Uint32Array(b), f = new Float32Array(b);
    u[0] = p.size; u[1] = +h.nesterov; f[2] = h.lr; f[3] = h.momentum; f[4] = h.weightDecay;
    return b;
  };
  return { shader: 'sgd', uniform: hyperBytes(), dynamicUniform: hyperBytes, bindings: n.inputs.slice(), workgroups: grid('sgd', Math.ceil(p.size / 256)) };
}

export function launchFor(n: Tensor): Launch {
  if (UNARY[n.op]) return elementwise(n, [broadcastStrides(n.inputs[0].shape, n.shape)], UNARY[n.op].code);
  if (BINARY[n.op]) return elementwise(n, n.inputs.map((x) => broadcastStrides(x.shape, n.shape)), BINARY[n.op].code);
  switch (n.op) {
    case 'transpose': return elementwise(n, [permutedStrides(n.inputs[0].shape, n.attrs.perm as number[])], UNARY.identity.code);
    case 'sum': return reduce(n);
    case 'matmul': return matmul(n);
    case 'softmax_xent': return softmaxXent(n, false);
    case 'softmax_xent_grad': return softmaxXent(n, true);
    case 'sgd_momentum': return sgd(n);
  }
  throw new Error(`webgpu backend: no kernel for op '${n.op}' (node ${n})`);
}
