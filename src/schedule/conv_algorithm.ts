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
 * The rule. The implicit input gradient runs every one of the KH·KW taps for every pixel, and with a stride only
 * 1/(SH·SW) of them land on an output: there the GEMM (reduction over O alone) and col2im do less work. Everything
 * else runs implicit (measured on lavapipe, cnn at batch 64: see the note in src/backends/webgpu/conv.ts).
 */
export function defaultConvRule(pass: ConvPass, s: ConvShape): ConvAlgorithm {
  if (pass === 'dx' && s.sh * s.sw > 1) return 'im2col';
  return 'implicit';
}

export type ConvAlgorithm = 'implicit' | 'im2col';
export type ConvRule = (pass: ConvPass, s: ConvShape) => ConvAlgorithm;
let rule: ConvRule = defaultConvRule;

/** The algorithm of one pass of a conv layer of these sizes, as plans compiled from now on choose it. */
export const convAlgorithm: ConvRule = (pass, s) => rule(pass, s);

/** Replace the rule (a test forcing one path); without an argument, restore the default. */
export function setConvRule(r?: ConvRule): void { rule = r ?? defaultConvRule; }

export const CONV_ALGORITHMS: readonly ConvAlgorithm[] = ['implicit', 'im2col'];

/**
 * `f()` (a plan being made) with `choose` deciding each pass: an autotuner's measurements, given the rule in force
 * to fall back on. Planning is synchronous, so nothing else plans while the rule is replaced.
 */
export function withConvChoices<T>(choose: (pass: ConvPass, s: ConvShape, rule: ConvRule) => ConvAlgorithm, f: () => T): T {
  const base = rule;
  rule = (pass, s) => choose(pass, s, base);
  try { return f(); } finally { rule = base; }
}
