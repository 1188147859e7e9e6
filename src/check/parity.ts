// The parity checker: one step of a user's graph on the GPU and on the CPU reference, compared node by node.
//
// Both backends run the same plan from the same variable values and feeds, with every computed node kept as an
// output (so liveness reuses none of their buffers and each can be read afterwards). Errors propagate: a wrong
// kernel makes its own node fail and, usually, every node downstream of it. So the node to blame is the FIRST one in
// topological order that exceeds its tolerance, which is why the report names `firstFailure`.
//
// Tolerance, per element:  |gpu - cpu| <= atol + rtol·|cpu|, with
//   atol = (1e-6 + 1e-6·sqrt(K)·max|cpu|) · tolerance,   rtol = 1e-4 · tolerance   (tolerance: a factor, default 1)
// The CPU accumulates in float64 and the GPU in float32, whose rounding grows like eps32·sqrt(K)·|sum| for a sum of K
// terms; atol keeps a ~15x margin over that while still catching one dropped or doubled term. Unlike the single-op
// parity tests, a node here also carries the rounding of every node before it, so K is the longest reduction on any
// path into the node (matmul inner dim, product of the summed axes, softmax classes, window taps; 1 for elementwise),
// not just its own: with its own K only, the bias add after a K=256 GEMM uses 106% of its tolerance on a correct GPU.
// A variable takes the K of the update that wrote it. Values equal on both sides (equal infinities, NaN on both)
// agree; a NaN on one side only fails. Branches (relu_grad's x > 0) taken differently because of rounding upstream
// are not compared: see BRANCHES.
import type { Precision } from '../graph/f16.js';
import { Tensor, Variable, variableOf } from '../graph/tensor.js';
import { fmt } from '../graph/shape.js';
import { plan, Feeds } from '../schedule/plan.js';
import { OP_FACTS, OpName, each, factsOf, isOp, isEffect, isView, reductionLength } from '../graph/op_table.js';
import { topoSort } from '../graph/topo.js';
import type { Backend, Executable } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu/cpu_backend.js';
import { OptionError } from '../util/errors.js';

export const PARITY_ATOL = 1e-6;
export const PARITY_ATOL_PER_SQRT_K = 1e-6;
export const PARITY_RTOL = 1e-4;
/**
 * Tolerances at precision 'f16', where both backends round the same values to f16 but may land on neighbouring halves
 * (their f32 results differ in the last bits) and such a difference of 2^-10 relative flows on: rtol 2^-7 (8 half
 * ulps), atol 2^-11·(1 + sqrt(K))·max|cpu|.
 */
export const PARITY_F16_RTOL = 2 ** -7;
export const PARITY_F16_ATOL_PER_SQRT_K = 2 ** -11;

export interface ParityOptions {
  outputs: readonly Tensor[];
  /** Update nodes (optimizer steps), applied after everything else as in `compile`. */
  effects?: readonly Tensor[];
  feeds: Feeds;
  gpu: Backend;
  /** The reference; a fresh CpuBackend by default. */
  cpu?: Backend;
  /**
   * Where both backends' variables start from: 'gpu' (default) copies the GPU's current values to the CPU, so a check
   * mid-training sees the trained weights; 'init' starts both from each Variable's initial value.
   */
  variables?: 'gpu' | 'init';
  /** Scales atol and rtol (2 = twice as lenient). */
  tolerance?: number;
  /** Compile both sides at this precision; 'f16' reads f16-stored nodes as stored and uses the f16 tolerances. ['f32'] */
  precision?: Precision;
}

export interface ParityEntry {
  kind: 'node' | 'variable';
  /** `${op}#${id}${shape}` for a node, with its name if it has one; the variable's name for a variable. */
  label: string;
  op: string;
  id: number;
  shape: number[];
  name?: string;
  /** Reduction length behind the value (see the tolerance rule). */
  k: number;
  /** max|cpu|: 0 means the node was all zeros, so this check did not exercise its kernel. */
  scale: number;
  maxAbsErr: number;
  /** Over elements where the reference is non-zero. */
  maxRelErr: number;
  atol: number;
  rtol: number;
  /** max over elements of |gpu - cpu| / (atol + rtol·|cpu|): the fraction of the tolerance used; > 1 fails. */
  ratio: number;
  /** The element with the largest ratio, and both values there. */
  worst: { index: number; gpu: number; cpu: number };
  /** Elements not compared because the backends took different branches (see BRANCHES). */
  branchFlips: number;
  ok: boolean;
}

