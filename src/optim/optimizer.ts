// The contract every optimizer keeps. An optimizer is graph: `updates` returns one fused update node per parameter
// (an effect op, planned into the same submission as forward and backward). Hyper-parameters live in a plain object
// the kernels read at every run, so schedules and step counters change them without recompiling.
import { Tensor, Variable } from '../graph/tensor.js';
import { unary } from '../graph/ops.js';
import { runningUpdate } from '../graph/norm.js';
import { optimStep, slotNames, OptimAttrs } from '../graph/optim_ops.js';
import { UserError } from '../util/errors.js';

export interface Optimizer {
  /** Learning rate the next step uses; schedules write it. */
  lr: number;
  /**
   * Update effects for each (parameter, gradient) pair; state variables are created on first use. With `skip` (a
   * one-element tensor), a step where it is nonzero leaves the parameters and their state unchanged (a loss-scaled
   * step whose gradients overflowed).
   */
  updates(params: readonly Variable[], grads: readonly Tensor[], o?: UpdateOptions): Tensor[];
  /** State variables (moments, accumulators) with stable names, in a stable order: what a checkpoint saves. */
  state(): Variable[];
  /**
   * Set the 1-based number of the step about to run (bias corrections). Optional to call: an optimizer counts the
   * runs of its compiled updates itself; the trainer calls it before each step so that a resumed run continues exactly.
   */
  beginStep?(t: number): void;
  /** Kind and hyper-parameters, JSON-able: what a checkpoint records and a config file describes. */
  config(): { kind: string } & Record<string, unknown>;
}

export interface UpdateOptions {
  /** A one-element tensor: where nonzero, the step's updates leave parameters and state as they were. */
  skip?: Tensor;
}

/**
 * The base of every optimizer here: one fused `optim_step` node per parameter (src/graph/optim_ops.ts), its rule and
 * coefficients from the subclass, and state slots named `<parameter>.<slot>` created on first use.
 */
export function check(kind: string, ok: boolean, what: string): void {
  if (!ok) throw new UserError(`${kind}: ${what}`);
}

export abstract class FusedOptimizer<H extends { lr: number; weightDecay: number; eps?: number }> implements Optimizer {
  /** Steps run so far: each run of a compiled update advances it once, after the update (Plan.counters). */
  readonly counter = { step: 0 };
  /** The 1-based number of the step about to run. */
  protected get t(): number { return this.counter.step + 1; }
  private slots = new Map<Variable, Variable[]>();

  constructor(readonly kind: string, readonly hyper: H) {
    check(kind, Number.isFinite(hyper.lr) && hyper.lr >= 0, `lr must be a number >= 0, got ${hyper.lr}`);
    check(kind, hyper.weightDecay >= 0, `weightDecay must be >= 0, got ${hyper.weightDecay}`);
    if (hyper.eps !== undefined) check(kind, hyper.eps >= 0, `eps must be >= 0, got ${hyper.eps}`);
  }

  get lr(): number { return this.hyper.lr; }
  set lr(v: number) { this.hyper.lr = v; }

  beginStep(t: number): void {
    check(this.kind, Number.isInteger(t) && t >= 1, `step numbers start at 1, got ${t}`);
    this.counter.step = t - 1;
  }

  config() { return { kind: this.kind, ...this.hyper }; }

  state(): Variable[] { return [...this.slots.values()].flat(); }

  /** Which rule, and (RMSprop) which optional slots. */
  protected abstract rule(): Omit<OptimAttrs, 'coefs'>;
  /** The kernel's coefficients for step t at the current hyper-parameters. */
  protected abstract coefs(): ReturnType<OptimAttrs['coefs']>;
  /** A state slot's initial value. */
  protected initial(_slot: string): number { return 0; }

  updates(params: readonly Variable[], grads: readonly Tensor[], o: UpdateOptions = {}): Tensor[] {
    check(this.kind, params.length === grads.length, `${params.length} parameters but ${grads.length} gradients`);
    if (o.skip) check(this.kind, o.skip.size === 1, `skip must hold one value, got shape [${o.skip.shape.join(',')}]`);
    const attrs: OptimAttrs = { ...this.rule(), coefs: () => this.coefs(), counter: this.counter };
    const steps = params.map((p, i) => {
      let s = this.slots.get(p);
      if (!s) {
        s = slotNames(attrs).map((slot) => new Variable(new Float32Array(p.size).fill(this.initial(slot)), p.shape, `${p.name}.${slot}`));
        this.slots.set(p, s);
      }
      return optimStep(p.tensor, grads[i], s.map((v) => v.tensor), attrs);
    });
    if (!o.skip) return steps;
    // The skip as a composite, without touching the update kernel: copies of every parameter and slot are taken
    // before the effects run (effects run after every other node), and effects after the updates put them back on a
    // skipped step. A grouped optimizer kernel can take the flag itself and drop these copies. The step counter
    // (bias corrections) still advances on a skipped step.
    const vars = params.flatMap((p) => [p, ...this.slots.get(p)!]);
    const restores = vars.map((v) => runningUpdate(v.tensor, unary('identity', v.tensor), 1, 1, o.skip));
    return [...steps, ...restores];
  }
}
