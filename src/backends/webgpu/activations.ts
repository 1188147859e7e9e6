// WebGPU launches of the last-axis activations (the pointwise ones run on the elementwise kernel through the
// elementwise table). Both kernels take one invocation per row or group on a 1-D grid.
import { Tensor } from '../../graph/tensor.js';
import { rowsOf } from '../../graph/activations.js';
import type { Node } from '../../graph/op_table.js';
import { Launch, WebGpuKernels, grid, u32s } from './launch.js';
import maxout from '../../../shaders/maxout.wgsl';
import log_softmax from '../../../shaders/log_softmax.wgsl';

export const ACTIVATION_SHADERS: Record<string, string> = { maxout, log_softmax };

/** One invocation per output of maxout (forward: n is that output; backward: dy is). */
function maxoutLaunch(n: Node<'maxout' | 'maxout_grad'>, grad: boolean): Launch {
  const outs = grad ? n.inputs[1].size : n.size;
  return {
    shader: 'maxout',
    defines: { GRAD: grad },
    uniform: u32s([outs, n.attrs.k]),
    bindings: [...n.inputs, n],
    workgroups: grid(n.op, Math.ceil(outs / 256)),
  };
}

function logSoftmaxLaunch(n: Tensor, grad: boolean): Launch {
  const [rows, C] = rowsOf(n.shape);
  return {
    shader: 'log_softmax',
    defines: { GRAD: grad },
    uniform: u32s([rows, C]),
    bindings: [...n.inputs, n],
    workgroups: grid(n.op, Math.ceil(rows / 64)),
  };
}

export const ACTIVATION_WEBGPU_KERNELS = {
  maxout: (n) => maxoutLaunch(n, false),
  maxout_grad: (n) => maxoutLaunch(n, true),
  log_softmax: (n) => logSoftmaxLaunch(n, false),
  log_softmax_grad: (n) => logSoftmaxLaunch(n, true),
} satisfies WebGpuKernels;
