// Convolution and pooling over NCHW images: graph builders, and the window geometry both backends share.
//
// conv2d is a composite, so it needs no kernel of its own: im2col lays every receptive field out as a column,
// a batched GEMM (the existing matmul) multiplies the [O, C·KH·KW] weight matrix into each image's columns, and a
// reshape gives [N, O, OH, OW]. The only new differentiable op is im2col, whose adjoint col2im (a scatter-add of
// the columns back onto the image) is its gradient, and vice versa. Pooling has its own forward and backward ops.
import { Tensor } from './tensor.js';
import type { Window, ColLayout } from './attrs.js';

export type { Window, ColLayout };
import { Shape, ShapeError, fmt } from './shape.js';
import { node, needF32, reshape, broadcastTo, matmul, add, transpose } from './ops.js';
import { composite, CompositeSpec } from './composite.js';

export type Pair = number | readonly [number, number];


/** A window placed on an input: every size a kernel needs. */
export interface Geom extends Window { N: number; C: number; H: number; W: number; OH: number; OW: number }

export interface ConvOpts { stride?: Pair; padding?: Pair; dilation?: Pair }
export interface PoolOpts { stride?: Pair; padding?: Pair }
export interface AvgPoolOpts extends PoolOpts {
  /** Divide by the full window (padding counted as zeros) rather than by its in-image part. PyTorch's default: true. */
  countIncludePad?: boolean;
}

