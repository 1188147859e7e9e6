// The scheduler: turns the tensors a caller wants (outputs) and the updates it wants applied (effects) into one
// ordered list of kernel launches with buffer assignments. Both backends execute the same plan, which is what
// lets the parity checker compare them node by node.
//
// Buffers: feeds, variables and constants have their own buffers; every other value lives in a temporary slot,
// and a slot is reused once the last reader of its value has run (liveness), so a step's memory is the peak of
// what is live at once rather than the sum of every intermediate. Views (reshape) share their input's buffer, and so
// do slices that are a contiguous run of it, at an offset; a concat of contiguous runs has its inputs computed in
// place (src/schedule/in_place.ts).
import { Tensor, Variable, variableOf } from '../graph/tensor.js';
import { fmt } from '../graph/shape.js';
import { topoSort } from '../graph/topo.js';
import { OP_FACTS, OpName, isOp, isView, isEffect, factsOf, Node, isUnary, isBinary } from '../graph/op_table.js';
import { fuse, Fused, absorbedBy, writtenBy } from './fuse.js';
import { multiInputs } from '../graph/optim_ops.js';
import { sliceRun, concatRuns } from './in_place.js';
import { UserError, OptionError } from '../util/errors.js';
import type { Precision } from '../graph/f16.js';

/** Ops that update variables in place and produce no value; they run after every other node of the step. */
export const EFFECT_OPS: ReadonlySet<OpName> = new Set((Object.keys(OP_FACTS) as OpName[]).filter((op) => 'effect' in OP_FACTS[op]));
export { isView, isEffect };

export type BufferKind = 'temp' | 'input' | 'variable' | 'const' | 'arena' | 'slice';
export interface PlannedBuffer {
  kind: BufferKind;
  bytes: number;
  /** kind 'slice': `bytes` from byte `offset` of buffer `parent` (an 'arena': the gradients of one optim_multi). */
  parent?: number;
  offset?: number;
  variable?: Variable; // kind 'variable'
  value?: number; // kind 'const': every element holds it
  input?: Tensor; // kind 'input'
}

export interface Plan {
  /** Kernels to launch, in order: forward, backward, then effects. */
  steps: Tensor[];
  /** Steps that run a fused group of nodes as one kernel (see fuse.ts), keyed by the group's last node. */
  fused: Map<Tensor, Fused>;
  /** Every node's buffer (views share their input's). Effects have none. */
  bufferOf: Map<Tensor, number>;
  buffers: PlannedBuffer[];
  inputs: Tensor[];
  outputs: Tensor[];
  /**
   * Host step counters that advance once per run, after it: an optimizer's step count (its bias correction), shared
   * by its per-parameter update nodes. Dropout's counter is not here: its own effect node advances it.
   */
  counters: { step: number }[];
  /**
   * Steps whose value is stored in half precision (compiled with precision 'f16'): see halfStored. The WebGPU
   * kernels write and read these buffers as f16; the CPU reference rounds the same values to f16 after computing them.
   */
  half: ReadonlySet<Tensor>;
  /** Temp bytes with slot reuse vs. one buffer per value: what liveness saved. */
  stats: { kernels: number; tempBytes: number; tempBytesWithoutReuse: number };
}

/** What a step reads: a fused group's inputs, or the node's own. */
export const stepInputs = (p: Pick<Plan, 'fused'>, s: Tensor): readonly Tensor[] => p.fused.get(s)?.inputs ?? s.inputs;

export interface PlanOptions {
  fuse?: boolean;
  /** 'f16': activations and gradients between f16-capable kernels are stored in half precision (halfStored). ['f32'] */
  precision?: Precision;
  /** With precision 'f16', outputs may be stored in f16 too (read() widens them): the parity check reads every node so. */
  halfOutputs?: boolean;
}

/**
 * Kernels that read and write any of their tensors as f16 (a shader switch per binding; the rest keep float32
 * storage: softmax-xent, layer norm, attention, pooling, im2col, the optimizer, ...): elementwise functions and
 * transposes, sums, and matmuls with their fused epilogues. All of them compute and accumulate in f32.
 */
