// WebGPU launches for convolution and pooling, on 1-D grids; the backward ops gather, so none needs atomics.
// conv2d's three GEMMs run as implicit GEMMs (shaders/conv_gemm.wgsl, CONV_FUSED_LAUNCHES below) where
// src/schedule/conv_algorithm.ts says so, else as im2col/col2im around the core matmul kernel.
//
// Measured on lavapipe (2 cores, load average about 1), cnn at batch 64, per-kernel GPU time from `wgtrain profile`,
// im2col path -> implicit: conv2 forward im2col 6.3 + GEMM 13.9 ms -> 8.8 ms with bias and ReLU (36.6 GFLOP/s); conv2
// input gradient GEMM 14.7 + col2im 8.6 ms -> 10.3 ms; conv2 weight gradient GEMM 10.7 ms -> 9.7 ms (split k); the
// step 82.8 -> 47.7 ms, its buffer pool 76 -> 16 MB (no column matrices). Under heavy load (15-18) the same kernels
// measured 2-3x apart in either direction, so only same-run ratios mean anything. A strided input gradient stays
// GEMM + col2im: the implicit one visits every tap of which only 1/(SH·SW) land. Measured with four k a step (load
// average 2.6-3.3, one process, interleaved, best of 8), 3x3 stride 2 pad 1 at batch 64: [16,28,28] -> 32 channels,
// implicit dx 21.0 ms against GEMM 6.4 + col2im 5.0 + a transpose of dy 2.0 ms; [32,14,14] -> 64, 20.8 against
// 5.8 + 3.9 + 4.7. Unstrided, the cnn's layers stay implicit in every pass, conv1 (C = 1, K = 25) included: conv1
// forward 3.0 ms against im2col 1.8 + GEMM 2.3, its dw 2.2 against a GEMM of 3.4; conv2 dx 10.8 against GEMM 16.1 +
// col2im 9.8, forward 8.1-8.8 against im2col 7.1 + GEMM 9.8.
//
// Issue 23 (cnn step at batch 64 against PyTorch on the CPU), measured on lavapipe (2 cores shared with another
// helper's runs, load average 1.5-2.9), one process, the variants interleaved, median of 5-8 profiled steps, ms. SLIDE
// (a lane's columns adjacent pixels, one load of B per tap and row of k): conv2 dx 11.37 -> 7.80, forward 8.39 -> 7.24;
// its weights permuted for vec4 loads (PERMUTE_A) dx 8.39 -> 8.06, forward 8.09 -> 7.54; 16 columns a lane in 16-row
// tiles (X16) dx 8.21 -> 6.82. The bias gradients riding on the weight gradients (ONES) remove four reductions of
// 0.15-0.97 ms each for 0.2-0.3 ms more in the two dw kernels; dw split for 16 workgroups, not 64, conv2 dw 9.19 ->
// 8.78; QUAD pooling, conv1's pool backward 2.28 -> 1.82. Whole step (`wgtrain profile`, main d422c96 and this, one
// after the other) 40.6 -> 32.8 ms at load average 1.6, 33.3 -> 29.3 at 1.4; `bench train` medians 1561 -> 1840 and
// 1802 -> 2097 samples/s (bench/results/2026-12-07-train-cnn-rounds-lavapipe.json). Tried and slower: the sliding window as a
// private array indexed by the tap (dx 10.9 -> 12.0), eight rows of k a step (dx 7.96 -> 9.76, forward 7.55 -> 10.96),
// SLIDE on conv1 (five rows of k: 2.4 -> 3.2), narrow SLIDE tiles (dx 7.86 -> 9.06), 16 x 128 tiles for conv2's forward
// (M = 32: 12.9 -> 15.0 under load), a sliding dw (a lane's columns the taps of a window row, KW = 5 of 8 used: conv2
// dw 9.14 -> 9.90, conv1 2.15 -> 2.38), 32-wide dw tiles (8.03 -> 8.49), 32 x 128 SLIDE tiles for conv2's forward (6.67
// -> 7.41) and SLIDE's stores as vec2s (dx 7.21 -> 7.44, forward 6.78 -> 7.00). Later, under heavier load (3.3-4.4,
// where every kernel ran about 1.9x its quiet time; one process, interleaved, median of 8-10 rounds of 6 profiled
// steps, ms), none paid: dw asking for 16 / 8 / 4 workgroups, conv2 dw 15.12 / 14.83 / 14.60, conv1 dw 3.16 / 3.24
// / 3.21, the step 57.02 / 56.98 / 56.86 (noise); DW rows of 4 output columns (conv1; 2 for conv2) not 7, conv1 dw
// 3.34 -> 3.26, conv2 15.86 -> 15.73 (noise); conv1's forward in 32-wide tiles 4.34 -> 5.95; SLIDE on conv1 again,
// with the last step's rows past C·KH = 5 neither loaded nor multiplied (that step one k at a time): 4.41 -> 4.73
// (X16), 5.10 (4 columns a lane), 5.52 (8), where without the skip it was 4.31 -> 4.90; conv1's forward one k a step
// (K = 25: K4's last step has three unused k) 4.31 -> 4.24, and 4.47 -> 4.41 the other way round (noise).
//
// The window geometry is passed as pipeline override constants, not as a uniform: every kernel rebuilds its indices
// with divisions and remainders by these sizes, and a division by a constant compiles to a multiply and a shift
// where a division by a uniform stays a division (scalarised, lane by lane, on CPU drivers such as lavapipe). The
// price is one pipeline per layer shape. Measured on lavapipe, cnn at batch 64: col2im 80 -> 31 ms, max-pool
// backward 126 -> 64 ms; im2col 246 -> 34 ms with this and one invocation per output row (below).
import { Tensor } from '../../graph/tensor.js';
import { Geom, geometry } from '../../graph/conv.js';
import { isUnary, codeOf, type Node } from '../../graph/op_table.js';
import type { Fused, FusedKernel } from '../../schedule/fuse.js';
import type { ConvShape } from '../../schedule/conv_algorithm.js';
import type { GemmKernel } from './device.js';
import { Launch, Scratch, ShaderName, WebGpuKernels, grid, spread } from './launch.js';
import { UNIFORMS, REDUCE_PARAMS } from './contracts.js';

