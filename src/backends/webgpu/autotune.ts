// Autotuning on the device: for each GEMM and conv pass of a graph about to be compiled whose shape class the cache
// lacks (src/schedule/autotune.ts), every candidate is timed on scratch buffers and the fastest recorded; compiles
// then read the cache. Conv passes are decided first (implicit GEMM or im2col changes which GEMMs the plan has), each
// timed as a small plan of that pass alone; then each GEMM step of the plan, as its own launch, with the pipelines
// compiled into the backend's cache, where the real plan finds the winner's.
import { Tensor, input } from '../../graph/tensor.js';
import { topoSort } from '../../graph/topo.js';
import { regionOf, gradRegionOf, type Region } from '../../graph/composite.js';
import { conv2d } from '../../graph/conv.js';
import { sum, mul } from '../../graph/ops.js';
import { isOp, type Node } from '../../graph/op_table.js';
import { grad } from '../../autodiff/grad.js';
import { plan, type Plan, type Feeds } from '../../schedule/plan.js';
import { CONV_ALGORITHMS, ConvAlgorithm, convAlgorithm, ConvPass, convFits, convShapeOf, withConvChoices } from '../../schedule/conv_algorithm.js';
import { convKey, gemmKey, type TuneDtype, type TuneResult, type Autotuner } from '../../schedule/autotune.js';
import type { CompileOptions } from '../backend.js';
import type { GemmKernel } from './device.js';
import { gemmDims, ruleGemmVariant } from './kernels.js';
import { GEMM_CANDIDATES, GemmVariant, gemmVariantName, gemmVariantNamed } from './gemm_variants.js';

/**
 * Timed runs per candidate after one warm-up run, in alternation; the best counts (the least disturbed by other load).
 * Candidates within CLOSE of the best then get MORE runs each: a close call is where one disturbed run decides.
 */
const REPS = 3, CLOSE = 0.2, MORE = 4;

/** What the tuner needs of the backend: its state, its GEMM family, and a way to time a plan. */
export interface TuningBackend {
  readonly tuner: Autotuner;
  readonly gemmFamily: GemmKernel;
  timePlans(plans: readonly { p: Plan; variants: ReadonlyMap<Tensor, GemmVariant>; feeds: Feeds }[], reps: number): Promise<(number | undefined)[]>;
}

const dtypeOf = (o: CompileOptions): TuneDtype => o.precision ?? 'f32';

/** The matmul a step runs, if it is one (alone, or with its bias and activation as the epilogue). */
function matmulOf(p: Plan, step: Tensor): Node<'matmul'> | undefined {
  const g = p.fused.get(step);
  const head = g ? (g.pattern ? undefined : g.nodes[0]) : step;
  return head && isOp(head, 'matmul') ? head : undefined;
}

/**
 * plan(), with each conv pass as the tuner has it (recorded, or measured) and the rule otherwise; every choice noted
 * for the run's record.
 */
export function tunedPlan(be: TuningBackend, outputs: readonly Tensor[], effects: readonly Tensor[], o: CompileOptions): Plan {
  const dtype = dtypeOf(o);
  return withConvChoices((pass, s, rule) => {
    const key = convKey(pass, s, dtype), c = be.tuner.lookup(key);
    if (c && (CONV_ALGORITHMS as readonly string[]).includes(c.choice)) {
      be.tuner.note(key, c.choice, c.source);
      return c.choice as ConvAlgorithm;
    }
    const r = rule(pass, s);
    be.tuner.note(key, r, 'rule');
    return r;
  }, () => plan(outputs, effects, { precision: o.precision, halfOutputs: o.halfOutputs }));
}

