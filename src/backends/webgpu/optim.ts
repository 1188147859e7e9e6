// WebGPU launches of the fused optimizer updates: shaders/optim.wgsl, one switch per rule, its uniform the rule's struct
// in contracts.ts. The uniform is rebuilt from the node's coefficient function at every run (the executor rewrites
// the buffer only when the bytes change).
import type { Node } from '../../graph/op_table.js';
import type { Tensor } from '../../graph/tensor.js';
import { multiInputs, stepInputs, OptimAttrs } from '../../graph/optim_ops.js';
import { Binding, Launch, WebGpuKernels, grid, spread } from './launch.js';
import { packOptimHyper } from './contracts.js';

const WG = 256;
/**
 * optim_multi: 64 invocations a workgroup, each updating 16 vec4s (a chunk of 1,024 vec4s). Fewer, fatter invocations
 * suit lavapipe, which runs a workgroup on one thread in 8-lane steps: the MLP's update (235k parameters, SGD with
 * momentum) took 0.52-0.56 ms against 0.82-0.86 ms with one vec4 per invocation in workgroups of 256 (profile, batch
 * 32, 40 runs each, alternated, load 0.7-0.9); 4 or 8 vec4s an invocation fell between, 32 and more gained nothing.
 */
const MULTI_WG = 64, MULTI_PER_INVOCATION = 16;
/** Bindings 3..5 are the state slots; the switches' bindings sit after them (shaders/optim.wgsl: skip 6, scales 9). */
const SLOT_BINDINGS = 3;

const rules = (a: OptimAttrs) => ({ SGD: a.rule === 'sgd', ADAM: a.rule === 'adam', RMSPROP: a.rule === 'rmsprop', ADAGRAD: a.rule === 'adagrad', ADADELTA: a.rule === 'adadelta', CENTERED: !!a.centered, MOMENTUM: !!a.momentum });

/** p, g and the slots, then nulls up to the skip flag's binding. */
const withSlots = (pg: Binding[], slots: Binding[]): Binding[] => [...pg, ...slots, ...Array<null>(SLOT_BINDINGS - slots.length).fill(null)];

function optimStep(n: Node<'optim_step'>): Launch {
  const a = n.attrs, { p, g, slots, skip, scales } = stepInputs(n);
  const bytes = () => packOptimHyper(a.rule, p.size, a.coefs() as unknown as Record<string, number>);
  return {
    shader: 'optim',
    defines: { ...rules(a), MULTI: false, SKIP: !!skip, GUARD: false, SCALES: !!scales },
    uniform: bytes(),
    dynamicUniform: bytes,
    bindings: skip || scales ? [...withSlots([p, g], slots), skip ?? null, ...(scales ? [null, null, scales] : [])] : n.inputs.slice(),
    vec4: true,
    ...spread('optim_step', Math.ceil(p.size / 4), 256),
  };
}

/**
 * Each workgroup's chunk of the arena: [first vec4, end vec4, the parameter's end element, 0], MULTI_WG ·
 * MULTI_PER_INVOCATION vec4s or a parameter's last few, never crossing a parameter.
 */
export function multiTable(ps: readonly Tensor[], offsets: readonly number[]): Uint32Array {
  const per = MULTI_WG * MULTI_PER_INVOCATION;
  const rows: number[] = [];
  ps.forEach((p, k) => {
    const start = offsets[k] / 4, end = start + Math.ceil(p.size / 4);
    for (let s = start; s < end; s += per) rows.push(s, Math.min(s + per, end), offsets[k] + p.size, 0);
  });
  return Uint32Array.from(rows);
}

function optimMulti(n: Node<'optim_multi'>): Launch {
  const a = n.attrs, { ps, gs, slots, skip, guard, scales } = multiInputs(n);
  // n carries the step number, which the guard latches (shaders/optim.wgsl, MULTI).
  const bytes = () => packOptimHyper(a.rule, a.counter.step + 1, a.coefs() as unknown as Record<string, number>);
  const span = (ts: readonly Tensor[]) => ({ span: ts, offsets: a.offsets.map((o) => (o - a.offsets[0]) * 4), bytes: (a.size - a.offsets[0]) * 4 });
  const table = multiTable(ps, a.offsets);
  return {
    shader: 'optim',
    defines: { ...rules(a), MULTI: true, SKIP: !!skip, GUARD: !!guard, SCALES: !!scales },
    uniform: bytes(),
    dynamicUniform: bytes,
    bindings: [...withSlots([span(ps), span(gs)], slots.map(span)), skip ?? null, { table }, guard ?? null, ...(scales ? [scales] : [])],
    vec4: true,
    workgroupSize: [MULTI_WG],
    workgroups: grid('optim_multi', table.length / 4),
    constants: { WG: MULTI_WG },
  };
}

export const OPTIM_WEBGPU_KERNELS = { optim_step: optimStep, optim_multi: optimMulti } satisfies WebGpuKernels;
