// WebGPU launches of the last-axis activations (the pointwise ones run on the elementwise kernel through the
// elementwise table). Both kernels take one invocation per row or group on a 1-D grid.
import { Tensor } from '../../graph/tensor.js';
import { rowsOf } from '../../graph/activations.js';
import type { Node } from '../../graph/op_table.js';
import { Launch, WebGpuKernels, spread } from './launch.js';
import { UNIFORMS } from './contracts.js';

/** One invocation per output of maxout (forward: n is that output; backward: dy is). */
function maxoutLaunch(n: Node<'maxout' | 'maxout_grad'>, grad: boolean): Launch {
  const outs = grad ? n.inputs[1].size : n.size;
  return {
    shader: 'maxout',
    defines: { GRAD: grad },
    uniform: UNIFORMS.maxout_dims.pack({ outs, k: n.attrs.k }),
    bindings: [...n.inputs, n],
    ...spread(n.op, outs, 256),
  };
}

function logSoftmaxLaunch(n: Tensor, grad: boolean): Launch {
  const [rows, C] = rowsOf(n.shape);
  return {
    shader: 'log_softmax',
    defines: { GRAD: grad, ROW_MAX: false },
    uniform: UNIFORMS.log_softmax_dims.pack({ rows, C }),
    bindings: [...n.inputs, n],
    ...spread(n.op, rows, 64),
  };
}

/** maxout(log_softmax(x), C), one fused group (schedule/fuse.ts): each row's largest log-probability into `n`. */
export function logSoftmaxRowMax(n: Tensor, ls: Tensor): Launch {
  const l = logSoftmaxLaunch(ls, false);
  return { ...l, defines: { ...l.defines, ROW_MAX: true }, bindings: [ls.inputs[0], n] };
}

export const ACTIVATION_WEBGPU_KERNELS = {
  maxout: (n) => maxoutLaunch(n, false),
  maxout_grad: (n) => maxoutLaunch(n, true),
  log_softmax: (n) => logSoftmaxLaunch(n, false),
  log_softmax_grad: (n) => logSoftmaxLaunch(n, true),
} satisfies WebGpuKernels;
