// Adaptive optimizers with PyTorch's semantics and defaults: Adam, AdamW, NAdam, RMSprop, Adagrad, Adadelta. Each
// update is one fused `optim_step` node per parameter (src/graph/optim_ops.ts). The step number t is the optimizer's
// own count (see FusedOptimizer in optimizer.ts), and every coefficient that depends on t or on lr is recomputed at
// each run, so neither recompiles anything.
import { AdamCoefs, RmspropCoefs, AdagradCoefs, AdadeltaCoefs } from '../graph/optim_ops.js';
import { FusedOptimizer, StepClock, check } from './optimizer.js';
import { Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';

const sqrt = (x: Tensor) => ops.unary('sqrt', x);
/** 1 − βᵗ one step on: (1 − βᵗ)·β + (1 − β), with the complement from float64 (see optim_ops.ts). */
const nextCorrection = (c: Tensor, beta: number) => ops.add(ops.mul(c, beta), 1 - beta);

const checkBeta = (kind: string, name: string, b: number) => check(kind, b >= 0 && b < 1, `${name} must be in [0, 1), got ${b}`);

export interface AdamOptions { lr?: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }
type AdamHyper = Required<AdamOptions>;

/** Adam (Kingma & Ba) with bias correction; weightDecay is an L2 term added to the gradient, as in torch.optim.Adam. */
export class Adam extends FusedOptimizer<AdamHyper> {
  constructor(o: AdamOptions = {}, kind = 'adam', defaultDecay = 0) {
    super(kind, { lr: o.lr ?? 1e-3, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? defaultDecay });
    checkBeta(kind, 'beta1', this.hyper.beta1);
    checkBeta(kind, 'beta2', this.hyper.beta2);
  }
  protected rule() { return { rule: 'adam' as const }; }
  protected coefs(): AdamCoefs {
    const { lr, beta1, beta2, eps, weightDecay } = this.hyper;
    return { beta1, beta1c: 1 - beta1, beta2, beta2c: 1 - beta2, eps, sqrtBc2: Math.sqrt(1 - beta2 ** this.t), l2: weightDecay, decay: 1, gradCoef: 0, momCoef: lr / (1 - beta1 ** this.t) };
  }
  /** t and the bias corrections 1 − β1ᵗ and 1 − β2ᵗ: momCoef = lr / (1 − β1ᵗ), sqrtBc2 = √(1 − β2ᵗ). */
  protected override clock(): StepClock {
    const { beta1, beta2 } = this.hyper;
    return {
      names: ['steps', 'bias_correction1', 'bias_correction2'],
      next: ([t, c1, c2]) => [ops.add(t, 1), nextCorrection(c1, beta1), nextCorrection(c2, beta2)],
      scales: ([, c1, c2]) => [ops.constant(1, [1]), ops.div(1, c1), sqrt(c2)],
      coefs: () => ({ ...this.coefs(), momCoef: this.hyper.lr, sqrtBc2: 1 }),
      at: (t) => [t, 1 - beta1 ** t, 1 - beta2 ** t],
    };
  }
}

/** AdamW (Loshchilov & Hutter): the weight decay shrinks the parameter by lr·wd directly; default wd 0.01 as PyTorch. */
export class AdamW extends Adam {
  constructor(o: AdamOptions = {}) { super(o, 'adamw', 1e-2); }
  protected override coefs(): AdamCoefs {
    return { ...super.coefs(), l2: 0, decay: 1 - this.hyper.lr * this.hyper.weightDecay };
  }
}

export interface NAdamOptions extends AdamOptions { momentumDecay?: number; decoupledWeightDecay?: boolean }

/**
 * torch.optim.NAdam (Dozat), with its momentum-decay schedule μ_t = β1·(1 − ½·0.96^(t·ψ)), ψ = momentumDecay (4e-3).
 * decoupledWeightDecay gives PyTorch's NAdamW-style decay instead of L2.
 */
export class NAdam extends FusedOptimizer<Required<NAdamOptions>> {
  private product = { t: 0, value: 1 };

  constructor(o: NAdamOptions = {}) {
    super('nadam', {
      lr: o.lr ?? 2e-3, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0,
      momentumDecay: o.momentumDecay ?? 4e-3, decoupledWeightDecay: o.decoupledWeightDecay ?? false,
    });
    checkBeta('nadam', 'beta1', this.hyper.beta1);
    checkBeta('nadam', 'beta2', this.hyper.beta2);
    check('nadam', this.hyper.momentumDecay >= 0, `momentumDecay must be >= 0, got ${this.hyper.momentumDecay}`);
  }

  private mu(t: number): number { return this.hyper.beta1 * (1 - 0.5 * 0.96 ** (t * this.hyper.momentumDecay)); }

  /** μ_1·…·μ_t, extended from the last one asked for (the trainer asks for t, t+1, ...), restarted when t goes back. */
  private muProduct(t: number): number {
    if (t < this.product.t) this.product = { t: 0, value: 1 };
    while (this.product.t < t) this.product = { t: this.product.t + 1, value: this.product.value * this.mu(this.product.t + 1) };
    return this.product.value;
  }

  protected rule() { return { rule: 'adam' as const }; }
  protected coefs(): AdamCoefs {
    const { lr, beta1, beta2, eps, weightDecay: wd, decoupledWeightDecay } = this.hyper, t = this.t;
    const mu = this.mu(t), muNext = this.mu(t + 1), prod = this.muProduct(t);
    return {
      beta1, beta1c: 1 - beta1, beta2, beta2c: 1 - beta2, eps, sqrtBc2: Math.sqrt(1 - beta2 ** t),
      l2: decoupledWeightDecay ? 0 : wd, decay: decoupledWeightDecay ? 1 - lr * wd : 1,
      gradCoef: (lr * (1 - mu)) / (1 - prod), momCoef: (lr * muNext) / (1 - prod * muNext),
    };
  }
  /**
   * t, 1 − β2ᵗ, the schedule's 0.96^(t·ψ) and μ_1·…·μ_t; gradCoef = lr·(1 − μ_t)/(1 − Πμ), momCoef = lr·μ_{t+1}/(1 −
   * Πμ·μ_{t+1}), sqrtBc2 = √(1 − β2ᵗ).
   */
  protected override clock(): StepClock {
    const { beta1, beta2, momentumDecay } = this.hyper, decay = 0.96 ** momentumDecay;
    const mu = (r: Tensor) => ops.mul(ops.sub(1, ops.mul(r, 0.5)), beta1); // β1·(1 − ½·0.96^(t·ψ))
    return {
      names: ['steps', 'bias_correction2', 'momentum_decay', 'mu_product'],
      next: ([t, c2, r, prod]) => { const rn = ops.mul(r, decay); return [ops.add(t, 1), nextCorrection(c2, beta2), rn, ops.mul(prod, mu(rn))]; },
      scales: ([, c2, r, prod]) => {
        const muNext = mu(ops.mul(r, decay));
        return [ops.div(ops.sub(1, mu(r)), ops.sub(1, prod)), ops.div(muNext, ops.sub(1, ops.mul(prod, muNext))), sqrt(c2)];
      },
      coefs: () => ({ ...this.coefs(), gradCoef: this.hyper.lr, momCoef: this.hyper.lr, sqrtBc2: 1 }),
      at: (t) => [t, 1 - beta2 ** t, 0.96 ** (t * momentumDecay), this.muProduct(t)],
    };
  }
}

export interface RMSpropOptions { lr?: number; alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean }

/** torch.optim.RMSprop: the momentum buffer and the centred average exist only when momentum > 0 and centered. */
export class RMSprop extends FusedOptimizer<Required<RMSpropOptions>> {
  constructor(o: RMSpropOptions = {}) {
    super('rmsprop', { lr: o.lr ?? 1e-2, alpha: o.alpha ?? 0.99, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 0, momentum: o.momentum ?? 0, centered: o.centered ?? false });
    checkBeta('rmsprop', 'alpha', this.hyper.alpha);
    checkBeta('rmsprop', 'momentum', this.hyper.momentum);
  }
  // Fixed when the first update is built: whether the slots exist cannot change afterwards.
  private readonly slotsOn = { centered: this.hyper.centered, momentum: this.hyper.momentum > 0 };
  protected rule() { return { rule: 'rmsprop' as const, ...this.slotsOn }; }
  protected coefs(): RmspropCoefs {
    const { lr, alpha, eps, weightDecay, momentum } = this.hyper;
    return { lr, alpha, alphac: 1 - alpha, eps, l2: weightDecay, momentum };
  }
}

export interface AdagradOptions { lr?: number; lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number }

/** torch.optim.Adagrad, with its learning-rate decay lr / (1 + (t − 1)·lrDecay). */
export class Adagrad extends FusedOptimizer<Required<AdagradOptions>> {
  constructor(o: AdagradOptions = {}) {
    super('adagrad', { lr: o.lr ?? 1e-2, lrDecay: o.lrDecay ?? 0, weightDecay: o.weightDecay ?? 0, initialAccumulatorValue: o.initialAccumulatorValue ?? 0, eps: o.eps ?? 1e-10 });
    check('adagrad', this.hyper.lrDecay >= 0, `lrDecay must be >= 0, got ${this.hyper.lrDecay}`);
    check('adagrad', this.hyper.initialAccumulatorValue >= 0, `initialAccumulatorValue must be >= 0, got ${this.hyper.initialAccumulatorValue}`);
  }
  protected override initial(): number { return this.hyper.initialAccumulatorValue; }
  protected rule() { return { rule: 'adagrad' as const }; }
  protected coefs(): AdagradCoefs {
    const { lr, lrDecay, eps, weightDecay } = this.hyper;
    return { clr: lr / (1 + (this.t - 1) * lrDecay), eps, l2: weightDecay };
  }
  /** t itself: clr = lr / (1 + (t − 1)·lr_decay). */
  protected override clock(): StepClock {
    const { lrDecay } = this.hyper;
    return {
      names: ['steps'],
      next: ([t]) => [ops.add(t, 1)],
      scales: ([t]) => [ops.div(1, ops.add(ops.mul(ops.sub(t, 1), lrDecay), 1))],
      coefs: () => ({ ...this.coefs(), clr: this.hyper.lr }),
      at: (t) => [t],
    };
  }
}

export interface AdadeltaOptions { lr?: number; rho?: number; eps?: number; weightDecay?: number }

/** torch.optim.Adadelta (Zeiler), with PyTorch's lr scaling the step (default 1). */
export class Adadelta extends FusedOptimizer<Required<AdadeltaOptions>> {
  constructor(o: AdadeltaOptions = {}) {
    super('adadelta', { lr: o.lr ?? 1, rho: o.rho ?? 0.9, eps: o.eps ?? 1e-6, weightDecay: o.weightDecay ?? 0 });
    checkBeta('adadelta', 'rho', this.hyper.rho);
  }
  protected rule() { return { rule: 'adadelta' as const }; }
  protected coefs(): AdadeltaCoefs {
    const { lr, rho, eps, weightDecay } = this.hyper;
    return { lr, rho, rhoc: 1 - rho, eps, l2: weightDecay };
  }
}