function pair(op: string, what: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || p.some((d) => !Number.isInteger(d) || d < min)) {
    throw new ShapeError(op, `${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Output size of one spatial dim (PyTorch's formula, floor mode). */
export const outSize = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

/** Place `win` on an NCHW input of shape `x`, checking that at least one window fits. */
export function geometry(op: string, x: Shape, win: Window): Geom {
  if (x.length !== 4) throw new ShapeError(op, `expected an NCHW input of rank 4, got ${fmt(x)}`);
  const [N, C, H, W] = x;
  const OH = outSize(H, win.kh, win.sh, win.ph, win.dh), OW = outSize(W, win.kw, win.sw, win.pw, win.dw);
  if (OH < 1 || OW < 1) {
    const eh = win.dh * (win.kh - 1) + 1, ew = win.dw * (win.kw - 1) + 1;
    throw new ShapeError(op, `the ${eh}x${ew} window (kernel ${win.kh}x${win.kw}, dilation ${win.dh}x${win.dw}) is larger than the padded input ` +
      `${H + 2 * win.ph}x${W + 2 * win.pw} of ${fmt(x)} (padding ${win.ph}x${win.pw}; expected a window no larger than the padded input)`);
  }
  return { N, C, H, W, OH, OW, ...win };
}

function windowOf(op: string, kernel: Pair, o: ConvOpts, defaultStride: Pair): Window {
  const [kh, kw] = pair(op, 'kernel size', kernel, 1);
  const [sh, sw] = pair(op, 'stride', o.stride ?? defaultStride, 1);
  const [ph, pw] = pair(op, 'padding', o.padding ?? 0, 0);
  const [dh, dw] = pair(op, 'dilation', o.dilation ?? 1, 1);
  return { kh, kw, sh, sw, ph, pw, dh, dw };
}

/** The ops that carry a window. */
export type WindowOp = 'im2col' | 'col2im' | 'maxpool' | 'maxpool_grad' | 'avgpool' | 'avgpool_grad';


function colShape(g: Geom, layout: ColLayout): number[] {
  const ck = g.C * g.kh * g.kw, p = g.OH * g.OW;
  return layout === 'image' ? [g.N, ck, p] : [ck, g.N, p];
}

/** x [N,C,H,W] -> columns [N, C·KH·KW, OH·OW]: column (oh, ow) of image n holds the receptive field of output (oh, ow). */
export function im2col(x: Tensor, kernel: Pair, o: ConvOpts = {}): Tensor {
  needF32('im2col', x);
  return im2colWin(x, windowOf('im2col', kernel, o, 1));
}

export function im2colWin(x: Tensor, win: Window, layout: ColLayout = 'image'): Tensor {
  const g = geometry('im2col', x.shape, win);
  return node('im2col', [x], colShape(g, layout), 'f32', { win, layout });
}

/** The adjoint of im2col: add every column entry back onto the input pixel it was read from. */
export function col2im(cols: Tensor, xShape: Shape, win: Window, layout: ColLayout = 'image'): Tensor {
  needF32('col2im', cols);
  const g = geometry('col2im', xShape, win);
  const want = colShape(g, layout);
  if (fmt(cols.shape) !== fmt(want)) throw new ShapeError('col2im', `columns ${fmt(cols.shape)} do not match image ${fmt(xShape)} with this window (expected ${fmt(want)})`);
  return node('col2im', [cols], [...xShape], 'f32', { win, layout });
}

/**
 * 2-D convolution (cross-correlation, as in PyTorch) of x [N,C,H,W] with weights w [O,C,KH,KW] -> [N,O,OH,OW], plus
 * a per-channel `bias` [O] where given. It is a composite: im2col, then the batch folded into the GEMM's columns,
 * [O, C·KH·KW] x [C·KH·KW, N·OH·OW], one transpose to NCHW and the bias add (conv2dBias). One large GEMM beats N small
 * ones, and the weight gradient becomes a single GEMM whose reduction runs over the whole batch; a per-image (batched)
 * GEMM needed the weights materialised N times and an N-way sum of weight gradients. The bias belongs to the region
 * so that the WebGPU backend's implicit-GEMM kernels (shaders/conv_gemm.wgsl) can replace all of it, bias and the
 * activation after it included; the CPU reference runs these nodes, so they are what the kernels are checked against.
 */
export function conv2d(x: Tensor, w: Tensor, o: ConvOpts = {}, bias?: Tensor): Tensor {
  needF32('conv2d', x, w);
  if (x.rank !== 4 || w.rank !== 4) {
    throw new ShapeError('conv2d', `expected input [N,C,H,W] and weights [O,C,KH,KW], got ${fmt(x.shape)} and ${fmt(w.shape)}`);
  }
  const [N, C] = x.shape, [O, Cw, KH, KW] = w.shape;
  if (C !== Cw) throw new ShapeError('conv2d', `input ${fmt(x.shape)} has ${C} channels but weights ${fmt(w.shape)} expect ${Cw} (dim 1 of both must match)`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== O)) throw new ShapeError('conv2d', `expected a bias [${O}] for weights ${fmt(w.shape)}, got ${fmt(bias.shape)}`);
  const win = windowOf('conv2d', [KH, KW], o, 1);
  const g = geometry('conv2d', x.shape, win);
  const CK = C * KH * KW;
  return composite('conv2d', bias ? [x, w, bias] : [x, w], { ...win, bias: +!!bias }, () => {
    const cols = reshape(im2colWin(x, win, 'channel'), [CK, N * g.OH * g.OW]);
    const y = matmul(reshape(w, [O, CK]), cols); // [O, N·OH·OW]
    const img = N === 1 ? reshape(y, [1, O, g.OH, g.OW]) : transpose(reshape(y, [O, N, g.OH, g.OW]), [1, 0, 2, 3]);
    return bias ? conv2dBias(img, bias) : img;
  });
}

export const CONV2D: CompositeSpec = {
  name: 'conv2d',
  examples: [
    { name: 'conv2d [2,3,7,6] w[5,3,3,3] pad 1 + bias', shapes: [[2, 3, 7, 6], [5, 3, 3, 3], [5]], f: (x, w, b) => conv2d(x, w, { padding: 1 }, b) },
    { name: 'conv2d [3,2,9,8] w[3,2,3,2] stride [2,3] pad [1,0] dilation [2,1]', shapes: [[3, 2, 9, 8], [3, 2, 3, 2]], f: (x, w) => conv2d(x, w, { stride: [2, 3], padding: [1, 0], dilation: [2, 1] }) },
    { name: 'conv2d [2,5,4,5] w[7,5,1,1] (1x1) + bias', shapes: [[2, 5, 4, 5], [7, 5, 1, 1], [7]], f: (x, w, b) => conv2d(x, w, {}, b) },
    { name: 'conv2d [1,3,6,5] w[2,3,4,3] stride 2 pad 2', shapes: [[1, 3, 6, 5], [2, 3, 4, 3]], f: (x, w) => conv2d(x, w, { stride: 2, padding: 2 }) },
  ],
  fuzz: {
    ok: (x) => x.rank === 4 && x.size <= 4096,
    make: (d, x) => {
      const [, C, H, W] = x.shape, ph = d.int(0, 1), pw = d.int(0, 1);
      const kh = d.int(1, Math.min(3, H + 2 * ph)), kw = d.int(1, Math.min(3, W + 2 * pw));
      // Dilation 2 only where the dilated window still fits the padded input.
      const dil = 2 * (Math.max(kh, kw) - 1) + 1 <= Math.min(H + 2 * ph, W + 2 * pw) ? d.pick([1, 1, 2]) : 1;
      const O = d.int(1, 5), o = { stride: [d.int(1, 2), d.int(1, 2)] as [number, number], padding: [ph, pw] as [number, number], dilation: dil };
      return conv2d(x, d.fresh([O, C, kh, kw], 1 / Math.sqrt(C * kh * kw)), o, d.pick([true, false]) ? d.fresh([O], 0.5) : undefined);
    },
  },
};

/**
 * Add a per-channel bias b [O] to a conv output y [N,O,OH,OW]. The bias is first broadcast to one image, [O,OH,OW]:
 * adding that to y repeats with a period, the elementwise kernel's fast path (one modulo per element), where adding
 * [O,1,1] directly takes the strided path (a division per dim). Its gradient likewise becomes two cheap sums (over
 * N with many outputs, then over OH·OW). On lavapipe, cnn at batch 64: bias add and gradient 178 -> ~40 ms a step.
 */
export function conv2dBias(y: Tensor, b: Tensor): Tensor {
  if (y.rank !== 4 || b.rank !== 1 || b.shape[0] !== y.shape[1]) {
    throw new ShapeError('conv2dBias', `expected a bias [${y.shape[1] ?? '?'}] for output ${fmt(y.shape)} (rank 4, NCHW), got ${fmt(b.shape)}`);
  }
  return add(y, broadcastTo(reshape(b, [b.shape[0], 1, 1]), y.shape.slice(1)));
}

function poolWindow(op: string, x: Tensor, kernel: Pair, o: PoolOpts): Window {
  needF32(op, x);
  const win = windowOf(op, kernel, { stride: o.stride, padding: o.padding }, kernel); // no dilation: the pool kernels assume none
  // PyTorch's rule: with at most half a kernel of padding, every window holds at least one real pixel.
  if (2 * win.ph > win.kh || 2 * win.pw > win.kw) {
    throw new ShapeError(op, `padding ${win.ph}x${win.pw} is more than half the ${win.kh}x${win.kw} kernel (expected padding <= kernel / 2)`);
  }
  geometry(op, x.shape, win);
  return win;
}

const pooled = (x: Shape, g: Geom) => [x[0], x[1], g.OH, g.OW];

/** Max over each window (padding never wins); the stride defaults to the kernel. The first maximum takes the gradient. */
export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOpts = {}): Tensor {
  const win = poolWindow('maxPool2d', x, kernel, o);
  return node('maxpool', [x], pooled(x.shape, geometry('maxPool2d', x.shape, win)), 'f32', { win });
}

/** Mean over each window; the stride defaults to the kernel. */
export function avgPool2d(x: Tensor, kernel: Pair, o: AvgPoolOpts = {}): Tensor {
  return avgPoolWin(x, poolWindow('avgPool2d', x, kernel, o), o.countIncludePad ?? true);
}

export const avgPoolWin = (x: Tensor, win: Window, countIncludePad: boolean) =>
  node('avgpool', [x], pooled(x.shape, geometry('avgPool2d', x.shape, win)), 'f32', { win, countIncludePad });

// Backward-only nodes, made by the gradient rules.

/** d maxpool / d x: each window's dy goes to the window's first maximum of x (recomputed, nothing saved). */
export const maxPoolGrad = (x: Tensor, dy: Tensor, win: Window) => node('maxpool_grad', [x, dy], x.shape, 'f32', { win });

/** d avgpool / d x: each window's dy, divided by the window's count, spread over the window. */
export const avgPoolGrad = (dy: Tensor, xShape: Shape, win: Window, countIncludePad: boolean) =>
  node('avgpool_grad', [dy], [...xShape], 'f32', { win, countIncludePad });

/** The divisor of an average over the window at (oh, ow): PyTorch's, padding counted or not. */
export function poolCount(g: Geom, oh: number, ow: number, countIncludePad: boolean): number {
  if (countIncludePad) return g.kh * g.kw;
  const h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  return (Math.min(h0 + g.kh, g.H) - Math.max(h0, 0)) * (Math.min(w0 + g.kw, g.W) - Math.max(w0, 0));
}

export interface ConvTransposeOpts extends ConvOpts {
  /** Extra rows and columns on the bottom and right of the output (each < stride or < dilation), to reach even sizes. */
  outputPadding?: Pair;
}

/**
 * Transposed convolution (PyTorch's conv_transpose2d) of x [N,C,H,W] with weights w [C,O,KH,KW] -> [N,O,OH,OW],
 * OH = (H-1)·stride - 2·padding + dilation·(KH-1) + outputPadding + 1. It is the adjoint of conv2d, so it is built from
 * conv2d's adjoint pieces: one GEMM wᵀ·x gives every output window's contributions as columns, [O·KH·KW, N·H·W], and
 * col2im adds each column onto the output pixels its window covers. Its gradients are then the GEMM's and im2col:
 * a transposed convolution's backward is an ordinary convolution, as it should be.
 */
export function convTranspose2d(x: Tensor, w: Tensor, o: ConvTransposeOpts = {}): Tensor {
  needF32('convTranspose2d', x, w);
  if (x.rank !== 4 || w.rank !== 4) {
    throw new ShapeError('convTranspose2d', `expected input [N,C,H,W] and weights [C,O,KH,KW], got ${fmt(x.shape)} and ${fmt(w.shape)}`);
  }
  const [N, C, H, W] = x.shape, [Cw, O, KH, KW] = w.shape;
  if (C !== Cw) throw new ShapeError('convTranspose2d', `input ${fmt(x.shape)} has ${C} channels but weights ${fmt(w.shape)} expect ${Cw} (dim 0 of the weights must match dim 1 of the input)`);
  const win = windowOf('convTranspose2d', [KH, KW], o, 1);
  const [oph, opw] = pair('convTranspose2d', 'output padding', o.outputPadding ?? 0, 0);
  if (oph >= Math.max(win.sh, win.dh) || opw >= Math.max(win.sw, win.dw)) {
    throw new ShapeError('convTranspose2d', `output padding ${oph}x${opw} must be smaller than the stride ${win.sh}x${win.sw} or the dilation ${win.dh}x${win.dw}`);
  }
  const OH = (H - 1) * win.sh - 2 * win.ph + win.dh * (KH - 1) + oph + 1;
  const OW = (W - 1) * win.sw - 2 * win.pw + win.dw * (KW - 1) + opw + 1;
  if (OH < 1 || OW < 1) throw new ShapeError('convTranspose2d', `input ${fmt(x.shape)} with kernel ${KH}x${KW}, stride ${win.sh}x${win.sw} and padding ${win.ph}x${win.pw} gives an empty ${OH}x${OW} output (expected padding small enough for at least one pixel)`);
  const out = [N, O, OH, OW];
  // conv2d of the output with this window has H x W positions, one per input pixel (the output padding is < stride).
  const g = geometry('convTranspose2d', out, win);
  if (g.OH !== H || g.OW !== W) throw new ShapeError('convTranspose2d', `internal: the ${OH}x${OW} output does not map back onto the ${H}x${W} input`);
  return composite('conv_transpose2d', [x, w], { ...win, oph, opw }, () => {
    const xs = reshape(N === 1 ? x : transpose(x, [1, 0, 2, 3]), [C, N * H * W]);
    const cols = matmul(reshape(w, [C, O * KH * KW]), xs, { transA: true }); // [O·KH·KW, N·H·W]
    return col2im(reshape(cols, [O * KH * KW, N, H * W]), out, win, 'channel');
  });
}

export const CONV_TRANSPOSE: CompositeSpec = {
  name: 'convTranspose2d',
  examples: [
    { name: 'convTranspose2d [2,3,5,4] w[3,2,3,3] stride 2 pad 1 outpad 1', shapes: [[2, 3, 5, 4], [3, 2, 3, 3]], f: (x, w) => convTranspose2d(x, w, { stride: 2, padding: 1, outputPadding: 1 }) },
    { name: 'convTranspose2d [1,2,3,3] w[2,3,2,3]', shapes: [[1, 2, 3, 3], [2, 3, 2, 3]], f: (x, w) => convTranspose2d(x, w) },
    { name: 'convTranspose2d [3,1,4,3] w[1,1,4,4] stride [2,3] dilation 2 outpad [1,0]', shapes: [[3, 1, 4, 3], [1, 1, 4, 4]], f: (x, w) => convTranspose2d(x, w, { stride: [2, 3], dilation: 2, outputPadding: [1, 0] }) },
  ],
  fuzz: {
    ok: (x) => x.rank === 4 && x.size <= 4096,
    make: (d, x) => {
      const s = d.int(1, 3), k = d.int(1, 4), p = d.int(0, Math.floor((k - 1) / 2)), op = d.int(0, s - 1);
      return convTranspose2d(x, d.fresh([x.shape[1], d.int(1, 3), k, k], 0.5), { stride: s, padding: p, outputPadding: op });
    },
  },
};
