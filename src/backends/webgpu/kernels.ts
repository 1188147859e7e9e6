// The WebGPU kernel registry: for each op, which shader in shaders/ runs it, how it is specialised, the uniform
// data it reads, the storage buffers it binds (in binding order after the uniform at binding 0), and its grid.
import { Tensor } from '../../graph/tensor.js';
import { Shape, ShapeError, fmt, sizeOf, stridesOf, broadcastStrides, permutedStrides } from '../../graph/shape.js';
import { UNARY } from '../../graph/elementwise.js';
import { UNARY_OPS, BINARY_OPS, UnaryOp, BinaryOp, KernelOp, OpName, Node, each, isOp, isUnary, isBinary, isView, codeOf } from '../../graph/op_table.js';
import type { Fused, FusedKernel } from '../../schedule/fuse.js';
import type { GemmKernel } from './device.js';
import { Launch, ShaderName, WebGpuKernel, Scratch, PANEL_TEXTURE_WIDTH, PANEL_TEXTURE_TEXELS, MAX_GRID, grid, spread, f32bits, checkRank } from './launch.js';
import { ELEMENTWISE_PARAMS, REDUCE_PARAMS, UNIFORMS } from './contracts.js';
import { CONV_WEBGPU_KERNELS, CONV_FUSED_LAUNCHES, maxPoolReluGrad } from './conv.js';
import { ACTIVATION_WEBGPU_KERNELS, logSoftmaxRowMax } from './activations.js';
import { SHAPE_OPS_WEBGPU_KERNELS } from './shape_ops.js';
import { NORM_WEBGPU_KERNELS, NORM_FUSED_LAUNCHES } from './norm.js';
import { OPTIM_WEBGPU_KERNELS } from './optim.js';
import { ATTENTION_WEBGPU_KERNELS, ATTENTION_FUSED_LAUNCHES } from './attention.js';
import { subgroupTile, subgroupK4, SUBGROUP_PLAIN, GEMM_SWITCHES } from './gemm_tile.js';

export { subgroupTile, subgroupK4 };

export type { Launch };

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

// Rows of 4 or more: ViT's patch transpose [64, 4, 4, 7, 7] (rows of 7) 1.40 -> 0.66 ms against per element (lavapipe).
const ROW_MIN = 4;

/**
 * An op a fused chain applies to the value before it (shaders/elementwise.wgsl): unary, or binary with a constant `c`
 * on the right of the value (form 1) or on its left (form 2).
 */
export interface Link { code: number; form: 0 | 1 | 2; alpha: number; c: number }

/**
 * `alpha`: the op's scalar parameter (see elementwise.ts); `chain`: the ops applied after it; `sum`: the whole map
 * summed into one value and multiplied by `scale` (n is then the map's first op, its elements the ones summed).
 */