const WG = 256; // workgroup size of every conv and pooling kernel

const sizes = (g: Geom) => ({ H: g.H, W: g.W, OH: g.OH, OW: g.OW, KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw, PH: g.ph, PW: g.pw });

const layout = (n: Node<'im2col' | 'col2im'>, g: Geom) => ({ DH: g.dh, DW: g.dw, C: g.C, NB: g.N, CHANNEL_MAJOR: +(n.attrs.layout === 'channel') });

/** Launch `invocations` invocations of `shader`; the uniform holds the element count of `n`. */
function launch(n: Tensor, shader: ShaderName, invocations: number, constants: Record<string, number>, defines?: Record<string, boolean>): Launch {
  const size = spread(n.op, invocations, WG);
  return { shader, defines, ...size, constants: { ...constants, ...size.constants }, uniform: UNIFORMS.window_total.pack({ n: n.size }), bindings: [...n.inputs, n] };
}

/** Pooling: `image` is the NCHW side (the input of the forward, the output of the backward). */
function poolLaunch(n: Node<'maxpool' | 'maxpool_grad' | 'avgpool' | 'avgpool_grad'>, image: Tensor, max: boolean, backward: boolean, reluGrad = false): Launch {
  const g = geometry(n.op, image.shape, n.attrs.win);
  const constants = 'countIncludePad' in n.attrs ? { ...sizes(g), COUNT_PAD: +n.attrs.countIncludePad } : sizes(g);
  // Windows that tile the image: one invocation per cell of KH x KW pixels (see TILED in shaders/pool.wgsl).
  const tiled = max && backward && g.sh === g.kh && g.sw === g.kw && g.ph === 0 && g.pw === 0;
  // 2x2 windows tiling an image of even sides: one invocation per row of windows (PAIR in shaders/pool.wgsl).
  const pair = max && g.kh === 2 && g.kw === 2 && g.sh === 2 && g.sw === 2 && g.ph === 0 && g.pw === 0 && g.H % 2 === 0 && g.W % 2 === 0;
  const invocations = pair ? g.N * g.C * g.OH : tiled ? g.N * g.C * Math.ceil(g.H / g.kh) * Math.ceil(g.W / g.kw) : n.size;
  // Widths of whole fours: two windows a load (QUAD). Measured on lavapipe (load average 2.6-2.9, shared), cnn at
  // batch 64, one process, interleaved, median of 6, ms: conv1's pooling backward 2.28 -> 1.82, forward 0.97 -> 0.88.
  const quad = pair && g.W % 4 === 0;
  return { ...launch(n, 'pool', invocations, constants, { MAX: max, GRAD: backward, TILED: tiled, RELU_GRAD: reluGrad, PAIR: pair, QUAD: quad }), uniform: UNIFORMS.window_total.pack({ n: invocations }) };
}

