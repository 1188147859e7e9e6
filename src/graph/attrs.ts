// The types of op attributes that are richer than numbers (a conv window, dropout's step counter, an optimizer
// rule's coefficients), in a file of their own: the op table (tensor.ts, OpAttrs) names them, and the builders that
// make those nodes (conv.ts, norm.ts, optim_ops.ts) use them, without either importing the other.

/** A sliding window over H and W: kernel, stride, padding (each side) and dilation. */
export interface Window { kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }

/**
 * Where im2col puts the batch. 'image': [N, C·KH·KW, OH·OW], one column matrix per image (PyTorch's unfold).
 * 'channel': [C·KH·KW, N, OH·OW], the batch folded into the columns, so one GEMM covers the whole batch.
 */
export type ColLayout = 'image' | 'channel';

/** The step counter a dropout node reads at run time; shared by the nodes of one Dropout module. */
export interface DropoutCounter { step: number }

// ---- the fused optimizer step (optim_ops.ts) ----

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
  /** The optimizer's step count, which the executor advances once per run after the update (Plan.counters). */
  counter?: { step: number };
  /** A scalar input after the slots: nonzero leaves the parameter and its slots as they were (a skipped step). */
  skip?: boolean;
  /**
   * The last input: multipliers of the rule's coefficients that depend on the count of steps taken (STEP_SCALED in
   * optim_ops.ts), computed on the device from a count that skipped steps do not advance (FusedOptimizer's clock).
   */
  scales?: boolean;
}


/**
 * One update of K parameters with a rule of `optim_step` (optim_ops.ts, optimMulti). Inputs: the K parameters, their K
 * gradients, each state slot's K variables (slot by slot), then `skip`, the guard's latch and `scales` when present. The
 * parameters, each slot and the gradients share one layout, `offsets`/`size` in floats.
 */
export interface OptimMultiAttrs extends OptimAttrs {
  count: number;
  offsets: readonly number[];
  size: number;
  skip: boolean;
  /**
   * The gradient guard's latch (a [1] variable, the last input): where it holds 0 and a gradient of this update holds a
   * NaN or an infinity, it becomes the step number t (counter.step + 1). A skipped step latches nothing.
   */
  guard: boolean;
  counter: { step: number };
}