function elementwise(n: Tensor, strides: number[][], code: number, alpha: number, chain: readonly Link[] = [], inputs: readonly Tensor[] = n.inputs, sum?: { scale: number; rowLen?: number }): Launch {
  checkRank(n.op, n.shape);
  const periods = strides.map((s) => periodOf(n.shape, s));
  const strided = periods.some((p) => p === undefined);
  const shape = n.shape.length ? n.shape : [1];
  const st = strides.map((s) => (s.length ? s : [0]));
  const uniform = ELEMENTWISE_PARAMS.pack({
    n: n.size, rank: shape.length, alpha: f32bits(alpha), periodA: periods[0] ?? 1, shape, stridesA: st[0], stridesB: st[1] ?? [], periodB: periods[1] ?? 1,
    alphas: chain.map((l) => f32bits(l.alpha)), consts: chain.map((l) => f32bits(l.c)), scale: f32bits(sum?.scale ?? 1), rowLen: sum?.rowLen ?? 1,
  });
  // Strided, with rows of at least ROW_MIN along the last dim: one invocation per row (see the shader).
  const rows = !sum && strided && shape[shape.length - 1] >= ROW_MIN;
  // Four elements at a time (the shader's VEC4) where each input is a scalar or, unstrided, repeats in whole vec4s;
  // or, by rows a multiple of 4 long, is constant along a row (read as one element, `scalar` below) or contiguous
  // along it at offsets that are multiples of 4.
  const scalar = st.map((s, k) => (rows ? s[s.length - 1] === 0 : periods[k] === 1));
  const vec4 = !sum && (rows
    ? shape[shape.length - 1] % 4 === 0 && st.every((s, k) => scalar[k] || (s[s.length - 1] === 1 && s.every((x, d) => d === s.length - 1 || x % 4 === 0 || shape[d] === 1)))
    : !strided && n.size % 4 === 0 && periods.every((p) => p === 1 || p! % 4 === 0));
  const invocations = rows ? n.size / shape[shape.length - 1] : vec4 ? n.size / 4 : n.size;
  const links = Object.fromEntries(chain.flatMap((l, k) => [[`OP${k + 2}`, l.code], [`FORM${k + 2}`, l.form]]));
  // A sum is one workgroup of REDUCE_WG, the reduce kernel's, so that it adds in the same order; a row sum one
  // invocation a row, in workgroups of REDUCE_WG as that kernel's serial sums.
  const sumRows = !!sum?.rowLen;
  const grid = sumRows ? spread(n.op, n.size / sum!.rowLen!, REDUCE_WG)
    : sum ? { workgroupSize: [REDUCE_WG] as [number], workgroups: [1, 1, 1] as [number, number, number], constants: { WG: REDUCE_WG } } : spread(n.op, invocations, 256);
  return {
    shader: 'elementwise',
    defines: { BINARY: strides.length === 2, STRIDED: strided, ROWS: rows, SUM: !!sum && !sumRows, SUM_ROWS: sumRows, VEC4: vec4, VEC4_A: vec4 && !scalar[0], VEC4_B: vec4 && st.length === 2 && !scalar[1] },
    ...(vec4 ? { vec4: true as const } : {}),
    ...grid,
    constants: { OP: code, ...(chain.length ? { CHAIN: chain.length, ...links } : {}), WG: grid.constants.WG, ...(strided ? {} : { PERIOD_A: periodKind(periods[0]!, n.size), PERIOD_B: periods[1] === undefined ? 0 : periodKind(periods[1], n.size) }) },
    uniform,
    bindings: [...inputs, n],
  };
}

/** An input's PERIOD_A/B in shaders/elementwise.wgsl: 1 one element per output element, 2 one for all, 0 any other period. */
const periodKind = (period: number, n: number) => (period === n ? 1 : period === 1 ? 2 : 0);

/**
 * Dims of `shape` (with strides `st`) listed in `dims`, as [sizes, strides], with neighbours that are contiguous in
 * memory merged (d and d+1 both listed, stride[d] = size[d+1]·stride[d+1]): a row or a block of rows is one dim, so
 * the reduce kernel walks it with one stride instead of a division per dim per element.
 */
function mergedDims(shape: readonly number[], st: readonly number[], dims: readonly number[]): [number[], number[]] {
  const sizes: number[] = [], strides: number[] = [];
  let prev = -2;
  for (const d of dims) {
    const k = sizes.length - 1;
    if (d === prev + 1 && strides[k] === shape[d] * st[d]) { sizes[k] *= shape[d]; strides[k] = st[d]; } else { sizes.push(shape[d]); strides.push(st[d]); }
    prev = d;
  }
  return [sizes, strides];
}

/** The reduce kernel's workgroup: 64 outputs (SERIAL), or 64 invocations sharing one output. */
const REDUCE_WG = 64;