export const CONV_WEBGPU_KERNELS = {
  im2col: (n) => {
    const g = geometry(n.op, n.inputs[0].shape, n.attrs.win);
    // One invocation per output row of OW entries: the index arithmetic is per row, the inner loop a strided copy.
    return launch(n, 'im2col', n.size / g.OW, { ...sizes(g), ...layout(n, g) });
  },
  col2im: (n) => {
    const g = geometry(n.op, n.shape, n.attrs.win);
    return launch(n, 'col2im', n.size, { ...sizes(g), ...layout(n, g) });
  },
  maxpool: (n) => poolLaunch(n, n.inputs[0], true, false),
  maxpool_grad: (n) => poolLaunch(n, n, true, true),
  avgpool: (n) => poolLaunch(n, n.inputs[0], false, false),
  avgpool_grad: (n) => poolLaunch(n, n, false, true),
} satisfies WebGpuKernels;

/**
 * relu_grad(y, maxpool_grad(y, dy)), one fused group (schedule/fuse.ts): the pooling backward with the ReLU's gradient
 * applied as it stores, reading [y, dy] into the group's last node.
 */
export function maxPoolReluGrad(n: Tensor, pool: Node<'maxpool_grad'>): Launch {
  return { ...poolLaunch(pool, pool, true, true, true), bindings: [...pool.inputs, n] };
}

/**
 * Whether the implicit kernels with subgroups take four k a step (K4 in shaders/conv_gemm.wgsl): the sums are added
 * in the same order, so the results are bit-identical to one k a step (test/conv.test.ts compares the two). Measured
 * on lavapipe (2 cores, shared with another process, load average 1.1-1.9), cnn at batch 64, `wgtrain profile`, one k
 * -> four k a step back to back: conv2 forward 32.0 -> 39.5 GFLOP/s, weight gradient 30.2 -> 35.0, input gradient
 * 27.5 -> 29.3, conv1 weight gradient 16.0 -> 18.3 (forward 13.7 -> 13.2, within noise); `bench train` best of three
 * alternating 811 -> 877 samples/s.
 */
let k4 = true;

/** Four k a step on (the default) or off, for plans compiled from now on: to compare the two. */
export function setConvK4(on = true): void { k4 = on; }

/**
 * Whether the forward and the input gradient slide a window along each row of k (SLIDE in shaders/conv_gemm.wgsl)
 * where the layer allows it: on by default; off, they take the K4 walk (bit-identical to one k a step).
 */
let slideOn = true;

/** SLIDE on (the default) or off, for plans compiled from now on: to compare the two. */
export function setConvSlide(on = true): void { slideOn = on; }

