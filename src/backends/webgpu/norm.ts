// WebGPU launches for the normalisation family: dropout, its counter's advance, and batch norm's running-stat update.
// (Batch norm itself is a composite of core ops.)
import { Tensor } from '../../graph/tensor.js';
import { dropoutParams, DropoutCounter } from '../../graph/norm.js';
import { Launch, grid, u32s } from './launch.js';
import dropoutSrc from '../../../shaders/dropout.wgsl';
import running_update from '../../../shaders/running_update.wgsl';

export const NORM_SHADERS: Record<string, string> = { dropout: dropoutSrc, running_update };

function dropout(n: Tensor): Launch {
  // Re-read at every run: the counter's step changes between runs, and the pipeline must not be rebuilt for it.
  const params = () => {
    const { seed, step, threshold, scale } = dropoutParams(n);
    const b = new ArrayBuffer(32), u = new Uint32Array(b), f = new Float32Array(b);
    u[0] = n.size; u[1] = seed; u[2] = step; u[3] = threshold; f[4] = scale;
    return b;
  };
  return { shader: 'dropout', defines: { ADVANCE: false }, uniform: params(), dynamicUniform: params, bindings: [n.inputs[0], n], workgroups: grid(n.op, Math.ceil(n.size / 256)) };
}

/**
 * The counter is host state, so the advance happens on the host, in the dynamic-uniform hook that the executor calls
 * once per run, in plan order: effects come last, so every dropout launch of the run has already read the old step.
 * The device runs an empty kernel.
 */
function dropoutAdvance(n: Tensor): Launch {
  const c = n.attrs.counter as DropoutCounter;
  const empty = () => u32s([0], 32);
  return { shader: 'dropout', defines: { ADVANCE: true }, uniform: empty(), dynamicUniform: () => { c.step = (c.step + 1) >>> 0; return empty(); }, bindings: [], workgroups: [1, 1, 1] };
}

function runningUpdate(n: Tensor): Launch {
  const [stat] = n.inputs;
  const { momentum, scale } = n.attrs as { momentum: number; scale: number };
  const b = new ArrayBuffer(16), u = new Uint32Array(b), f = new Float32Array(b);
  u[0] = stat.size; f[1] = momentum; f[2] = scale;
  return { shader: 'running_update', uniform: b, bindings: [...n.inputs], workgroups: grid(n.op, Math.ceil(stat.size / 64)) };
}

export const NORM_WEBGPU_KERNELS: Record<string, (n: Tensor) => Launch> = { dropout, dropout_advance: dropoutAdvance, running_update: runningUpdate };
