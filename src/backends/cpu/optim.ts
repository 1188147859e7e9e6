// Reference kernels of the fused optimizer updates (src/graph/optim_ops.ts), written the way PyTorch's single-tensor
// implementations read. Each mutates the parameter and its state slots in place.
import type { Node } from '../../graph/op_table.js';
import { OptimAttrs, SgdCoefs, AdamCoefs, RmspropCoefs, AdagradCoefs, AdadeltaCoefs } from '../../graph/optim_ops.js';
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

function optimStep(n: Node<'optim_step'>, xs: Arr[]): void {
  const a = n.attrs, c = a.coefs();
  switch (a.rule) {
    case 'sgd': return sgd(xs, c as SgdCoefs);
    case 'adam': return adam(xs, c as AdamCoefs);
    case 'rmsprop': return rmsprop(xs, c as RmspropCoefs, a);
    case 'adagrad': return adagrad(xs, c as AdagradCoefs);
    case 'adadelta': return adadelta(xs, c as AdadeltaCoefs);
  }
}

export const OPTIM_CPU_KERNELS = { optim_step: optimStep } satisfies CpuKernels;