/** Split-k partials of the implicit weight gradient: a buffer slot (attention's stats share it; steps never overlap). */
const CONV_SCRATCH = 4;
/** Split-k partials of the bias gradient that rides on the weight gradient (attention's P shares the slot). */
const CONV_BIAS_SCRATCH = 5;
/** SLIDE's permuted copy of the weights (PERMUTE_A): a slot no other kernel uses. */
const CONV_A_SCRATCH = 7;

/** The launch summing `splits` partial products of `count` values each (`partial`, split z at z·count) into `out`. */
function sumSplits(partial: Scratch, out: Tensor, count: number, splits: number, before: Launch[]): Launch {
  const serial = count >= 64, vec4 = serial && count % 4 === 0; // four outputs an invocation (reduce.wgsl)
  return {
    shader: 'reduce',
    defines: { SERIAL: serial, VEC4: vec4 },
    uniform: REDUCE_PARAMS.pack({ outCount: count, redCount: splits, keptRank: 1, redRank: 1, keptShape: [count], keptStrides: [1], redShape: [splits], redStrides: [count] }),
    bindings: [partial, out],
    workgroupSize: [64],
    constants: { WG: 64 },
    workgroups: grid('conv2d', serial ? Math.ceil(count / (vec4 ? 4 : 1) / 64) : count),
    before,
  };
}

/**
 * An implicit-GEMM conv pass (shaders/conv_gemm.wgsl) computing an M x N product with reduction K into `out`, A and
 * B bound as the shader's mode reads them; `splits` > 1 (the weight gradient) writes partial products to scratch and
 * a reduce launch sums them into `out`. With `db` (DW only), a column of ones gives the bias gradient too, summed the
 * same way. The forward and the input gradient take SLIDE where the layer allows (below).
 */