export interface ParityReport {
  ok: boolean;
  gpu: string;
  cpu: string;
  /** Every computed node, in the order the step ran them (topological). */
  nodes: ParityEntry[];
  /** Every variable the graph reads, compared after the effects ran. */
  variables: ParityEntry[];
  /** The first node (else the first variable) over its tolerance: the one to blame. */
  firstFailure?: ParityEntry;
  tolerance: number;
}

// A view (reshape) holds its input's values.
const viewed = (t: Tensor): Tensor => (isView(t) ? viewed(t.inputs[0]) : t);

/** How many terms each op sums into one output element (OpFacts.k in graph/op_table.ts; 1 for elementwise ops). */
export const REDUCTION_LENGTH: Readonly<Record<OpName, (n: Tensor) => number>> = each(Object.keys(OP_FACTS) as OpName[], () => reductionLength);


/** For every node the roots depend on, the longest reduction on any path into it: a node is no more accurate than its inputs. */
export function longestReductions(roots: readonly Tensor[]): Map<Tensor, number> {
  const kEff = new Map<Tensor, number>();
  for (const n of topoSort(roots)) kEff.set(n, Math.max(reductionLength(n), ...n.inputs.map((x) => kEff.get(x)!)));
  return kEff;
}

/**
 * Elementwise ops that branch on one input (OpFacts.branch): [which input, the test]. Where the two backends' values of
 * that input fall on opposite sides (a pre-activation within rounding of 0), each backend is right to take its own
 * branch, so those elements are counted as `branchFlips` rather than compared. Otherwise, by our estimate, about 1% of
 * checks of the MNIST MLP would blame relu_grad for rounding done upstream (a pre-activation within ~1e-6 of 0).
 */
export const BRANCHES: Partial<Record<OpName, [input: number, test: (v: number) => boolean]>> = Object.fromEntries(
  (Object.keys(OP_FACTS) as OpName[]).flatMap((op) => { const b = factsOf({ op }).branch; return b ? [[op, [b.input, b.test]]] : []; }),
);

type Values = ArrayLike<number>;
function compare(gpu: Values, cpu: Values, k: number, factor: number, flipped?: (i: number) => boolean, half = false): Omit<ParityEntry, 'kind' | 'label' | 'op' | 'id' | 'shape' | 'name'> {
  let scale = 0;
  for (let i = 0; i < cpu.length; i++) if (Number.isFinite(cpu[i])) scale = Math.max(scale, Math.abs(cpu[i]));
  const atol = (half ? PARITY_F16_ATOL_PER_SQRT_K * (1 + Math.sqrt(k)) * scale + PARITY_ATOL : PARITY_ATOL + (k > 1 ? PARITY_ATOL_PER_SQRT_K * Math.sqrt(k) * scale : 0)) * factor;
  const rtol = (half ? PARITY_F16_RTOL : PARITY_RTOL) * factor;
  let maxAbsErr = 0, maxRelErr = 0, ratio = 0, worst = { index: -1, gpu: NaN, cpu: NaN }, branchFlips = 0;
  for (let i = 0; i < cpu.length; i++) {
    const g = gpu[i], c = cpu[i];
    if (g === c || (Number.isNaN(g) && Number.isNaN(c))) continue; // exact, equal infinities, NaN on both sides
    if (flipped?.(i)) { branchFlips++; continue; }
    const d = Math.abs(g - c), err = Number.isNaN(d) ? Infinity : d; // NaN on one side is as wrong as it gets
    const r = err / (atol + rtol * Math.abs(c));
    maxAbsErr = Math.max(maxAbsErr, err);
    if (c !== 0) maxRelErr = Math.max(maxRelErr, err / Math.abs(c));
    if (worst.index < 0 || r > ratio) { ratio = r; worst = { index: i, gpu: g, cpu: c }; }
  }
  return { k, scale, maxAbsErr, maxRelErr, atol, rtol, ratio, worst, branchFlips, ok: ratio <= 1 };
}

/**
 * Run one step of `outputs` + `effects` on `gpu` and on the CPU reference, from the same variables and feeds, and
 * compare every computed node and then every variable. The GPU's variables are restored afterwards, so a check in
 * the middle of training leaves training where it was. Every intermediate gets its own buffer for this run, so the
 * step needs the sum of its intermediates' memory, not the peak.
 */
