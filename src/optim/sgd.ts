// SGD with momentum (and Nesterov, weight decay). The update is graph: one fused `sgd_momentum` node per parameter,
// planned into the same submission as the forward and backward. Hyper-parameters are read at every run, so a
// learning-rate schedule changes `lr` without recompiling.
import { Tensor, Variable } from '../graph/tensor.js';
import { sgdMomentum } from '../graph/ops.js';
import { Optimizer } from './optimizer.js';

export interface SgdOptions { lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number }

export class SGD implements Optimizer {
  readonly hyper: { lr: number; momentum: number; nesterov: boolean; weightDecay: number };
  private velocity = new Map<Variable, Variable>();

  constructor(o: SgdOptions) {
    this.hyper = { lr: o.lr, momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 };
    if (this.hyper.nesterov && this.hyper.momentum <= 0) throw new Error('SGD: nesterov requires momentum > 0');
  }

  get lr(): number { return this.hyper.lr; }
  set lr(v: number) { this.hyper.lr = v; }

  config() { return { kind: 'sgd', ...this.hyper }; }

  /** The optimizer's own state, for checkpoints. */
  state(): Variable[] { return [...this.velocity.values()]; }

  /** Update nodes for each (parameter, gradient) pair; pass them to compile() as effects. */
  updates(params: readonly Variable[], grads: readonly Tensor[]): Tensor[] {
    return params.map((p, i) => {
      let v = this.velocity.get(p);
      if (!v) this.velocity.set(p, (v = Variable.zeros(p.shape, `${p.name}.momentum`)));
      return sgdMomentum(p.tensor, grads[i], v.tensor, this.hyper);
    });
  }
}