function convGemm(pass: 'FWD' | 'DX' | 'DW', s: ConvShape, out: Tensor, a: Tensor, b: Tensor, gemm: GemmKernel, epilogue?: { bias?: Tensor; act: number }, db?: Tensor): Launch {
  // DW with db: one more column of B, of ones (ONES in the shader).
  const [M, N, K, PC] = pass === 'FWD' ? [s.O, s.N * s.OH * s.OW, s.C * s.kh * s.kw, s.OH * s.OW]
    : pass === 'DX' ? [s.C, s.N * s.H * s.W, s.O * s.kh * s.kw, s.H * s.W]
    : [s.O, s.C * s.kh * s.kw + (db ? 1 : 0), s.N * s.OH * s.OW, s.C * s.kh * s.kw];
  const rows16 = M <= 16, wide = N >= 64;
  const TM = rows16 ? 16 : 32, TN = wide ? 64 : 32;
  const tiles = Math.ceil(M / TM) * Math.ceil(N / TN);
  // Enough workgroups to keep every core busy, each reduction chunk still long enough to amortise its store. Measured
  // on lavapipe (2 cores, load average 2.4-2.7, shared), cnn at batch 64, one process, interleaved, median of 8, ms,
  // with 64 / 16 / 8 workgroups wanted: conv2 dw 9.19 / 8.78 / 8.47-8.42, conv1 dw 2.29 / 2.21 / 2.05-2.02 (the 8
  // and 16 pair in a run of their own); 16 leaves more for machines with more cores.
  const want = pass === 'DW' ? Math.max(1, Math.min(Math.ceil(16 / tiles), Math.floor(K / 512))) : 1;
  // The kernel walks k a row (INNER steps: the kernel width, or for DW an output row) at a time.
  const dwi = [8, 7, 6, 5, 4, 3, 2, 1].find((d) => s.OW % d === 0)!;
  const inner = pass === 'DW' ? dwi : s.kw;
  const kc = Math.ceil(K / want / inner) * inner, splits = Math.ceil(K / kc);
  const partial: Scratch = { scratch: CONV_SCRATCH, bytes: splits * M * PC * 4 }, dbPartial: Scratch = { scratch: CONV_BIAS_SCRATCH, bytes: splits * M * 4 };
  const bias = epilogue?.bias;
  // A read as vec4s (VEC_A): four k of a row of A are adjacent and aligned where K, each chunk and (DW: k runs over
  // dy's pixels image by image) an image's pixels are whole fours. kc stays as above, so the sums stay the same.
  // Measured on lavapipe (load average 2.4-3.2, shared), cnn's layers at batch 64, one process, the variants
  // interleaved, best of 15, ms: conv2 forward 8.13 -> 7.80-7.93, conv2 dw 8.78 -> 8.13, conv1 dw 1.97 -> 1.84.
  const vecA = gemm !== 'tiled' && k4 && K % 4 === 0 && (pass === 'FWD' || (pass === 'DW' && kc % 4 === 0 && (s.OH * s.OW) % 4 === 0));
  // The output stored as vec4s (VEC_Y) where an image's outputs are whole fours, in the forward only. Measured on
  // lavapipe (load average 3.3-3.8, shared), one process, interleaved, best of 15-25, ms: conv1 forward (K = 25, so
  // the store is a large share) 2.49 -> 2.16, conv2 forward 7.34-7.73 -> 7.21-7.60; but conv2 dx 9.77 -> 10.36-10.49
  // and dw 7.41-7.60 -> 8.13-8.32 in both orders, so not there.
  const vecY = pass === 'FWD' && PC % 4 === 0;
  // SLIDE: a lane's columns are adjacent pixels of a row, so the taps of a row of k share their loads of B (see the
  // shader). Unit column stride and dilation; four rows of k a step, so only where there are enough rows (C·KH or
  // O·KH) that the last step's unused ones are a small share: conv1 (C = 1, five rows) measured slower.
  // Each row of pixels is padded to whole blocks of a lane's 16 (X16), 8 (WIDE) or 4 columns, so the grid can outgrow
  // convFits'.
  const [RH, RW] = pass === 'FWD' ? [s.OH, s.OW] : [s.H, s.W];
  // 16-row tiles (M <= 16: conv2's input gradient) take 16 columns a lane (X16), as many accumulators as a 32 x 64
  // tile's, each window load and each A broadcast then feeding twice the columns.
  const x16 = rows16 && wide, RB = Math.ceil(RW / (x16 ? 16 : wide ? 8 : 4)), blocks = s.N * RH * RB;
  const slide = slideOn && gemm !== 'tiled' && k4 && pass !== 'DW' && s.sw === 1 && s.dw === 1 && K / s.kw >= 16 && Math.ceil(blocks / 8) <= 65535;
  if (slide) {
    const geo = { C: s.C, H: s.H, W: s.W, O: s.O, OH: s.OH, OW: s.OW, KH: s.kh, KW: s.kw, SH: s.sh, SW: s.sw, PH: s.ph, PW: s.pw, DH: s.dh, DW: s.dw, PC };
    const off = { SUBGROUP: false, K4: false, X16: false, SLIDE: false, PERMUTE_A: false, ONES: false, VEC_A: false, VEC_Y: false, DW: false, FWD: pass === 'FWD', DX: pass === 'DX', ROWS16: rows16, WIDE: wide, BIAS: false, EPILOGUE: false };
    // The weights permuted so that a step's four rows of k at one tap are one aligned vec4 (PERMUTE_A in the shader),
    // where the rows of k are whole fours.
    const permuted: Scratch = { scratch: CONV_A_SCRATCH, bytes: M * K * 4 }, vec = (K / s.kw) % 4 === 0;
    const permute: Launch = {
      shader: 'conv_gemm', defines: { ...off, PERMUTE_A: true }, constants: geo,
      uniform: UNIFORMS.conv_dims.pack({ M, N: 0, K, kc: K, groups: 0 }),
      bindings: [a, null, permuted], workgroupSize: [64], workgroups: grid('conv2d', Math.ceil(M * K / 64)),
    };
    return {
      shader: 'conv_gemm',
      defines: { ...off, SUBGROUP: true, K4: true, X16: x16, SLIDE: true, VEC_A: vec, BIAS: !!bias, EPILOGUE: !!epilogue?.act },
      constants: { ...geo, RH, RW, RB, ...(epilogue?.act ? { ACT: epilogue.act } : {}) },
      uniform: UNIFORMS.conv_dims.pack({ M, N: blocks, K, kc: K, groups: (TM / 8) * ((x16 ? 128 : TN) / 32) }),
      bindings: [vec ? permuted : a, b, out, ...(bias ? [bias] : [])],
      workgroupSize: [8],
      workgroups: [Math.ceil(blocks / 8), Math.ceil(M / TM), 1],
      ...(vec ? { before: [permute] } : {}),
    };
  }
  const main: Launch = {
    shader: 'conv_gemm',
    defines: { SUBGROUP: gemm !== 'tiled', K4: gemm !== 'tiled' && k4, X16: false, SLIDE: false, PERMUTE_A: false, ONES: !!db, VEC_A: vecA, FWD: pass === 'FWD', DX: pass === 'DX', DW: pass === 'DW', ROWS16: rows16, WIDE: wide, VEC_Y: vecY, BIAS: !!bias, EPILOGUE: !!epilogue?.act },
    constants: {
      C: s.C, H: s.H, W: s.W, O: s.O, OH: s.OH, OW: s.OW, KH: s.kh, KW: s.kw, SH: s.sh, SW: s.sw, PH: s.ph, PW: s.pw, DH: s.dh, DW: s.dw, PC,
      ...(pass === 'DW' ? { DWI: dwi } : {}),
      ...(epilogue?.act ? { ACT: epilogue.act } : {}),
    },
    uniform: UNIFORMS.conv_dims.pack({ M, N, K, kc, groups: (TM / 8) * (TN / 32) }),
    bindings: [a, b, splits > 1 ? partial : out, ...(bias ? [bias] : db ? [splits > 1 ? dbPartial : db] : [])],
    workgroupSize: [8],
    workgroups: [Math.ceil(N / TN), Math.ceil(M / TM), splits],
  };
  if (splits === 1) return main;
  if (db) return sumSplits(dbPartial, db, M, splits, [main, sumSplits(partial, out, M * PC, splits, [])]);
  return sumSplits(partial, out, M * PC, splits, [main]);
}