export async function checkParity(o: ParityOptions): Promise<ParityReport> {
  const { gpu, feeds, effects = [], tolerance = 1 } = o;
  if (!(tolerance > 0)) throw new OptionError(`checkParity: tolerance must be a factor > 0, got ${tolerance}`);
  const cpu = o.cpu ?? new CpuBackend();
  const p = plan(o.outputs, effects, { fuse: false }); // every node, so each is compared; as outputs none fuses
  const nodes = p.steps.filter((s) => !isEffect(s));
  const keep = [...new Set([...nodes, ...o.outputs])];
  const vars = [...new Set(p.buffers.flatMap((b) => (b.variable ? [b.variable] : [])))];

  const saved = await Promise.all(vars.map((v) => gpu.readVariable(v)));
  vars.forEach((v, i) => {
    const start = o.variables === 'init' ? v.init : saved[i];
    if (o.variables === 'init') gpu.writeVariable(v, start);
    cpu.writeVariable(v, start);
  });

  const kEff = longestReductions([...o.outputs, ...effects]);
  const varK = new Map<Variable, number>();
  for (const e of effects) for (const x of e.inputs) { const v = variableOf(x); if (v) varK.set(v, Math.max(varK.get(v) ?? 1, kEff.get(e)!)); }

  const half = o.precision === 'f16';
  let gx: Executable | undefined, cx: Executable | undefined;
  try {
    const precision = { precision: o.precision, halfOutputs: true };
    gx = gpu.compile(keep, effects, precision);
    cx = cpu.compile(keep, effects, precision);
    // Host-side step counters are shared by both runs: rewind them so the GPU draws the CPU's dropout mask and randn
    // samples, and its optimizer updates with the CPU's step number (bias corrections).
    const dropouts = topoSort([...o.outputs, ...effects]).flatMap((n) => (isOp(n, 'dropout') || isOp(n, 'dropout_advance') || isOp(n, 'randn') ? [n.attrs.counter] : []));
    const counters = [...new Set([...dropouts, ...cx.plan.counters])];
    const steps = counters.map((c) => c.step);
    cx.run(feeds);
    counters.forEach((c, i) => { c.step = steps[i]; });
    gx.run(feeds);
    // The plan's own order is the order the kernels ran; a view (reshape) is its input's buffer, not a kernel.
    const ran = gx.plan.steps.filter((s) => !isEffect(s));
    const deciders = new Set(ran.flatMap((n) => { const b = BRANCHES[n.op]; return b ? [viewed(n.inputs[b[0]])] : []; }));
    const values = new Map<Tensor, { g: Values; c: Values }>();
    const nodeEntries: ParityEntry[] = [];
    for (const n of ran) {
      const [g, c] = await Promise.all([gx.read(n), cx.read(n)]);
      if (deciders.has(n)) values.set(n, { g, c });
      const branch = BRANCHES[n.op], decider = branch && values.get(viewed(n.inputs[branch[0]]));
      const flipped = decider && n.inputs[branch[0]].size === n.size ? (i: number) => branch[1](decider.g[i]) !== branch[1](decider.c[i]) : undefined;
      const label = `${n.op}#${n.id}${fmt(n.shape)}${n.name ? ` '${n.name}'` : ''}`;
      nodeEntries.push({ kind: 'node', label, op: n.op, id: n.id, shape: [...n.shape], name: n.name, ...compare(g, c, kEff.get(n)!, tolerance, flipped, half) });
    }
    const varEntries: ParityEntry[] = [];
    for (const v of vars) {
      const [g, c] = await Promise.all([gpu.readVariable(v), cpu.readVariable(v)]);
      varEntries.push({ kind: 'variable', label: v.name, op: 'param', id: v.tensor.id, shape: [...v.shape], name: v.name, ...compare(g, c, varK.get(v) ?? 1, tolerance, undefined, half) });
    }
    const firstFailure = nodeEntries.find((e) => !e.ok) ?? varEntries.find((e) => !e.ok);
    return { ok: !firstFailure, gpu: gpu.description, cpu: cpu.description, nodes: nodeEntries, variables: varEntries, firstFailure, tolerance };
  } finally {
    gx?.dispose();
    cx?.dispose();
    vars.forEach((v, i) => gpu.writeVariable(v, saved[i]));
    if (!o.cpu) cpu.dispose();
  }
}