export function halfCapable(p: Pick<Plan, 'fused'>, s: Tensor): boolean {
  const g = p.fused.get(s);
  // A fused group runs one of its head's kernels: pool's backward under a ReLU is a pool kernel, float32 storage.
  if (g) return !g.pattern && g.nodes.every(halfOp);
  return halfOp(s);
}
const halfOp = (s: Tensor): boolean => isUnary(s) || isBinary(s) || s.op === 'transpose' || s.op === 'sum' || s.op === 'matmul';

/** Values smaller than this keep float32 under precision 'f16' (halfStored). */
const HALF_MIN_SIZE = 64;

/**
 * The steps stored in f16: float32 values that a half-capable kernel computes and only half-capable kernels read,
 * and that are not outputs (read() returns float32). Feeds, variables (the float32 master weights) and constants
 * keep float32, as does every value an effect (an optimizer update, a running statistic) reads, and every value of
 * fewer than HALF_MIN_SIZE elements: halving those saves nothing, and they are the step's bookkeeping (the loss
 * scale's count, the optimizer's step clock: 1 − 0.999 is 0.0010004 in f16).
 */
function halfStored(steps: readonly Tensor[], fused: Plan['fused'], outputs: readonly Tensor[], root: (t: Tensor) => Tensor, halfOutputs = false): Set<Tensor> {
  const p = { fused };
  const half = new Set(steps.filter((s) => s.dtype === 'f32' && s.size >= HALF_MIN_SIZE && !isEffect(s) && halfCapable(p, s)));
  if (!halfOutputs) for (const o of outputs) half.delete(root(o));
  for (const s of steps) if (!halfCapable(p, s)) for (const x of stepInputs(p, s)) half.delete(root(x));
  return half;
}

/** Whether `t` (or the value a view of it shows) is stored as f16 in plan `p`. */
export function isHalf(p: Pick<Plan, 'half'>, t: Tensor): boolean {
  while (isView(t)) t = t.inputs[0];
  return p.half.has(t);
}

/** Bytes of a value's buffer: 4 per element, 2 when stored as f16 (rounded up to whole words). */
export const storedBytes = (t: Tensor, half: boolean): number => (half ? Math.ceil(t.size / 2) * 4 : t.size * 4);