function reduce(n: Node<'sum'>): Launch {
  const x = n.inputs[0], axes = [...n.attrs.axes].sort((a, b) => a - b);
  checkRank('sum', x.shape);
  const st = stridesOf(x.shape);
  const [keptShape, keptStrides] = mergedDims(x.shape, st, x.shape.map((_, i) => i).filter((i) => !axes.includes(i)));
  const [redShape, redStrides] = mergedDims(x.shape, st, axes);
  const uniform = REDUCE_PARAMS.pack({
    outCount: n.size, redCount: sizeOf(redShape), keptRank: keptShape.length, redRank: redShape.length, keptShape, keptStrides, redShape, redStrides,
  });
  // Many outputs: one invocation per output, summing serially, with no barriers (on CPU drivers each barrier is a
  // context switch); four adjacent ones per invocation where the innermost kept dim is contiguous and holds a
  // multiple of 4 (then so do the reduced dims' strides). Few outputs, long reductions: one workgroup per output,
  // reducing in workgroup memory.
  const serial = n.size >= 64;
  const k = keptShape.length - 1, vec4 = serial && keptStrides[k] === 1 && keptShape[k] % 4 === 0;
  return {
    shader: 'reduce',
    defines: { SERIAL: serial, VEC4: vec4 },
    uniform,
    bindings: [x, n],
    workgroupSize: [REDUCE_WG],
    constants: { WG: REDUCE_WG },
    workgroups: grid('sum', serial ? Math.ceil(n.size / (vec4 ? 4 : 1) / REDUCE_WG) : n.size),
  };
}

/**
 * GEMM tiling: TS x TS invocations per workgroup, each computing an 8x8 block (`large`, tile 128) or a 4x4 block
 * (`small`, tile 32); K staged TK deep. Measured on lavapipe: 1024³ with 8x8 blocks at 16/16 3.78 GFLOP/s (16/32 3.75,
 * 16/8 3.56, 8/32 3.38; 4x4 blocks at best 2.0). Outputs of a few dozen rows or columns (conv layers, small batches)
 * leave most of a 128 tile idle: below `smallBelow` in either dimension the 4x4 kernel with 32 tiles is used.
 * 16/16 with 8x8 uses exactly WebGPU's default 16 KiB of workgroup memory, so both variants run on every adapter.
 */
export const gemmTiles = { large: { TS: 16, TK: 16 }, small: { TS: 8, TK: 32 }, smallBelow: 64 };

/**
 * The tile for an M x N output: 8x8 blocks on 16x16 invocations (128x128 tiles) when both dims are large; for a long,
 * skinny output (a conv layer's [channels, batch·pixels]) 8x8 blocks on a grid shrunk along the skinny dim (16 to 64
 * rows); otherwise 4x4 blocks on 32x32 tiles. Few distinct tiles keep the number of pipelines, and so first-step
 * compile time (long on SwiftShader), low.
 */
export function gemmTile(M: number, N: number): { R: number; TSX: number; TSY: number; TK: number } {
  const { large, small, smallBelow } = gemmTiles;
  const lo = Math.min(M, N), hi = Math.max(M, N);
  if (lo >= smallBelow) return { R: 8, TSX: large.TS, TSY: large.TS, TK: large.TK };
  if (hi >= 1024 && lo >= 16) {
    const thin = lo <= 16 ? 2 : lo <= 32 ? 4 : 8;
    return M < N ? { R: 8, TSX: large.TS, TSY: thin, TK: large.TK } : { R: 8, TSX: thin, TSY: large.TS, TK: large.TK };
  }
  return { R: 4, TSX: small.TS, TSY: small.TS, TK: small.TK };
}

/**
 * A 2-D matmul with its epilogue (src/schedule/fuse.ts): act(A·B + bias), or an activation's gradient act'(H) ∘ (A·B),
 * stored into `out`, the group's last node (through a reshape of the product, the same flat order).
 */
function matmulEpilogue(m: Node<'matmul'>, g: Fused, out: Tensor, gemm: GemmKernel, variant?: GemmVariant): Launch {
  const act = g.nodes[2];
  const launch = matmul(m, gemm, variant);
  if (isOp(out, 'relu_grad') || isOp(out, 'sigmoid_grad') || isOp(out, 'tanh_grad') || isOp(out, 'gelu_grad')) {
    return { ...launch, defines: { ...launch.defines, EPILOGUE_GRAD: true }, constants: { ...launch.constants, ACT_GRAD: codeOf(out) }, bindings: [launch.bindings[0], launch.bindings[1], out, g.inputs[2]] };
  }
  return {
    ...launch,
    defines: { ...launch.defines, EPILOGUE: true },
    constants: { ...launch.constants, ACT: act && isUnary(act) ? codeOf(act) : 0 },
    bindings: [launch.bindings[0], launch.bindings[1], out, g.inputs[2]],
  };
}


