// Which algorithm each pass of a conv layer runs on: implicit GEMM (shaders/conv_gemm.wgsl, the windows gathered as
// the GEMM reads them) or im2col + the GEMM kernels (+ col2im). The one place this is decided, so that an autotuner
// can replace the rule by measurements.
import type { Region } from '../graph/composite.js';
import { Geom, geometry } from '../graph/conv.js';

export type ConvPass = 'forward' | 'dx' | 'dw';

/** A conv layer's sizes: the window on its input, and its output channels. */
export interface ConvShape extends Geom { O: number }

/** The sizes of a conv2d composite's region (inputs x, w[, bias]; attrs: the window). */
export function convShapeOf(r: Region): ConvShape {
  const [x, w] = r.inputs, a = r.attrs;
  const win = { kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw, ph: a.ph, pw: a.pw, dh: a.dh, dw: a.dw };
  return { ...geometry('conv2d', x.shape, win), O: w.shape[0] };
}

/** Grid limits of the implicit kernels: one workgroup per 8x32-or-wider output tile, at most 65535 along x and y. */
export function convFits(s: ConvShape): boolean {
  const cols = Math.max(s.N * s.OH * s.OW, s.N * s.H * s.W, s.C * s.kh * s.kw);
  return Math.ceil(cols / 32) <= 65535 && Math.ceil(Math.max(s.O, s.C) / 16) <= 65535;
}

/**
 * The rule. Measured on lavapipe (see the note in src/backends/webgpu/conv.ts): the implicit kernels win for every
 * pass of the cnn and resnet layers.
 */
export function convAlgorithm(pass: ConvPass, s: ConvShape): 'implicit' | 'im2col' {
  void pass; void s;
  return 'implicit';
}