export function plan(outputs: readonly Tensor[], effects: readonly Tensor[] = [], o: PlanOptions = {}): Plan {
  for (const e of effects) if (!isEffect(e)) throw new OptionError(`plan: ${e} is not an update op (expected one of ${[...EFFECT_OPS]})`);
  const order = topoSort([...outputs, ...effects]);
  const fused = o.fuse === false ? new Map<Tensor, Fused>() : fuse(order, outputs);
  // What a fused step absorbs, and the values it writes beside its own node, are no steps of their own.
  const absorbed = new Set([...fused].flatMap(([s, g]) => [...absorbedBy(g), ...writtenBy(s, g).filter((t) => t !== s)]));
  const own = (n: Tensor) => !isLeaf(n) && !isView(n) && !isEffect(n) && !absorbed.has(n);
  const { at, parts, wholes } = inPlace(order, fused, own, effects, o.precision === 'f16');
  const steps = [...order.filter((n) => own(n) && !at.has(n) && !wholes.has(n)), ...order.filter((n) => isEffect(n))];

  const buffers: PlannedBuffer[] = [];
  const bufferOf = new Map<Tensor, number>();
  const newBuffer = (b: PlannedBuffer) => buffers.push(b) - 1;
  const bytes = (t: Tensor) => t.size * 4;
  const inputs: Tensor[] = [];
  for (const n of order) {
    if (n.op === 'input') { bufferOf.set(n, newBuffer({ kind: 'input', bytes: bytes(n), input: n })); inputs.push(n); }
    else if (n.op === 'param') bufferOf.set(n, newBuffer({ kind: 'variable', bytes: bytes(n), variable: variableOf(n) }));
    else if (isOp(n, 'const')) bufferOf.set(n, newBuffer({ kind: 'const', bytes: bytes(n), value: n.attrs.value }));
  }
  // Two variables with the same Variable object must share one buffer.
  const byVar = new Map<Variable, number>();
  for (const [n, b] of bufferOf) if (buffers[b].variable) {
    const v = buffers[b].variable!;
    if (byVar.has(v)) bufferOf.set(n, byVar.get(v)!); else byVar.set(v, b);
  }

  // The value whose buffer a tensor reads: through views and in-place slices. (A concat computed in place is its own.)
  const root = (t: Tensor): Tensor => (isView(t) || at.has(t) ? root(t.inputs[0]) : t);
  const half = o.precision === 'f16' ? halfStored(steps, fused, outputs, root, o.halfOutputs) : new Set<Tensor>();
  // A multi-tensor update's gradients are computed straight into their sub-ranges of one arena, laid out as its
  // parameters are, so one kernel reaches them all with no copy (optimMulti made each the only value of its buffer).
  const computed = new Set(steps.filter((s) => !isEffect(s)).flatMap((s) => writtenBy(s, fused.get(s))));
  for (const e of effects) {
    if (!isOp(e, 'optim_multi')) continue;
    const arena = newBuffer({ kind: 'arena', bytes: e.attrs.size * 4 });
    multiInputs(e).gs.forEach((g, k) => {
      const r = root(g);
      if (!computed.has(r) || bufferOf.has(r)) throw new Error(`plan: gradient ${g} of ${e} cannot be placed in its arena (its value is ${computed.has(r) ? 'placed already' : 'not computed by a step of its own'})`);
      bufferOf.set(r, newBuffer({ kind: 'slice', bytes: r.size * 4, parent: arena, offset: e.attrs.offsets[k] * 4 }));
    });
  }

  // Liveness: the last step that reads each value (through views). Outputs live to the end. A concat computed in
  // place lives while any of its parts is read, and its parts have no slots of their own.
  const lastUse = new Map<Tensor, number>();
  steps.forEach((s, i) => stepInputs({ fused }, s).forEach((x) => lastUse.set(root(x), i)));
  for (const o of outputs) lastUse.set(root(o), Infinity);
  for (const [part, { whole }] of parts) {
    const u = Math.max(lastUse.get(part) ?? -1, lastUse.get(whole) ?? -1);
    lastUse.delete(part);
    if (u >= 0) lastUse.set(whole, u);
  }

  const free: number[] = [];
  const dying: Tensor[][] = steps.map(() => []);
  for (const [t, i] of lastUse) if (i !== Infinity && !bufferOf.has(t)) dying[i].push(t);
  let naive = 0;
  steps.forEach((s, i) => {
    // A step writing several values (Fused.outputs) needs them all at once: none is given a slot another frees here.
    const unread: number[] = [];
    for (const w of isEffect(s) ? [] : writtenBy(s, fused.get(s))) {
      if (bufferOf.has(w)) continue;
      // A part of a concat computed in place: the concat takes its slot when its first part is written.
      const part = parts.get(w), t = part ? part.whole : w;
      if (part && bufferOf.has(t)) { bufferOf.set(w, newBuffer({ kind: 'slice', bytes: w.size * 4, parent: bufferOf.get(t)!, offset: part.offset * 4 })); continue; }
      const need = storedBytes(t, half.has(t));
      naive += need;
      // Best fit among free slots; grow the largest if none is big enough, else make a new one.
      let pick = -1;
      for (let k = 0; k < free.length; k++) {
        const b = buffers[free[k]].bytes;
        if (b >= need && (pick < 0 || b < buffers[free[pick]].bytes)) pick = k;
      }
      const slot = pick >= 0 ? free.splice(pick, 1)[0] : newBuffer({ kind: 'temp', bytes: need });
      bufferOf.set(t, slot);
      if (!lastUse.has(t)) unread.push(slot); // computed but never read (e.g. a dead branch): reuse at once
      if (part) bufferOf.set(w, newBuffer({ kind: 'slice', bytes: w.size * 4, parent: slot, offset: part.offset * 4 }));
    }
    free.push(...unread);
    for (const t of dying[i]) free.push(bufferOf.get(t)!);
  });
  // Views share their input's buffer; an in-place slice is a range of its input's (the run of a slot, not of a range).
  for (const n of order) {
    if (isView(n)) bufferOf.set(n, bufferOf.get(n.inputs[0])!);
    else if (at.has(n)) {
      let parent = bufferOf.get(n.inputs[0])!, offset = at.get(n)! * 4;
      if (buffers[parent].kind === 'slice') { offset += buffers[parent].offset!; parent = buffers[parent].parent!; }
      bufferOf.set(n, newBuffer({ kind: 'slice', bytes: n.size * 4, parent, offset }));
    }
  }

  const tempBytes = buffers.filter((b) => b.kind === 'temp').reduce((a, b) => a + b.bytes, 0);
  const counters = [...new Set(effects.flatMap((e) => ((isOp(e, 'optim_step') || isOp(e, 'optim_multi')) && e.attrs.counter ? [e.attrs.counter] : [])))];
  return { steps, fused, bufferOf, buffers, inputs, outputs: [...outputs], counters, half, stats: { kernels: steps.length, tempBytes, tempBytesWithoutReuse: naive } };
}