/** A product's kernel and tile: what the rule below or the autotuner (gemm_variants.ts, autotune.ts) chooses. */
export type GemmVariant =
  /** Operands packed into panels, then shaders/matmul_packed.wgsl (64 or 128 x 64 tiles). */
  | { kernel: 'packed' }
  /** shaders/matmul_subgroup.wgsl: 16 or 32 rows (rows16), 32 or 64 columns (wide) a workgroup. */
  | { kernel: 'subgroup'; rows16: boolean; wide: boolean }
  /** shaders/matmul.wgsl: TSX x TSY invocations, R x R outputs each, K staged TK deep. */
  | { kernel: 'tiled'; R: number; TSX: number; TSY: number; TK: number };

/**
 * The hand-written rule for a product's kernel and tile on the backend's GEMM kernel family: what runs when autotuning
 * is off or has not measured this shape class (src/backends/webgpu/autotune.ts).
 */
export function ruleGemmVariant(gemm: GemmKernel, M: number, N: number, K: number, batch: number, transB: boolean): GemmVariant {
  if ((gemm === 'packed' || (gemm === 'subgroup' && packedGemm(M, N, K, transB))) && panelsFit(M, N, K, batch)) return { kernel: 'packed' };
  if (gemm !== 'tiled') { const { rows16, wide } = subgroupTile(M, N); return { kernel: 'subgroup', rows16, wide }; }
  return { kernel: 'tiled', ...gemmTile(M, N) };
}

/** The sizes of a matmul node: C [batch,] M x N with reduction K. */
export function gemmDims(n: Node<'matmul'>): { M: number; N: number; K: number; batch: number; transA: boolean; transB: boolean } {
  const { transA, transB } = n.attrs;
  const r = n.rank;
  return { M: n.shape[r - 2], N: n.shape[r - 1], K: transA ? n.inputs[0].shape[r - 2] : n.inputs[0].shape[r - 1], batch: r === 3 ? n.shape[0] : 1, transA, transB };
}

/** `variant`: a tuned choice (checked by the tuner to be valid for these sizes); the rule's otherwise. */
function matmul(n: Node<'matmul'>, gemm: GemmKernel, variant?: GemmVariant): Launch {
  const { M, N, K, batch, transA, transB } = gemmDims(n);
  const v = variant ?? ruleGemmVariant(gemm, M, N, K, batch, transB);
  if (v.kernel === 'packed' && panelsFit(M, N, K, batch)) return packedMatmul(n, M, N, K, batch, transA, transB);
  // The tile (TM x TN outputs a workgroup) and the specialisation of the chosen kernel; packed panels over the
  // scratch textures' capacity run on the subgroup kernel.
  let tile: { TM: number; TN: number }, shader: ShaderName, defines: Record<string, boolean>, constants: Record<string, number>;
  const subgroup = v.kernel !== 'tiled';
  if (v.kernel !== 'tiled') {
    const { rows16, wide } = v.kernel === 'subgroup' ? v : subgroupTile(M, N);
    [tile, shader] = [{ TM: rows16 ? 16 : 32, TN: wide ? 64 : 32 }, 'matmul_subgroup'];
    const k4 = subgroupK4(K);
    defines = { ...SUBGROUP_PLAIN, EPILOGUE: false, EPILOGUE_GRAD: false, ROWS16: rows16, WIDE: wide, VEC_B: !transB && N % 4 === 0, K4: k4, VEC_A: k4 && !transA && K % 4 === 0, VEC_AT: k4 && transA && !rows16 && M % 4 === 0, VEC_BT: GEMM_SWITCHES.vecBT && k4 && transB && K % 4 === 0, STORE_V4: GEMM_SWITCHES.storeV4 && N % 4 === 0 };
    constants = { TRANS_A: +transA, TRANS_B: +transB };
  } else {
    const { R, TSX, TSY, TK } = v;
    [tile, shader] = [{ TM: R * TSY, TN: R * TSX }, 'matmul'];
    defines = { BLOCK8: R === 8, EPILOGUE: false, EPILOGUE_GRAD: false };
    constants = { TRANS_A: +transA, TRANS_B: +transB, TSX, TSY, TK };
  }
  const wg: [number, number, number] = [Math.ceil(N / tile.TN), Math.ceil(M / tile.TM), batch];
  checkGrid(n, wg);
  const groups = subgroup ? (tile.TM / 8) * (tile.TN / 32) : 0; // matmul_subgroup's accumulator blocks
  // The subgroup kernels run one 8-lane subgroup per workgroup (their @workgroup_size(8) is the algorithm's); the tiled
  // one runs TSX x TSY invocations, its tile constants.
  const workgroupSize: [number, number] = subgroup ? [8, 1] : [constants.TSX, constants.TSY];
  return { shader, defines, constants, uniform: subgroup ? UNIFORMS.matmul_subgroup_dims.pack({ M, N, K, batch, groups }) : UNIFORMS.matmul_dims.pack({ M, N, K, batch }), bindings: [n.inputs[0], n.inputs[1], n], workgroupSize, workgroups: wg };
}

