// The fused optimizer update: an effect node that reads the gradient and rewrites the parameter and its state slots
// in place, in one pass: `optim_step` for one parameter, `optim_multi` for all of a step's (laid out in arenas). Five update rules cover the seven optimizers in src/optim:
//   sgd       SGD, with momentum, Nesterov and weight decay;
//   adam      Adam, AdamW and NAdam (they differ only in host-side coefficients, see AdamCoefs);
//   rmsprop   RMSprop, with its momentum buffer and centred average when those are on;
//   adagrad, adadelta.
// Coefficients that depend on the step (bias corrections, NAdam's momentum schedule) or on the learning rate are
// computed on the host by the `coefs` attribute, which both backends call at every run: a schedule or a step counter
// changes a uniform, never the pipeline. Where a step may be skipped on the device, the step-dependent factors come
// instead as a `scales` input (STEP_SCALED). Decay rates come with their complements (beta1c = 1 − β1, ...) computed on
// the host in float64, as PyTorch passes `1 - beta2` from Python: in float32, 1 − 0.999 is off by 1.3e-5 relative.
import { Tensor } from './tensor.js';
import { ShapeError, fmt } from './shape.js';
import { node, needF32 } from './ops.js';
import * as ops from './ops.js';
import { isView } from './op_table.js';

export type { OptimRule, SgdCoefs, AdamCoefs, RmspropCoefs, AdagradCoefs, AdadeltaCoefs, OptimAttrs, OptimMultiAttrs } from './attrs.js';
export type { Arena } from './tensor.js';
import type { OptimAttrs, OptimMultiAttrs, OptimRule } from './attrs.js';

/** The state slots each rule binds after the parameter and the gradient, in binding order. */
export function slotNames(a: Pick<OptimAttrs, 'rule' | 'centered' | 'momentum'>): string[] {
  switch (a.rule) {
    // The velocity keeps the name SGD gave it when it had an op of its own, so checkpoints from then still load.
    case 'sgd': return ['momentum'];
    case 'adam': return ['exp_avg', 'exp_avg_sq'];
    case 'rmsprop': return ['square_avg', ...(a.centered ? ['grad_avg'] : []), ...(a.momentum ? ['momentum_buffer'] : [])];
    case 'adagrad': return ['sum'];
    case 'adadelta': return ['square_avg', 'acc_delta'];
  }
}

/**
 * The coefficients a `scales` input multiplies, in its order, per rule: those that depend on how many steps were taken
 * (Adam's bias corrections, NAdam's momentum schedule, Adagrad's decay). Where skipped steps must not count (PyTorch's
 * GradScaler skips optimizer.step() on an overflow), only the device knows that count.
 */
export const STEP_SCALED: Partial<Record<OptimRule, readonly string[]>> = { adam: ['gradCoef', 'momCoef', 'sqrtBc2'], adagrad: ['clr'] };

/** `c` with each of the rule's STEP_SCALED coefficients multiplied by its scale. */
export function scaleCoefs<C>(rule: OptimRule, c: C, scales: ArrayLike<number>): C {
  const out = { ...c } as Record<string, number>;
  (STEP_SCALED[rule] ?? []).forEach((k, i) => { out[k] *= scales[i]; });
  return out as C;
}

/** In-place update of parameter `p` and its state slots from gradient `g`; an effect node with no value. */
export function optimStep(p: Tensor, g: Tensor, slots: readonly Tensor[], attrs: OptimAttrs, skip?: Tensor, scales?: Tensor): Tensor {
  const op = `optimStep(${attrs.rule})`;
  checkStep(op, p, g, slots, attrs);
  if (skip) checkSkip(op, skip);
  if (scales) checkScales(op, attrs.rule, scales);
  return node('optim_step', [p, g, ...slots, ...(skip ? [skip] : []), ...(scales ? [scales] : [])], [], 'f32', { ...attrs, skip: !!skip, scales: !!scales });
}

function checkSkip(op: string, skip: Tensor): void {
  needF32(op, skip);
  if (skip.size !== 1) throw new ShapeError(op, `skip ${fmt(skip.shape)} must hold one value (a scalar: nonzero skips the step)`);
}

function checkScales(op: string, rule: OptimRule, scales: Tensor): void {
  needF32(op, scales);
  const n = STEP_SCALED[rule]?.length ?? 0;
  if (n === 0) throw new ShapeError(op, `rule ${rule} has no coefficient that depends on the step count, so it takes no scales`);
  if (fmt(scales.shape) !== fmt([n])) throw new ShapeError(op, `scales ${fmt(scales.shape)} must be [${n}] (${STEP_SCALED[rule]!.join(', ')})`);
}

/** Arena offsets are multiples of this many floats: 256 bytes, WebGPU's minStorageBufferOffsetAlignment. */
export const ARENA_ALIGN = 64;

/** Offsets (floats) of variables of `sizes` laid out one after another at ARENA_ALIGN, and the arena's length. */
export function arenaLayout(sizes: readonly number[]): { offsets: number[]; size: number } {
  let at = 0;
  const offsets = sizes.map((n) => { const o = at; at += Math.ceil(Math.max(n, 1) / ARENA_ALIGN) * ARENA_ALIGN; return o; });
  return { offsets, size: at };
}

