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

export type { OptimRule, SgdCoefs, AdamCoefs, RmspropCoefs, AdagradCoefs, AdadeltaCoefs, OptimAttrs } from './attrs.js';
import type { OptimAttrs } from './attrs.js';

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