function checkGrid(n: Tensor, wg: number[]) {
  if (wg.some((g) => g > MAX_GRID)) throw new ShapeError('matmul', `output ${fmt(n.shape)} needs a ${wg.join('x')} grid, over the ${MAX_GRID} per dimension a dispatch allows`);
}

/**
 * Whether a product runs on the packed kernel (shaders/matmul_packed.wgsl, 64 or 128 x 64 tiles) rather than
 * matmul_subgroup.wgsl under 'subgroup': none does. Packing paid while the subgroup kernel took one k a step (1024^3
 * 20.9 GFLOP/s against 14.6; a conv layer's 64 x 576 A·Bᵀ with K 32768 7.9 against 5.5); with four k a step
 * (subgroupK4) the subgroup kernel is ahead on every product that rule packed. Measured on lavapipe (2 cores, shared),
 * bench/gemm_shapes.ts, one process, the two paths interleaved, best of 5, GFLOP per CPU-second (packed -> subgroup):
 * 1024^3 21.1 -> 27.0, Aᵀ·B 21.2 -> 27.0, A·Bᵀ 22.2 -> 23.9; 512^3 19.4 -> 27.1; 384^3 18.2 -> 27.6; 256 x 256 with
 * K 8192 14.2 -> 26.1; 64 x 576 A·Bᵀ with K 32768 11.2 -> 21.7; 128 x 1024 x 1024 A·Bᵀ 16.1 -> 23.9. The packed
 * kernel stays for gemm 'packed' (every product, to test and measure it) and for a tuner to choose.
 */
export function packedGemm(_M: number, _N: number, _K: number, _transB: boolean): boolean {
  return false;
}

const packedTile = (M: number) => (M >= 256 ? 128 : 64);

/** Whether both packed operands fit a scratch texture (PANEL_TEXTURE_TEXELS vec4s, 512 MB); else no packing. */
export function panelsFit(M: number, N: number, K: number, batch: number): boolean {
  const TM = packedTile(M), KP = Math.ceil(K / 4) * 4;
  return Math.max(Math.ceil(M / TM) * TM, Math.ceil(N / 64) * 64) / 4 * KP * batch <= PANEL_TEXTURE_TEXELS;
}

/**
 * matmul on packed panels: pack op(A) and op(B) into scratch slots 0 and 1, then the TM x 64-tile kernel. TM is 128
 * where M has 256 rows or more (1024^3: 21.5 GFLOP/s against 18.2-19.4 at 64 rows, kernel alone), else 64, so that a
 * conv layer's 64-channel weight gradient does not run half-empty tiles.
 */
