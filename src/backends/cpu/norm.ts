// Reference kernels of the normalisation family: dropout (and its counter), randn (on the same counter), and the running-statistics update.
import { dropoutParams } from '../../graph/norm.js';
import { randnParams, gaussianAt } from '../../graph/random.js';
import type { Node } from '../../graph/op_table.js';
import { hash32 } from '../../util/rng.js';
import type { Arr, CpuKernels } from './loops.js';

/** Keep element i iff hash32(seed, step, i) >= threshold; a kept element is scaled by 1/(1-p). */
function dropout(n: Node<'dropout'>, [x]: Arr[], out: Float32Array): void {
  const { seed, step, threshold, scale } = dropoutParams(n);
  // x·scale of two float32s, rounded once to float32 on store: the same correctly rounded product as the GPU's.
  for (let i = 0; i < out.length; i++) out[i] = hash32(seed, step, i) >= threshold ? x[i] * scale : 0;
}

/** Runs after every other node of the step, so the dropout nodes of this run all read the old step. */
function dropoutAdvance(n: Node<'dropout_advance'>): void {
  const c = n.attrs.counter;
  c.step = (c.step + 1) >>> 0;
}

function randn(n: Node<'randn'>, _: Arr[], out: Float32Array): void {
  const { seed, step } = randnParams(n);
  for (let i = 0; i < out.length; i++) out[i] = gaussianAt(seed, step, i);
}

/** target ← (1 - m)·target + m·scale·value, in place. */
function runningUpdate(n: Node<'running_update'>, [target, value]: Arr[]): void {
  const { momentum: m, scale } = n.attrs;
  for (let i = 0; i < target.length; i++) target[i] = m === 1 ? scale * value[i] : (1 - m) * target[i] + m * scale * value[i];
}

export const NORM_CPU_KERNELS = { dropout, dropout_advance: dropoutAdvance, randn, running_update: runningUpdate } satisfies CpuKernels;
