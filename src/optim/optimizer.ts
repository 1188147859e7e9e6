// The contract every optimizer keeps. An optimizer is graph: `updates` returns update nodes (effect ops, planned into
// the same submission as forward and backward): here one for all the parameters of a step (optim_multi), or one per
// parameter (optim_step). Hyper-parameters live in a plain object
// the kernels read at every run, so schedules and step counters change them without recompiling.
import { Tensor, Variable } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { concat } from '../graph/shape_ops.js';
import { runningUpdate } from '../graph/norm.js';
import { optimStep, optimMulti, slotNames, arenaLayout, OptimAttrs, Arena } from '../graph/optim_ops.js';
import { UserError } from '../util/errors.js';

export interface Optimizer {
  /** Learning rate the next step uses; schedules write it. */
  lr: number;
  /** Update effects for each (parameter, gradient) pair; state variables are created on first use. */
  updates(params: readonly Variable[], grads: readonly Tensor[], options?: UpdateOptions): Tensor[];
  /** State variables (moments, accumulators) with stable names, in a stable order: what a checkpoint saves. */
  state(): Variable[];
  /**
   * Set the 1-based number of the step about to run (bias corrections). Optional to call: an optimizer counts the
   * runs of its compiled updates itself; the trainer calls it before each step so that a resumed run continues exactly.
   */
  beginStep?(t: number): void;
  /**
   * State that a checkpoint saved before it existed may lack, rebuilt from the checkpoint's step count as if no step
   * had been skipped; undefined for any other name.
   */
  stateAt?(name: string, step: number): Float32Array | undefined;
  /** Kind and hyper-parameters, JSON-able: what a checkpoint records and a config file describes. */
  config(): { kind: string } & Record<string, unknown>;
}

export interface UpdateOptions {
  /**
   * A scalar tensor computed in the step: where it is nonzero the step leaves every parameter and state slot as it
   * was (dynamic loss scaling skips a step whose scaled gradients overflowed). A skipped step does not count towards
   * the bias corrections (or other step-dependent coefficients), as in PyTorch, where GradScaler skips
   * optimizer.step(): those come from the optimizer's StepClock on the device. The host's step counter, which the
   * guard latches, still advances.
   */
  skip?: Tensor;
  /**
   * The gradient guard's latch, a [1] variable (src/train/trainer.ts): where it holds 0 and a gradient of this
   * step holds a NaN or an infinity, the update writes the step number t into it. A skipped step latches nothing.
   * Honoured only where `foldsGuard` says so.
   */
  guard?: Variable;
}

/**
 * The count of steps taken, kept on the device, for an optimizer whose coefficients depend on it (STEP_SCALED in
 * src/graph/optim_ops.ts): where a step may be skipped on the device, the host cannot know it. Its values are [1]
 * variables, updated by the step unless it is skipped, and saved in checkpoints as `<kind>.<name>`; the first is
 * the count itself, `steps` (what an export gives torch.optim as its step), the others what the coefficients need.
 */
export interface StepClock {
  /** The variables' names, `steps` first. */
  names: readonly string[];
  /** The values after one more step taken, from the values before it (in names' order). */
  next(c: Tensor[]): Tensor[];
  /** The STEP_SCALED multipliers, from the values after this step. */
  scales(c: Tensor[]): Tensor[];
  /** The rule's coefficients with its STEP_SCALED ones at the values that `scales` multiplies. */
  coefs(): ReturnType<OptimAttrs['coefs']>;
  /**
   * The values after t steps, none skipped: what the clock starts from (the steps run before, without a skip flag)
   * and what a checkpoint saved without it resumes with.
   */
  at(t: number): number[];
}

/** Floats per arena: 128 MiB, the storage binding every WebGPU adapter offers; more parameters make more arenas. */
const ARENA_MAX = 32 * 1024 * 1024;