function packedMatmul(n: Tensor, M: number, N: number, K: number, batch: number, transA: boolean, transB: boolean): Launch {
  const TM = packedTile(M), KP = Math.ceil(K / 4) * 4;
  const MT = Math.ceil(M / TM), NT = Math.ceil(N / 64);
  const a: Scratch = { scratch: 0, bytes: batch * MT * KP * TM * 4, texture: true };
  const b: Scratch = { scratch: 1, bytes: batch * NT * KP * 64 * 4, texture: true };
  const pack = (x: Tensor, to: Scratch, R: number, width: number, tiles: number, packB: boolean, kMajor: boolean): Launch => {
    const wg: [number, number, number] = [KP / 4, tiles, batch];
    checkGrid(n, wg);
    return {
      shader: 'gemm_pack',
      constants: { KMAJOR: +kMajor, PACK_B: +packB, VECS: width / 4, TEXW: PANEL_TEXTURE_WIDTH },
      uniform: UNIFORMS.gemm_pack_dims.pack({ R, K, tiles, batch, KP }),
      bindings: [x, to],
      workgroupSize: [width / 4, 4], // VECS x 4 (shaders/gemm_pack.wgsl)
      workgroups: wg,
    };
  };
  const wg: [number, number, number] = [NT, MT, batch];
  checkGrid(n, wg);
  return {
    shader: 'matmul_packed',
    defines: { EPILOGUE: false, EPILOGUE_GRAD: false, ROWS128: TM === 128 },
    constants: { TEXW: PANEL_TEXTURE_WIDTH },
    uniform: UNIFORMS.matmul_packed_dims.pack({ M, N, K: KP, batch, MT, NT, groups: TM / 4 }),
    bindings: [a, b, n],
    workgroupSize: [8], // one 8-lane subgroup (shaders/matmul_packed.wgsl)
    workgroups: wg,
    before: [pack(n.inputs[0], a, M, TM, MT, false, transA), pack(n.inputs[1], b, N, 64, NT, true, !transB)],
  };
}

function softmaxXent(n: Node<'softmax_xent' | 'softmax_xent_grad'>, grad: boolean): Launch {
  const [B, C] = n.inputs[0].shape;
  return {
    shader: 'softmax_xent',
    defines: { GRAD: grad },
    uniform: UNIFORMS.softmax_xent_dims.pack({ B, C, ignore: n.attrs.ignore ?? 0, hasIgnore: +(n.attrs.ignore !== undefined) }),
    bindings: [...n.inputs, n],
    ...spread(n.op, B, 64),
  };
}

/**
 * The registry: op name → how to launch it. Core ops are here; op families (conv, pooling, normalisation, ...)
 * add their entries from their own files in this folder.
 */
const KERNELS = {
  ...CONV_WEBGPU_KERNELS,
  ...ACTIVATION_WEBGPU_KERNELS,
  ...SHAPE_OPS_WEBGPU_KERNELS,
  ...NORM_WEBGPU_KERNELS,
  ...OPTIM_WEBGPU_KERNELS,
  ...ATTENTION_WEBGPU_KERNELS,
  ...each(UNARY_OPS, (): WebGpuKernel<UnaryOp> => (n) => elementwise(n, [broadcastStrides(n.inputs[0].shape, n.shape)], codeOf(n), n.attrs.alpha ?? 0)),
  ...each(BINARY_OPS, (): WebGpuKernel<BinaryOp> => (n) => elementwise(n, n.inputs.map((x) => broadcastStrides(x.shape, n.shape)), codeOf(n), n.attrs.alpha ?? 0)),
  transpose: (n) => elementwise(n, [permutedStrides(n.inputs[0].shape, n.attrs.perm)], UNARY.identity.code, 0),
  sum: reduce,
  matmul: (n) => matmul(n, 'tiled'),
  softmax_xent: (n) => softmaxXent(n, false),
  softmax_xent_grad: (n) => softmaxXent(n, true),
} satisfies { [O in KernelOp]: WebGpuKernel<O> };

/** Every launch, by op (all but NO_KERNEL, or typecheck fails). Widened once here: a launch only gets nodes of its op. */
export const WEBGPU_KERNELS = KERNELS as unknown as Readonly<Partial<Record<OpName, (n: Tensor) => Launch>>>;