/**
 * The implicit-GEMM kernels of the conv2d composite (schedule/fuse.ts). Forward: inputs [x, w, bias?], the group's
 * last node the conv output or the activation after it. dx: [w, dy]; dw: [dy, x].
 */
export const CONV_FUSED_LAUNCHES = {
  conv2d: (n, g, gemm) => {
    const [x, w, bias] = g.inputs, act = g.nodes[g.nodes.length - 1];
    const s = { ...geometry('conv2d', x.shape, winOf(g)), O: w.shape[0] };
    const code = isUnary(act) ? codeOf(act) : 0; // an activation joined as the epilogue (schedule/fuse.ts)
    return convGemm('FWD', s, n, w, x, gemm, bias || code ? { bias, act: code } : undefined);
  },
  conv2d_dx: (n, g, gemm) => {
    const [w] = g.inputs;
    return convGemm('DX', { ...geometry('conv2d', n.shape, winOf(g)), O: w.shape[0] }, n, w, g.inputs[1], gemm);
  },
  conv2d_dw: (n, g, gemm) => {
    // With outputs (schedule/fuse.ts): [, dw, db], the bias gradient riding on the weight gradient's GEMM.
    const [dy, x] = g.inputs, dw = g.outputs?.[1] ?? n, db = g.outputs?.[2];
    return convGemm('DW', { ...geometry('conv2d', x.shape, winOf(g)), O: dw.shape[0] }, dw, dy, x, gemm, undefined, db);
  },
} satisfies Partial<Record<FusedKernel, (n: Tensor, g: Fused, gemm: GemmKernel) => Launch>>;

function winOf(g: Fused) {
  const a = g.pattern!.attrs;
  return { kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw, ph: a.ph, pw: a.pw, dh: a.dh, dw: a.dw };
}