const isLeaf = (n: Tensor) => n.op === 'input' || n.op === 'param' || n.op === 'const';

/**
 * The copies the plan skips (in_place.ts): `at`, slices read in place, with their offsets in elements; `parts`, the
 * values computed into their concat's buffer, with the concat and the offset; `wholes`, those concats, no steps.
 * A slice reads in place from a computed value or a feed; not from a variable (whose buffer may move into an
 * arena), and not where it is an optimizer's gradient (whose buffer is its range of a gradient arena). A concat's
 * parts must be values that steps compute, each in one concat only, and no step writing one may read any value in
 * the same buffer: WebGPU does not bind one buffer both for reading and for writing in a dispatch. Not with f16
 * storage, whose offsets would differ between the backends.
 */
function inPlace(order: readonly Tensor[], fused: Map<Tensor, Fused>, own: (n: Tensor) => boolean, effects: readonly Tensor[], half: boolean) {
  const at = new Map<Tensor, number>(), parts = new Map<Tensor, { whole: Tensor; offset: number }>(), wholes = new Set<Tensor>();
  if (half) return { at, parts, wholes };
  const under = (t: Tensor): Tensor => (isView(t) ? under(t.inputs[0]) : t);
  const gradients = new Set(effects.filter((e) => isOp(e, 'optim_multi')).flatMap((e) => multiInputs(e as Node<'optim_multi'>).gs.map(under)));
  const writer = new Map<Tensor, Tensor>();
  for (const n of order) if (own(n)) for (const w of writtenBy(n, fused.get(n))) writer.set(w, n);
  for (const n of order) {
    if (!own(n) || fused.has(n)) continue;
    if (isOp(n, 'slice')) {
      const x = under(n.inputs[0]), run = sliceRun(n);
      if (run !== undefined && !gradients.has(n) && (x.op === 'input' || writer.has(x))) at.set(n, run);
    } else if (isOp(n, 'concat')) {
      // Parts are values a step writes: not in-place slices or concats, which have no step.
      const runs = concatRuns(n), xs = n.inputs.map(under);
      if (!runs || gradients.has(n) || new Set(xs).size !== xs.length || xs.some((x) => !writer.has(x) || parts.has(x) || at.has(x) || wholes.has(x) || gradients.has(x))) continue;
      // Every value in the concat's buffer: its parts, and views and in-place slices of them, found in order.
      const inside = new Set<Tensor>([n, ...xs]);
      for (const t of order) if ((isView(t) || at.has(t)) && inside.has(t.inputs[0])) inside.add(t);
      if (xs.some((x) => stepInputs({ fused }, writer.get(x)!).some((i) => inside.has(i)))) continue;
      xs.forEach((x, k) => parts.set(x, { whole: n, offset: runs[k] }));
      wholes.add(n);
    }
  }
  return { at, parts, wholes };
}

export type Feed = Float32Array | Int32Array;
export type Feeds = Map<Tensor, Feed>;

