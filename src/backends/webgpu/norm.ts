// WebGPU launches for the normalisation family: dropout, its counter's advance, and batch norm's running-stat update.
// (Batch norm itself is a composite of core ops.)
import { Tensor } from '../../graph/tensor.js';
import { dropoutParams } from '../../graph/norm.js';
import type { Node } from '../../graph/op_table.js';
import { rowsOf } from '../../graph/activations.js';
import type { Fused } from '../../schedule/fuse.js';
import { Launch, WebGpuKernels, grid, u32s, f32bits } from './launch.js';
import dropoutSrc from '../../../shaders/dropout.wgsl';
import running_update from '../../../shaders/running_update.wgsl';
import layer_norm from '../../../shaders/layer_norm.wgsl';

export const NORM_SHADERS: Record<string, string> = { dropout: dropoutSrc, running_update, layer_norm };

/** Layer norm's fused kernels (schedule/fuse.ts): forward reads [x, weight, bias], the gradient [x, weight, dy]. */
function layerNorm(n: Tensor, g: Fused, grad: boolean): Launch {
  const [rows, C] = rowsOf(g.inputs[0].shape);
  return {
    shader: 'layer_norm',
    defines: { GRAD: grad },
    uniform: u32s([rows, C, f32bits(g.pattern!.attrs.eps)]),
    bindings: [...g.inputs, n],
    workgroups: grid('layerNorm', Math.ceil(rows / 64)),
  };
}

export const NORM_FUSED_LAUNCHES: Record<string, (n: Tensor, g: Fused) => Launch> = {
  layer_norm: (n, g) => layerNorm(n, g, false),
  layer_norm_grad: (n, g) => layerNorm(n, g, true),
};

function dropout(n: Node<'dropout'>): Launch {
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
function dropoutAdvance(n: Node<'dropout_advance'>): Launch {
  const c = n.attrs.counter;
  const empty = () => u32s([0], 32);
  return { shader: 'dropout', defines: { ADVANCE: true }, uniform: empty(), dynamicUniform: () => { c.step = (c.step + 1) >>> 0; return empty(); }, bindings: [], workgroups: [1, 1, 1] };
}

function runningUpdate(n: Node<'running_update'>): Launch {
  const [stat] = n.inputs;
  const { momentum, scale } = n.attrs;
  const b = new ArrayBuffer(16), u = new Uint32Array(b), f = new Float32Array(b);
  u[0] = stat.size; f[1] = momentum; f[2] = scale;
  return { shader: 'running_update', uniform: b, bindings: [...n.inputs], workgroups: grid(n.op, Math.ceil(stat.size / 64)) };
}

export const NORM_WEBGPU_KERNELS = { dropout, dropout_advance: dropoutAdvance, running_update: runningUpdate } satisfies WebGpuKernels;
