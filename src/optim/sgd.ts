// SGD with momentum (and Nesterov, weight decay), PyTorch's formulation: a rule of the fused optimizer step like every
// other optimizer (src/graph/optim_ops.ts). Hyper-parameters are read at every run, so a learning-rate schedule
// changes `lr` without recompiling. The velocity is a state slot even at momentum 0, so checkpoints always hold it.
import { SgdCoefs } from '../graph/optim_ops.js';
import { FusedOptimizer, check } from './optimizer.js';

export interface SgdOptions { lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number }

export class SGD extends FusedOptimizer<{ lr: number; momentum: number; nesterov: boolean; weightDecay: number }> {
  constructor(o: SgdOptions) {
    super('sgd', { lr: o.lr, momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 });
    check('SGD', !(this.hyper.nesterov && this.hyper.momentum <= 0), 'nesterov requires momentum > 0');
  }
  protected rule() { return { rule: 'sgd' as const }; }
  protected coefs(): SgdCoefs {
    const { lr, momentum, weightDecay, nesterov } = this.hyper;
    return { lr, momentum, l2: weightDecay, nesterov: +nesterov };
  }
}
