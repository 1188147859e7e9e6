// The fused optimizer update: one effect node per parameter, `optim_step`, that reads the gradient and rewrites the
// parameter and its state slots in place, in one pass. Five update rules cover the seven optimizers in src/optim:
//   sgd       SGD, with momentum, Nesterov and weight decay;
//   adam      Adam, AdamW and NAdam (they differ only in host-side coefficients, see AdamCoefs);
//   rmsprop   RMSprop, with its momentum buffer and centred average when those are on;
//   adagrad, adadelta.
// Coefficients that depend on the step (bias corrections, NAdam's momentum schedule) or on the learning rate are
// computed on the host by the `coefs` attribute, which both backends call at every run: a schedule or a step counter
// changes a uniform, never the pipeline. Decay rates come with their complements (beta1c = 1 − β1, ...) computed on
// the host in float64, as PyTorch passes `1 - beta2` from Python: in float32, 1 − 0.999 is off by 1.3e-5 relative.
import { Tensor } from './tensor.js';
import { ShapeError, fmt } from './shape.js';
import { node, needF32 } from './ops.js';

export type OptimRule = 'sgd' | 'adam' | 'rmsprop' | 'adagrad' | 'adadelta';

/** PyTorch's SGD: g' = g + l2·p; v = momentum·v + g'; p -= lr·(nesterov ? g' + momentum·v : v). nesterov is 0 or 1. */
export interface SgdCoefs { lr: number; momentum: number; l2: number; nesterov: number }

/**
 * p ← p·decay − (gradCoef·g' + momCoef·m) / (√v / sqrtBc2 + eps), with g' = g + l2·p, m and v the moving averages of
 * g' and g'². Adam: gradCoef 0, momCoef lr/(1−β1ᵗ). AdamW: l2 0, decay 1 − lr·wd. NAdam: both coefficients from
 * its momentum schedule.
 */
export interface AdamCoefs { beta1: number; beta1c: number; beta2: number; beta2c: number; eps: number; sqrtBc2: number; l2: number; decay: number; gradCoef: number; momCoef: number }
/** PyTorch's RMSprop; `momentum` is used only when the node has a momentum buffer. */
export interface RmspropCoefs { lr: number; alpha: number; alphac: number; eps: number; l2: number; momentum: number }
/** PyTorch's Adagrad; clr is the decayed learning rate lr / (1 + (t−1)·lr_decay). */
export interface AdagradCoefs { clr: number; eps: number; l2: number }
/** PyTorch's Adadelta. */
export interface AdadeltaCoefs { lr: number; rho: number; rhoc: number; eps: number; l2: number }

export interface OptimAttrs {
  rule: OptimRule;
  /** RMSprop only: which optional slots follow square_avg, in this order: grad_avg (centered), momentum_buffer. */
  centered?: boolean;
  momentum?: boolean;
  coefs: () => SgdCoefs | AdamCoefs | RmspropCoefs | AdagradCoefs | AdadeltaCoefs;
}

/** The state slots each rule binds after the parameter and the gradient, in binding order. */
export function slotNames(a: Pick<OptimAttrs, 'rule' | 'centered' | 'momentum'>): string[] {
  switch (a.rule) {
    // The velocity keeps the name SGD gave it when it had an op of its own, so checkpoints from then still load.
    case 'sgd': return ['momentum'];
    case 'adam': return ['exp_avg', 'exp_avg_sq'];
    case 'rmsprop': return ['square_avg', ...(a.centered ? ['grad_avg'] : []), ...(a.momentum ? ['momentum_buffer'] : [])];
    case 'adagrad': return ['sum'];
    case 'adadelta': return ['square_avg', 'acc_delta'];
  }
}

/** In-place update of parameter `p` and its state slots from gradient `g`; an effect node with no value. */
export function optimStep(p: Tensor, g: Tensor, slots: readonly Tensor[], attrs: OptimAttrs): Tensor {
  const op = `optimStep(${attrs.rule})`;
  const names = slotNames(attrs);
  if (slots.length !== names.length) throw new ShapeError(op, `got ${slots.length} state slots, expected ${names.length} (${names.join(', ')})`);
  needF32(op, p, g, ...slots);
  const named: [string, Tensor][] = [['gradient', g], ...slots.map((s, i): [string, Tensor] => [names[i], s])];
  for (const [name, t] of named) {
    if (fmt(t.shape) !== fmt(p.shape)) throw new ShapeError(op, `${name} ${fmt(t.shape)} does not match parameter ${fmt(p.shape)} (expected the same shape)`);
  }
  if (p.op !== 'param' || slots.some((s) => s.op !== 'param')) throw new ShapeError(op, 'the parameter and its state slots must be Variables (they are updated in place)');
  return node('optim_step', [p, g, ...slots], [], 'f32', { ...attrs });
}