const article = (name: string) => `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`;

/** What a feed was, for an error message: its class and length, or its type when it is no array at all. */
function describe(f: unknown): string {
  if (f === null || typeof f !== 'object') return f === null ? 'null' : typeof f;
  const len = (f as { length?: unknown }).length;
  return `${article(f.constructor?.name ?? 'Object')}${typeof len === 'number' ? ` of ${len} elements` : ''}`;
}

/** A feed that does not fit its input: missing, the wrong array type (a Float64Array or a plain array), the wrong length, a label out of range. */
export class FeedError extends UserError {
  override name = 'FeedError';
}

/**
 * Host-side checks before anything is sent to a device: a GPU kernel cannot throw, so a wrong length, dtype or an
 * out-of-range label is caught here, with the op and shapes named, rather than read as garbage on the device. The
 * array type must match exactly: WebGPU copies a feed's bytes, so a Float64Array or a Uint8Array would be
 * reinterpreted there while the CPU read its values, and the two backends would silently disagree.
 * With `checkFinite` (the default), a NaN or an infinity in a float feed is a NonFiniteInputError.
 */
export function checkFeeds(p: Plan, feeds: Feeds, o: { checkFinite?: boolean } = {}): void {
  if (!(feeds instanceof Map)) throw new FeedError(`run: feeds must be a Map from input tensors to typed arrays, got ${describe(feeds)}`);
  for (const t of p.inputs) {
    const f: unknown = feeds.get(t);
    const Want = t.dtype === 'i32' ? Int32Array : Float32Array;
    const want = `${article(Want.name)} of ${t.size} elements for shape ${fmt(t.shape)}`;
    if (f === undefined) throw new FeedError(`run: no value fed for input '${t.name}' (expected ${want})`);
    if (!(f instanceof Want) || f.length !== t.size) {
      const hint = f instanceof Want ? '' : `; convert with ${Want.name}.from(...)`;
      throw new FeedError(`run: input '${t.name}' got ${describe(f)} (expected ${want}${hint})`);
    }
  }
  if (o.checkFinite ?? true) checkFiniteFeeds(new Map(p.inputs.map((t) => [t, feeds.get(t)!])));
  for (const s of p.steps) {
    const check = factsOf(s).labels;
    if (!check) continue;
    const [logits] = s.inputs;
    let labels = s.inputs[check.input];
    while (isView(labels)) labels = labels.inputs[0]; // labels fed as [B,1] and reshaped are still checked
    const f = feeds.get(labels);
    if (!f) continue;
    const C = check.classes(s as Node), ignore = check.ignore?.(s as Node);
    for (let i = 0; i < f.length; i++) {
      if (f[i] >= 0 && f[i] < C) continue;
      if (f[i] === ignore) continue;
      if (check.message) throw new FeedError(check.message(s as Node, f[i], i));
      const also = ignore === undefined ? '' : ` or the ignore index ${ignore}`;
      throw new FeedError(`softmaxCrossEntropy: label ${f[i]} at batch index ${i} is out of range for logits ${fmt(logits.shape)} (expected an integer in [0, ${C - 1}]${also})`);
    }
  }
}

/** A NaN or an infinity in a float feed: checked before a step runs, since on the device they spread silently into every weight. */
export class NonFiniteInputError extends UserError {
  constructor(readonly input: string, readonly index: number, readonly value: number, shape: readonly number[]) {
    super(`run: input '${input}' ${fmt(shape)} holds ${value} at flat index ${index} (expected finite values; to allow them, pass { checkFinite: false } to run(), or set a trainer's checkFinite to false)`);
    this.name = 'NonFiniteInputError';
  }
}

/** Throws NonFiniteInputError for the first NaN or ±Inf in any float feed. One pass over the batch: cheap next to a step. */
export function checkFiniteFeeds(feeds: Feeds): void {
  for (const [t, f] of feeds) {
    if (!(f instanceof Float32Array)) continue;
    for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i])) throw new NonFiniteInputError(t.name ?? `${t}`, i, f[i], t.shape);
  }
}
