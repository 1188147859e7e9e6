// The contract every optimizer keeps. An optimizer is graph: `updates` returns one fused update node per parameter
// (an effect op, planned into the same submission as forward and backward). Hyper-parameters live in a plain object
// the kernels read at every run, so schedules and step counters change them without recompiling.
import { Tensor, Variable } from '../graph/tensor.js';

export interface Optimizer {
  /** Learning rate the next step uses; schedules write it. */
  lr: number;
  /** Update effects for each (parameter, gradient) pair; state variables are created on first use. */
  updates(params: readonly Variable[], grads: readonly Tensor[]): Tensor[];
  /** State variables (moments, accumulators) with stable names, in a stable order: what a checkpoint saves. */
  state(): Variable[];
  /** Called by the trainer before each step with the 1-based number of the step about to run (bias correction). */
  beginStep?(t: number): void;
  /** Kind and hyper-parameters, JSON-able: what a checkpoint records and a config file describes. */
  config(): { kind: string } & Record<string, unknown>;
}
