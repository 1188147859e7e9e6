// Reference kernels of the fused optimizer updates (src/graph/optim_ops.ts), written the way PyTorch's single-tensor
// implementations read. Each mutates the parameter and its state slots in place.
import type { Node } from '../../graph/op_table.js';
import { scaleCoefs, stepInputs, multiInputs, OptimAttrs, OptimRule, SgdCoefs, AdamCoefs, RmspropCoefs, AdagradCoefs, AdadeltaCoefs } from '../../graph/optim_ops.js';
import type { Arr, CpuKernels } from './loops.js';

function sgd([p, g, v]: Arr[], c: SgdCoefs): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + c.l2 * p[i];
    v[i] = c.momentum * v[i] + gi;
    p[i] -= c.lr * (c.nesterov ? gi + c.momentum * v[i] : v[i]);
  }
}

function adam([p, g, m, v]: Arr[], c: AdamCoefs): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + c.l2 * p[i];
    m[i] = c.beta1 * m[i] + c.beta1c * gi;
    v[i] = c.beta2 * v[i] + c.beta2c * gi * gi;
    const denom = Math.sqrt(v[i]) / c.sqrtBc2 + c.eps;
    p[i] = p[i] * c.decay - (c.gradCoef * gi + c.momCoef * m[i]) / denom;
  }
}

function rmsprop([p, g, sq, ...rest]: Arr[], c: RmspropCoefs, a: OptimAttrs): void {
  const avg = a.centered ? rest[0] : undefined, buf = a.momentum ? rest[a.centered ? 1 : 0] : undefined;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + c.l2 * p[i];
    sq[i] = c.alpha * sq[i] + c.alphac * gi * gi;
    let s = sq[i];
    if (avg) { avg[i] = c.alpha * avg[i] + c.alphac * gi; s -= avg[i] * avg[i]; }
    const d = Math.sqrt(s) + c.eps;
    if (buf) { buf[i] = c.momentum * buf[i] + gi / d; p[i] -= c.lr * buf[i]; } else p[i] -= (c.lr * gi) / d;
  }
}

function adagrad([p, g, sum]: Arr[], c: AdagradCoefs): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + c.l2 * p[i];
    sum[i] += gi * gi;
    p[i] -= (c.clr * gi) / (Math.sqrt(sum[i]) + c.eps);
  }
}

function adadelta([p, g, sq, acc]: Arr[], c: AdadeltaCoefs): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + c.l2 * p[i];
    sq[i] = c.rho * sq[i] + c.rhoc * gi * gi;
    const delta = (Math.sqrt(acc[i] + c.eps) / Math.sqrt(sq[i] + c.eps)) * gi;
    acc[i] = c.rho * acc[i] + c.rhoc * delta * delta;
    p[i] -= c.lr * delta;
  }
}

/** Each rule's reference update of one parameter [p, g, ...slots]; a rule missing here fails typecheck. */
const RULES: Record<OptimRule, (xs: Arr[], c: ReturnType<OptimAttrs['coefs']>, a: OptimAttrs) => void> = {
  sgd: (xs, c) => sgd(xs, c as SgdCoefs),
  adam: (xs, c) => adam(xs, c as AdamCoefs),
  rmsprop: (xs, c, a) => rmsprop(xs, c as RmspropCoefs, a),
  adagrad: (xs, c) => adagrad(xs, c as AdagradCoefs),
  adadelta: (xs, c) => adadelta(xs, c as AdadeltaCoefs),
};

/** The node's coefficients, times its `scales` input where it has one. */
const coefsOf = (a: OptimAttrs, scales?: Arr) => (scales ? scaleCoefs(a.rule, a.coefs(), scales) : a.coefs());

function optimStep(n: Node<'optim_step'>, xs: Arr[]): void {
  const a = n.attrs, { p, g, slots, skip, scales } = stepInputs({ inputs: xs, attrs: a });
  if (skip && skip[0] !== 0) return;
  RULES[a.rule]([p, g, ...slots], coefsOf(a, scales), a);
}

/**
 * Every parameter of the node in turn, each exactly as optim_step updates it; first the skip flag and the guard. The
 * node's inputs come as separate arrays here: the arena layout is for backends whose kernels share one buffer.
 */
function optimMulti(n: Node<'optim_multi'>, xs: Arr[]): void {
  const a = n.attrs, { ps, gs, slots, skip, guard, scales } = multiInputs({ inputs: xs, attrs: a });
  if (skip && skip[0] !== 0) return;
  if (guard && guard[0] === 0 && gs.some((g) => g.some((x) => !Number.isFinite(x)))) guard[0] = a.counter.step + 1;
  const c = coefsOf(a, scales);
  ps.forEach((p, k) => RULES[a.rule]([p, gs[k], ...slots.map((s) => s[k])], c, a));
}

export const OPTIM_CPU_KERNELS = { optim_step: optimStep, optim_multi: optimMulti } satisfies CpuKernels;