/** The tuned GEMM variant of each matmul step of `p` that has one; the others run the rule's. Each choice noted. */
export function gemmChoices(be: TuningBackend, p: Plan, o: CompileOptions): Map<Tensor, GemmVariant> {
  const out = new Map<Tensor, GemmVariant>();
  if (be.gemmFamily === 'packed') return out;
  for (const step of p.steps) {
    const m = matmulOf(p, step);
    if (!m) continue;
    const d = gemmDims(m), key = gemmKey({ ...d, dtype: dtypeOf(o) }), c = be.tuner.lookup(key);
    const v = c && gemmVariantNamed(be.gemmFamily, c.choice, d.M, d.N, d.K, d.batch);
    if (c && v) {
      out.set(step, v);
      be.tuner.note(key, c.choice, c.source);
    } else be.tuner.note(key, gemmVariantName(ruleGemmVariant(be.gemmFamily, d.M, d.N, d.K, d.batch, d.transB)), 'rule');
  }
  return out;
}

/** Deterministic values in [-1, 1) for a scratch feed. */
function scratchData(n: number): Float32Array {
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = (s >>> 8) / 8388608 - 1; }
  return a;
}

/** Each candidate's best time, by name, rounded to the microsecond; those the device rejected left out. */
async function race(be: TuningBackend, candidates: readonly { name: string; p: Plan; variants?: ReadonlyMap<Tensor, GemmVariant>; feeds?: Feeds }[]): Promise<Record<string, number>> {
  const plans = candidates.map((c) => ({ p: c.p, variants: c.variants ?? new Map(), feeds: c.feeds ?? new Map() }));
  const times = await be.timePlans(plans, REPS);
  const best = Math.min(...times.filter((t): t is number => t !== undefined));
  const close = times.flatMap((t, i) => (t !== undefined && t <= best * (1 + CLOSE) ? [i] : []));
  if (close.length > 1) (await be.timePlans(close.map((i) => plans[i]), MORE)).forEach((t, k) => { if (t !== undefined) times[close[k]] = Math.min(times[close[k]]!, t); });
  return Object.fromEntries(candidates.flatMap((c, i) => (times[i] === undefined ? [] : [[c.name, Math.round(times[i]! * 1000) / 1000]])));
}

/**
 * The fastest candidate, unless the rule's is within TIE of it or MIN_GAIN_MS (lavapipe's timestamps tick in 65 us
 * steps, so small kernels often measure equal): a tie keeps what the rule would run, and noise flips fewer choices.
 */
function winnerOf(ms: Record<string, number>, rule: string): string | undefined {
  const best = Object.entries(ms).sort((a, b) => a[1] - b[1])[0];
  if (!best) return undefined;
  return ms[rule] !== undefined && ms[rule] - best[1] <= Math.max(best[1] * TIE, MIN_GAIN_MS) ? rule : best[0];
}
const TIE = 0.05, MIN_GAIN_MS = 0.1;

/** The conv passes of a graph, each once per key. */
function convPasses(outputs: readonly Tensor[], effects: readonly Tensor[], dtype: TuneDtype): { pass: ConvPass; r: Region; key: string; node: Tensor }[] {
  const found = new Map<string, { pass: ConvPass; r: Region; key: string; node: Tensor }>();
  for (const n of topoSort([...outputs, ...effects])) {
    const r = regionOf(n), gr = gradRegionOf(n);
    const hit: [ConvPass, Region] | undefined = r?.op === 'conv2d' && r.output === n ? ['forward', r]
      : gr?.region.op === 'conv2d' && gr.wrt < 2 ? [gr.wrt === 0 ? 'dx' : 'dw', gr.region] : undefined;
    if (!hit || !convFits(convShapeOf(hit[1]))) continue;
    const key = convKey(hit[0], convShapeOf(hit[1]), dtype);
    if (!found.has(key)) found.set(key, { pass: hit[0], r: hit[1], key, node: n });
  }
  return [...found.values()];
}

/** One pass of a conv layer of `r`'s sizes alone, as a graph, with its scratch feeds. */
function convPassGraph(pass: ConvPass, r: Region): { outputs: Tensor[]; feeds: Feeds } {
  const a = r.attrs, [x0, w0, b0] = r.inputs;
  const x = input(x0.shape), w = input(w0.shape), b = b0 && input(b0.shape);
  const y = conv2d(x, w, { stride: [a.sh, a.sw], padding: [a.ph, a.pw], dilation: [a.dh, a.dw] }, b);
  const feeds: Feeds = new Map([x, w, ...(b ? [b] : [])].map((t) => [t, scratchData(t.size)]));
  if (pass === 'forward') return { outputs: [y], feeds };
  const dy = input(y.shape);
  feeds.set(dy, scratchData(dy.size));
  return { outputs: grad(sum(mul(y, dy)), [pass === 'dx' ? x : w]), feeds };
}