/** The fused kernels of composites (FUSED_COMPOSITES in src/schedule/fuse.ts), by kernel name. */
const FUSED_LAUNCHES = { ...NORM_FUSED_LAUNCHES, ...ATTENTION_FUSED_LAUNCHES, ...CONV_FUSED_LAUNCHES } satisfies Record<FusedKernel, (n: Tensor, g: Fused, gemm: GemmKernel) => Launch>;

/**
 * A fused group (src/schedule/fuse.ts) as one elementwise launch: its first elementwise op reads each input either
 * through broadcast strides or, where a transpose was folded in, through the transpose's permuted strides; a second,
 * unary op (CHAIN) is applied before the store. `n` is the group's last node, whose buffer receives the result.
 */
export function fusedLaunch(n: Tensor, g: Fused, gemm: GemmKernel = 'tiled', variant?: GemmVariant): Launch {
  if (g.pattern) {
    return FUSED_LAUNCHES[g.pattern.kernel](n, g, gemm);
  }
  const head = g.nodes[0];
  if (isOp(head, 'matmul')) return matmulEpilogue(head, g, n, gemm, variant);
  if (isOp(head, 'maxpool_grad')) return maxPoolReluGrad(n, head);
  if (isOp(head, 'log_softmax')) return logSoftmaxRowMax(n, head);
  // A sum over the whole chain (and a constant factor after it, a mean's 1/n): the chain's last op is the value
  // summed; a bare sum reads its input through the identity.
  const s = g.nodes.find((t) => isOp(t, 'sum'));
  const factor = s && n !== s ? n : undefined;
  const [first, ...chain] = g.nodes.filter((t) => (isUnary(t) || isBinary(t)) && t !== factor) as Node<UnaryOp | BinaryOp>[];
  // A sum of each row (s has several values) adds the map's elements in runs of rowLen.
  const sum = s && { scale: factor ? constValue(factor.inputs.find((x) => x !== s)!) : 1, ...(s.size > 1 ? { rowLen: s.inputs[0].size / s.size } : {}) };
  const linkOf = (t: Node<UnaryOp | BinaryOp>, prev: Tensor): Link => {
    const alpha = t.attrs.alpha ?? 0;
    if (isUnary(t)) return { code: codeOf(t), form: 0, alpha, c: 0 };
    const form = t.inputs[0] === prev ? 1 : 2;
    return { code: codeOf(t), form, alpha, c: constValue(t.inputs[form === 1 ? 1 : 0]) };
  };
  const links = chain.map((t, k) => linkOf(t, k ? chain[k - 1] : first));
  if (!first) {
    const x = s!.inputs[0];
    const launch = elementwise(x, [stridesOf(x.shape)], UNARY.identity.code, 0, [], [x], sum);
    return { ...launch, bindings: [x, n] };
  }
  const strides = first.inputs.map((x) => isOp(x, 'transpose') && g.nodes.includes(x)
    ? permutedStrides(x.inputs[0].shape, x.attrs.perm)
    : broadcastStrides(x.shape, first.shape));
  const launch = elementwise(first, strides, codeOf(first), first.attrs.alpha ?? 0, links, g.inputs, sum);
  return { ...launch, bindings: [...g.inputs, n] };
}

/** The value of a constant a fused chain reads (a const node, or a view of one). */
function constValue(t: Tensor): number {
  while (isView(t)) t = t.inputs[0];
  if (!isOp(t, 'const')) throw new Error(`webgpu: a fused chain reads ${t} as a constant`);
  return t.attrs.value;
}

/** The launch for node `n`; matmuls run on the backend's GEMM kernel (`gemm`), in `variant` where one was tuned. */
export function launchFor(n: Tensor, gemm: GemmKernel = 'tiled', variant?: GemmVariant): Launch {
  if (isOp(n, 'matmul')) return matmul(n, gemm, variant);
  const k = WEBGPU_KERNELS[n.op];
  if (!k) throw new Error(`webgpu backend: no kernel for op '${n.op}' (node ${n})`);
  return k(n);
}
