// WebGPU launches of the fused optimizer updates: shaders/optim.wgsl, one switch per rule. The uniform is rebuilt
// from the node's coefficient function at every run (the executor rewrites the buffer only when the bytes change).
import { OptimRule } from '../../graph/optim_ops.js';
import type { Node } from '../../graph/op_table.js';
import { Launch, WebGpuKernels, grid } from './launch.js';
import optim from '../../../shaders/optim.wgsl';

export const OPTIM_SHADERS: Record<string, string> = { optim };

/** The f32 fields of each rule's `Hyper` struct in shaders/optim.wgsl after its leading `n: u32`, in order. */
const FIELDS: Record<OptimRule, string[]> = {
  sgd: ['lr', 'momentum', 'l2', 'nesterov'],
  adam: ['beta1', 'beta1c', 'beta2', 'beta2c', 'eps', 'sqrtBc2', 'l2', 'decay', 'gradCoef', 'momCoef'],
  rmsprop: ['lr', 'alpha', 'alphac', 'eps', 'l2', 'momentum'],
  adagrad: ['clr', 'eps', 'l2'],
  adadelta: ['lr', 'rho', 'rhoc', 'eps', 'l2'],
};

function optimStep(n: Node<'optim_step'>): Launch {
  const a = n.attrs, [p] = n.inputs, fields = FIELDS[a.rule];
  const bytes = () => {
    const c = a.coefs() as unknown as Record<string, number>;
    const b = new ArrayBuffer(Math.ceil((1 + fields.length) / 4) * 16), u = new Uint32Array(b), f = new Float32Array(b);
    u[0] = p.size;
    fields.forEach((k, i) => {
      if (typeof c[k] !== 'number') throw new Error(`optim_step(${a.rule}): coefficient '${k}' is missing (got ${Object.keys(c).join(', ')})`);
      f[1 + i] = c[k];
    });
    return b;
  };
  return {
    shader: 'optim',
    defines: { SGD: a.rule === 'sgd', ADAM: a.rule === 'adam', RMSPROP: a.rule === 'rmsprop', ADAGRAD: a.rule === 'adagrad', ADADELTA: a.rule === 'adadelta', CENTERED: !!a.centered, MOMENTUM: !!a.momentum },
    uniform: bytes(),
    dynamicUniform: bytes,
    bindings: n.inputs.slice(),
    workgroups: grid('optim_step', Math.ceil(p.size / 256)),
  };
}

export const OPTIM_WEBGPU_KERNELS = { optim_step: optimStep } satisfies WebGpuKernels;