/** A plan of one step of `p` alone: every tensor it binds in a scratch buffer of its own. */
function stepPlan(p: Plan, step: Tensor): Plan {
  const g = p.fused.get(step), tensors = [...new Set(g ? [...g.inputs, step] : [...step.inputs, step])];
  const bufferOf = new Map(tensors.map((t, i) => [t, i] as const));
  return {
    steps: [step], fused: new Map(g ? [[step, g]] : []), bufferOf, buffers: tensors.map((t) => ({ kind: 'temp' as const, bytes: Math.ceil(Math.max(t.size, 1) / 4) * 16 })),
    inputs: [], outputs: [], counters: [], half: p.half, stats: { kernels: 1, tempBytes: 0, tempBytesWithoutReuse: 0 },
  };
}

/**
 * Measure what the cache lacks for this graph and record it (saved to the store, where one is installed). Returns a
 * row per conv pass and GEMM shape class of the graph, measured now or before; with tuning off, only recorded and
 * rule choices, and nothing is measured.
 */
export async function tuneGraph(be: TuningBackend, outputs: readonly Tensor[], effects: readonly Tensor[], o: CompileOptions): Promise<TuneResult[]> {
  const dtype = dtypeOf(o), rows: TuneResult[] = [];
  await be.tuner.load();
  const now = new Set<string>();
  for (const { pass, r, key, node } of convPasses(outputs, effects, dtype)) {
    const rule = convAlgorithm(pass, convShapeOf(r)); // the rule in force (outside a plan, the one plans fall back on)
    if (be.tuner.wants(key)) {
      const { outputs: outs, feeds } = convPassGraph(pass, r);
      const ms = await race(be, CONV_ALGORITHMS.map((alg) => ({ name: alg, p: withConvChoices(() => alg, () => plan(outs, [], { precision: o.precision })), feeds })));
      const winner = winnerOf(ms, rule);
      if (winner) { be.tuner.record(key, { winner, ms }); now.add(key); }
    }
    rows.push(row(be, key, `${node}`, rule, now.has(key)));
  }
  const p = tunedPlan(be, outputs, effects, o), seen = new Set<string>();
  if (be.gemmFamily !== 'packed') for (const step of p.steps) {
    const m = matmulOf(p, step);
    if (!m) continue;
    const d = gemmDims(m), key = gemmKey({ ...d, dtype });
    if (seen.has(key)) continue;
    seen.add(key);
    const rule = gemmVariantName(ruleGemmVariant(be.gemmFamily, d.M, d.N, d.K, d.batch, d.transB));
    if (be.tuner.wants(key)) {
      const cands = GEMM_CANDIDATES[be.gemmFamily].filter((c) => c.worth(d.M, d.N, d.K, d.batch) || gemmVariantName(c.variant) === rule).map((c) => c.variant);
      const mini = stepPlan(p, step);
      const ms = await race(be, cands.map((v) => ({ name: gemmVariantName(v), p: mini, variants: new Map([[step, v]]) })));
      const winner = winnerOf(ms, rule);
      if (winner) { be.tuner.record(key, { winner, ms }); now.add(key); }
    }
    rows.push(row(be, key, `${step}`, rule, now.has(key)));
  }
  if (now.size) await be.tuner.save();
  return rows;
}

function row(be: TuningBackend, key: string, node: string, rule: string, now: boolean): TuneResult {
  const c = be.tuner.lookup(key), e = be.tuner.entry(key);
  return { key, node, candidates: e?.ms ?? {}, winner: c?.choice ?? rule, rule, source: c?.source ?? 'rule', now };
}
