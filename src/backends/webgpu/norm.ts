// WebGPU launches for the normalisation family: dropout, its counter's advance, randn (which reads that counter too),
// and batch norm's running-stat update.
// (Batch norm itself is a composite of core ops.)
import { Tensor } from '../../graph/tensor.js';
import { dropoutParams } from '../../graph/norm.js';
import { randnParams } from '../../graph/random.js';
import type { Node } from '../../graph/op_table.js';
import { rowsOf } from '../../graph/activations.js';
import type { Fused, FusedKernel } from '../../schedule/fuse.js';
import { Launch, WebGpuKernels, spread } from './launch.js';
import { UNIFORMS } from './contracts.js';

/** Layer norm's fused kernels (schedule/fuse.ts): forward reads [x, weight, bias], the gradient [x, weight, dy]. */
function layerNorm(n: Tensor, g: Fused, grad: boolean): Launch {
  const [rows, C] = rowsOf(g.inputs[0].shape);
  const xhat = grad ? undefined : g.outputs?.[1]; // x̂ beside y, in training (fuse.ts, sides)
  return {
    shader: 'layer_norm',
    // Features a multiple of 4: every tensor is whole vec4s, read four features a load.
    defines: { GRAD: grad, XHAT: !!xhat, VEC4: C % 4 === 0 },
    uniform: UNIFORMS.layer_norm_dims.pack({ rows, C, eps: g.pattern!.attrs.eps }),
    bindings: [...g.inputs, n, ...(xhat ? [xhat] : [])],
    ...spread('layerNorm', rows, 64),
  };
}

export const NORM_FUSED_LAUNCHES = {
  layer_norm: (n, g) => layerNorm(n, g, false),
  layer_norm_grad: (n, g) => layerNorm(n, g, true),
} satisfies Partial<Record<FusedKernel, (n: Tensor, g: Fused) => Launch>>;

function dropout(n: Node<'dropout'>): Launch {
  // Re-read at every run: the counter's step changes between runs, and the pipeline must not be rebuilt for it.
  const params = () => {
    const { seed, step, threshold, scale } = dropoutParams(n);
    return UNIFORMS.dropout_params.pack({ n: n.size, seed, step, threshold, scale });
  };
  return { shader: 'dropout', defines: { ADVANCE: false }, uniform: params(), dynamicUniform: params, bindings: [n.inputs[0], n], ...spread(n.op, n.size, 256) };
}

/**
 * The counter is host state, so the advance happens on the host, in the dynamic-uniform hook that the executor calls
 * once per run, in plan order: effects come last, so every dropout launch of the run has already read the old step.
 * The device runs an empty kernel.
 */
function dropoutAdvance(n: Node<'dropout_advance'>): Launch {
  const c = n.attrs.counter;
  const empty = () => UNIFORMS.dropout_params.pack({ n: 0, seed: 0, step: 0, threshold: 0, scale: 0 });
  return { shader: 'dropout', defines: { ADVANCE: true }, uniform: empty(), dynamicUniform: () => { c.step = (c.step + 1) >>> 0; return empty(); }, bindings: [], workgroupSize: [1], workgroups: [1, 1, 1] };
}

/** Like dropout's, the uniform is re-read at every run, so each step of the counter draws anew without recompiling. */
function randn(n: Node<'randn'>): Launch {
  const params = () => UNIFORMS.randn_params.pack(randnParams(n));
  return { shader: 'randn', uniform: params(), dynamicUniform: params, bindings: [n], ...spread(n.op, n.size, 256) };
}

function runningUpdate(n: Node<'running_update'>): Launch {
  const [stat] = n.inputs;
  const { momentum, scale } = n.attrs;
  return { shader: 'running_update', uniform: UNIFORMS.running_update_params.pack({ n: stat.size, momentum, scale }), bindings: [...n.inputs], ...spread(n.op, stat.size, 64) };
}

export const NORM_WEBGPU_KERNELS = { dropout, dropout_advance: dropoutAdvance, randn, running_update: runningUpdate } satisfies WebGpuKernels;