/**
 * The base of every optimizer here: one fused `optim_multi` node for a step's parameters, or an `optim_step` node per
 * parameter (src/graph/optim_ops.ts), its rule and coefficients from the subclass, and state slots named
 * `<parameter>.<slot>` created on first use.
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
  /** The StepClock's variables, made by the first update given a skip flag. */
  private clockVars?: Variable[];
  /**
   * One update (optim_multi) for all the parameters of a step, their values, state and gradients in arenas, rather
   * than one optim_step each; set before the first `updates` (the arenas are made then). Off: the per-parameter path.
   */
  multiTensor = true;
  /** The arenas made so far, each for one list of parameters (a step's), and its slots' arenas. */
  private arenas: { params: Arena; slots: Arena[] }[] = [];

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

  state(): Variable[] { return [...[...this.slots.values()].flat(), ...(this.clockVars ?? [])]; }

  stateAt(name: string, step: number): Float32Array | undefined {
    const clock = this.clock(), i = clock ? clock.names.findIndex((k) => `${this.kind}.${k}` === name) : -1;
    return i >= 0 && this.clockVars ? Float32Array.of(clock!.at(step)[i]) : undefined;
  }

  /** Where the rule's coefficients depend on the count of steps taken, how to keep that count on the device. */
  protected clock(): StepClock | undefined { return undefined; }

  /** Which rule, and (RMSprop) which optional slots. */
  protected abstract rule(): Omit<OptimAttrs, 'coefs'>;
  /** The kernel's coefficients for step t at the current hyper-parameters. */
  protected abstract coefs(): ReturnType<OptimAttrs['coefs']>;
  /** A state slot's initial value. */
  protected initial(_slot: string): number { return 0; }

  /** Whether `updates(params, ...)` takes the gradient guard into its update (UpdateOptions.guard). */
  foldsGuard(params: readonly Variable[]): boolean { return this.chunks(params) !== undefined; }

  updates(params: readonly Variable[], grads: readonly Tensor[], o: UpdateOptions = {}): Tensor[] {
    check(this.kind, params.length === grads.length, `${params.length} parameters but ${grads.length} gradients`);
    const clock = o.skip ? this.clock() : undefined;
    const { scales, ticks } = clock ? this.tick(clock, o.skip!) : { scales: undefined, ticks: [] };
    const attrs = { ...this.rule(), coefs: clock ? () => clock.coefs() : () => this.coefs(), counter: this.counter };
    const slots = params.map((p) => this.slotsOf(p, attrs));
    const chunks = this.chunks(params);
    if (!chunks) return [...params.map((p, i) => optimStep(p.tensor, grads[i], slots[i].map((v) => v.tensor), attrs, o.skip, scales)), ...ticks];
    let at = 0;
    return [...chunks.map((c) => {
      const ks = c.params.vars.map(() => at++);
      return optimMulti(ks.map((k) => params[k].tensor), ks.map((k) => grads[k]), ks.map((k) => slots[k].map((v) => v.tensor)), attrs,
        { offsets: c.params.offsets, size: c.params.size, skip: o.skip, guard: o.guard?.tensor, scales });
    }), ...ticks];
  }

  /**
   * This step's scales, from the clock after it, and the effects that advance the clock unless `skip` is nonzero
   * (next·(1 − skip) + now·skip: exact for a skip of 0 or 1).
   */
  private tick(clock: StepClock, skip: Tensor): { scales: Tensor; ticks: Tensor[] } {
    if (!this.clockVars) {
      // Steps run before any skip flag (a run switched to f16 part-way) were all taken.
      const start = clock.at(this.counter.step);
      this.clockVars = clock.names.map((k, i) => new Variable(Float32Array.of(start[i]), [1], `${this.kind}.${k}`));
    }
    const vars = this.clockVars;
    const now = vars.map((v) => v.tensor), next = clock.next(now), s = ops.reshape(skip, [1]);
    const parts = clock.scales(next);
    return {
      scales: parts.length > 1 ? concat(parts) : parts[0],
      ticks: vars.map((v, i) => runningUpdate(v.tensor, ops.add(ops.mul(next[i], ops.sub(1, s)), ops.mul(now[i], s)), 1)),
    };
  }

  private slotsOf(p: Variable, attrs: OptimAttrs): Variable[] {
    let s = this.slots.get(p);
    if (!s) {
      s = slotNames(attrs).map((slot) => new Variable(new Float32Array(p.size).fill(this.initial(slot)), p.shape, `${p.name}.${slot}`));
      this.slots.set(p, s);
    }
    return s;
  }

  /**
   * The arenas holding `params` in order: consecutive runs of at most ARENA_MAX floats, made on first use. A model's
   * parameters placed by an earlier optimizer (a second training run on the same model) keep their arena, and this
   * optimizer's slots get arenas of its layout. Undefined (the per-parameter path) when multiTensor is off, or a
   * parameter is listed twice, or the list cuts across arenas: each variable can live in one place only.
   */
  private chunks(params: readonly Variable[]): { params: Arena; slots: Arena[] }[] | undefined {
    if (!this.multiTensor || params.length === 0 || new Set(params).size !== params.length) return undefined;
    const attrs = { ...this.rule(), coefs: () => this.coefs() };
    const place = (name: string, vs: Variable[], offsets: readonly number[], size: number): Arena => {
      const a: Arena = { name, offsets, size, vars: vs };
      vs.forEach((v, index) => { v.placement = { arena: a, index }; });
      return a;
    };
    if (params.every((p) => !p.placement)) {
      for (let i = 0; i < params.length;) {
        let j = i, total = 0;
        while (j < params.length && (j === i || total + params[j].size <= ARENA_MAX)) total += Math.ceil(Math.max(params[j++].size, 1) / 64) * 64;
        const vars = params.slice(i, j), { offsets, size } = arenaLayout(vars.map((p) => p.size));
        place(`${this.kind}.params${i}`, vars, offsets, size);
        i = j;
      }
    }
    const out: { params: Arena; slots: Arena[] }[] = [];
    for (let k = 0; k < params.length;) {
      const a = params[k].placement?.arena;
      if (!a || !a.vars.every((v, j) => params[k + j] === v)) return undefined;
      let c = this.arenas.find((x) => x.params === a);
      if (!c) {
        const slots = a.vars.map((p) => this.slotsOf(p, attrs));
        if (slots.some((s) => s.some((v) => v.placement))) return undefined;
        c = { params: a, slots: slotNames(attrs).map((slot, i) => place(`${a.name}.${slot}`, slots.map((s) => s[i]), a.offsets, a.size)) };
        this.arenas.push(c);
      }
      out.push(c);
      k += a.vars.length;
    }
    return out;
  }
}
