// WebGPU launches of the fused optimizer updates: shaders/optim.wgsl, one switch per rule, its uniform the rule's struct
// in contracts.ts. The uniform is rebuilt from the node's coefficient function at every run (the executor rewrites
// the buffer only when the bytes change).
import type { Node } from '../../graph/op_table.js';
import { Launch, WebGpuKernels, spread } from './launch.js';
import { packOptimHyper } from './contracts.js';

function optimStep(n: Node<'optim_step'>): Launch {
  const a = n.attrs, [p] = n.inputs;
  const bytes = () => packOptimHyper(a.rule, p.size, a.coefs() as unknown as Record<string, number>);
  return {
    shader: 'optim',
    defines: { SGD: a.rule === 'sgd', ADAM: a.rule === 'adam', RMSPROP: a.rule === 'rmsprop', ADAGRAD: a.rule === 'adagrad', ADADELTA: a.rule === 'adadelta', CENTERED: !!a.centered, MOMENTUM: !!a.momentum },
    uniform: bytes(),
    dynamicUniform: bytes,
    bindings: n.inputs.slice(),
    vec4: true,
    ...spread('optim_step', Math.ceil(p.size / 4), 256),
  };
}

export const OPTIM_WEBGPU_KERNELS = { optim_step: optimStep } satisfies WebGpuKernels;
