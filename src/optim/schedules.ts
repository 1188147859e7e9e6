// Learning-rate schedules: functions of the step. The optimizer reads its lr at every run, so changing it costs one
// 32-byte uniform write per parameter and no recompilation. Being pure functions of the step (plateau aside, whose
// state is a few numbers), a resumed run gets the same rates as an uninterrupted one.
import { OptionError } from '../util/errors.js';
export type Schedule = (step: number) => number;

export const constant = (lr: number): Schedule => () => lr;

/** Cosine decay from `lr` to `minLr` over `total` steps (SGDR without restarts). */
export const cosine = (lr: number, total: number, minLr = 0): Schedule => (step) =>
  minLr + 0.5 * (lr - minLr) * (1 + Math.cos((Math.PI * Math.min(step, total)) / total));

/** lr · gamma^floor(step / stepSize): PyTorch's StepLR, counted in whatever unit the caller's steps are. */
export function stepDecay(lr: number, stepSize: number, gamma = 0.1): Schedule {
  if (!(Number.isInteger(stepSize) && stepSize > 0)) throw new OptionError(`stepDecay: stepSize must be a positive integer, got ${stepSize}`);
  return (step) => lr * gamma ** Math.floor(step / stepSize);
}

/** lr · gamma^(step / every): smooth exponential decay; `every` = steps per epoch gives a factor gamma per epoch. */
export const exponential = (lr: number, gamma: number, every = 1): Schedule => (step) => lr * gamma ** (step / every);

/**
 * Linear warm-up over the first `steps` steps, up to where `inner` starts: step s < steps gets inner(0)·(s+1)/steps.
 * After it, inner runs on its own clock from 0, so give it the run's length minus the warm-up.
 */
export function warmup(steps: number, inner: Schedule): Schedule {
  if (!(Number.isInteger(steps) && steps >= 0)) throw new OptionError(`warmup: steps must be an integer >= 0, got ${steps}`);
  return (step) => (step < steps ? (inner(0) * (step + 1)) / steps : inner(step - steps));
}

export interface PlateauOptions {
  /** 'min' for a loss, 'max' for an accuracy. */
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  /** How much better than the best a value must be to count: relative (best·(1 ∓ threshold)) or absolute. */
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again. */
  cooldown?: number;
  minLr?: number;
}

/**
 * Reduce-on-plateau, as PyTorch's ReduceLROnPlateau: fed a validation metric at each epoch end by `step(metric)`; when
 * more than `patience` epochs in a row fail to improve on the best, the rate is multiplied by `factor` (not below
 * minLr), then `cooldown` epochs pass before bad epochs count again. `schedule` reads the current rate, so it composes
 * with warm-up: warmup(500, plateau.schedule).
 */
export class ReduceOnPlateau {
  lr: number;
  best: number;
  badEpochs = 0;
  cooldownLeft = 0;
  readonly o: Required<PlateauOptions>;
  readonly schedule: Schedule = () => this.lr;

  constructor(lr: number, o: PlateauOptions = {}) {
    this.o = { mode: 'min', factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: 'rel', cooldown: 0, minLr: 0, ...o };
    if (!(this.o.factor > 0 && this.o.factor < 1)) throw new OptionError(`ReduceOnPlateau: factor must be in (0, 1), got ${this.o.factor}`);
    if (!(Number.isInteger(this.o.patience) && this.o.patience >= 0)) throw new OptionError(`ReduceOnPlateau: patience must be an integer >= 0, got ${this.o.patience}`);
    this.lr = lr;
    this.best = this.o.mode === 'min' ? Infinity : -Infinity;
  }

  isBetter(v: number): boolean {
    const { mode, threshold: t, thresholdMode } = this.o;
    if (mode === 'min') return thresholdMode === 'rel' ? v < this.best * (1 - t) : v < this.best - t;
    return thresholdMode === 'rel' ? v > this.best * (1 + t) : v > this.best + t;
  }

  /** Feed one epoch's metric; returns true when the rate was reduced. */
  step(metric: number): boolean {
    if (this.isBetter(metric)) { this.best = metric; this.badEpochs = 0; } else this.badEpochs++;
    if (this.cooldownLeft > 0) { this.cooldownLeft--; this.badEpochs = 0; }
    if (this.badEpochs <= this.o.patience) return false;
    this.badEpochs = 0;
    this.cooldownLeft = this.o.cooldown;
    const next = Math.max(this.lr * this.o.factor, this.o.minLr);
    // PyTorch's eps: a reduction smaller than this is not worth reporting (already at the floor).
    if (this.lr - next <= 1e-8) return false;
    this.lr = next;
    return true;
  }

  /** JSON-able state, for checkpoints; `load` puts it back. */
  state() { return { lr: this.lr, best: this.best, badEpochs: this.badEpochs, cooldownLeft: this.cooldownLeft }; }
  load(s: ReturnType<ReduceOnPlateau['state']>): void { Object.assign(this, s); }
}

export const SCHEDULES = ['cosine', 'constant', 'step', 'exponential', 'plateau'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export interface ScheduleSpec {
  lr: number;
  epochs: number;
  stepsPerEpoch: number;
  /** Linear warm-up steps before the schedule proper. */
  warmup?: number;
  /** step: factor every `stepEpochs` epochs [0.1]; exponential: factor per epoch [0.5]; plateau: factor [0.1]. */
  gamma?: number;
  stepEpochs?: number;
  plateau?: PlateauOptions;
}

/**
 * A named schedule over a run of `epochs` epochs, with optional warm-up. Plateau also returns its controller, which
 * the training loop must feed a metric at each epoch end.
 */
export function makeSchedule(name: ScheduleName, s: ScheduleSpec): { schedule: Schedule; plateau?: ReduceOnPlateau } {
  const w = s.warmup ?? 0;
  const rest = Math.max(1, s.epochs * s.stepsPerEpoch - w);
  let inner: Schedule, plateau: ReduceOnPlateau | undefined;
  switch (name) {
    case 'cosine': inner = cosine(s.lr, rest); break;
    case 'constant': inner = constant(s.lr); break;
    case 'step': inner = stepDecay(s.lr, (s.stepEpochs ?? 1) * s.stepsPerEpoch, s.gamma ?? 0.1); break;
    case 'exponential': inner = exponential(s.lr, s.gamma ?? 0.5, s.stepsPerEpoch); break;
    case 'plateau': plateau = new ReduceOnPlateau(s.lr, { factor: s.gamma ?? 0.1, ...s.plateau }); inner = plateau.schedule; break;
    default: throw new OptionError(`makeSchedule: unknown schedule '${name}' (expected one of ${SCHEDULES.join(', ')})`);
  }
  return { schedule: w > 0 ? warmup(w, inner) : inner, plateau };
}