const LEAVES = new Set(['input', 'param', 'const']);

/**
 * One in-place update of every parameter of `ps` (the same rule and coefficients for all). The backward writes each
 * gradient straight into its sub-range of the step's gradient arena (schedule/plan.ts), so a gradient must be a
 * value computed in the step, and the only one of its buffer: a leaf (an unused parameter's zero gradient) or a
 * second view of one buffer is copied once here.
 */
export function optimMulti(ps: readonly Tensor[], gs: readonly Tensor[], slots: readonly (readonly Tensor[])[], attrs: OptimAttrs & { counter: { step: number } },
  o: { offsets: readonly number[]; size: number; skip?: Tensor; guard?: Tensor; scales?: Tensor }): Tensor {
  const op = `optimMulti(${attrs.rule})`;
  if (ps.length === 0 || ps.length !== gs.length || ps.length !== slots.length || o.offsets.length !== ps.length) {
    throw new ShapeError(op, `${ps.length} parameters, ${gs.length} gradients, ${slots.length} slot lists and ${o.offsets.length} offsets (expected as many of each, at least one)`);
  }
  ps.forEach((p, k) => checkStep(op, p, gs[k], slots[k], attrs));
  if (o.skip) checkSkip(op, o.skip);
  if (o.scales) checkScales(op, attrs.rule, o.scales);
  if (o.guard && (o.guard.op !== 'param' || o.guard.size !== 1)) throw new ShapeError(op, `the guard's latch ${fmt(o.guard.shape)} must be a Variable of one element`);
  const root = (t: Tensor): Tensor => (isView(t) ? root(t.inputs[0]) : t);
  const seen = new Set<Tensor>();
  const placeable = gs.map((g) => {
    const r = root(g);
    if (LEAVES.has(r.op) || seen.has(r) || r.size !== g.size) return ops.add(g, 0);
    seen.add(r);
    return g;
  });
  const width = slotNames(attrs).length;
  const inputs = [...ps, ...placeable, ...Array.from({ length: width }, (_, j) => slots.map((s) => s[j])).flat(), ...(o.skip ? [o.skip] : []), ...(o.guard ? [o.guard] : []), ...(o.scales ? [o.scales] : [])];
  const a: OptimMultiAttrs = { ...attrs, count: ps.length, offsets: o.offsets, size: o.size, skip: !!o.skip, guard: !!o.guard, scales: !!o.scales };
  return node('optim_multi', inputs, [], 'f32', a);
}

/** optim_step's inputs by role: the parameter, its gradient, its slots, then `skip` and `scales` where present. */
export function stepInputs<T>(n: { inputs: readonly T[]; attrs: OptimAttrs }): { p: T; g: T; slots: T[]; skip?: T; scales?: T } {
  const xs = n.inputs, end = xs.length - +!!n.attrs.skip - +!!n.attrs.scales;
  return { p: xs[0], g: xs[1], slots: xs.slice(2, end), skip: n.attrs.skip ? xs[end] : undefined, scales: n.attrs.scales ? xs[xs.length - 1] : undefined };
}

/** optim_multi's inputs by role (see OptimMultiAttrs); T is a Tensor, or a backend's array for it. */
export function multiInputs<T>(n: { inputs: readonly T[]; attrs: OptimMultiAttrs }): { ps: readonly T[]; gs: readonly T[]; slots: T[][]; skip?: T; guard?: T; scales?: T } {
  const K = n.attrs.count, xs = n.inputs, width = slotNames(n.attrs).length;
  const slots = Array.from({ length: width }, (_, j) => xs.slice(2 * K + j * K, 2 * K + (j + 1) * K));
  let at = 2 * K + width * K;
  const skip = n.attrs.skip ? xs[at++] : undefined;
  const guard = n.attrs.guard ? xs[at++] : undefined;
  const scales = n.attrs.scales ? xs[at++] : undefined;
  return { ps: xs.slice(0, K), gs: xs.slice(K, 2 * K), slots, skip, guard, scales };
}

function checkStep(op: string, p: Tensor, g: Tensor, slots: readonly Tensor[], attrs: OptimAttrs): void {
  const names = slotNames(attrs);
  if (slots.length !== names.length) throw new ShapeError(op, `got ${slots.length} state slots, expected ${names.length} (${names.join(', ')})`);
  needF32(op, p, g, ...slots);
  const named: [string, Tensor][] = [['gradient', g], ...slots.map((s, i): [string, Tensor] => [names[i], s])];
  for (const [name, t] of named) {
    if (fmt(t.shape) !== fmt(p.shape)) throw new ShapeError(op, `${name} ${fmt(t.shape)} does not match parameter ${fmt(p.shape)} (expected the same shape)`);
  }
  if (p.op !== 'param' || slots.some((s) => s.op !== 'param')) throw new ShapeError(op, 'the parameter and its state slots must be Variables (they are updated in place)');
}
