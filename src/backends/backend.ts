// The backend contract. A backend compiles a plan once and runs it many times; variables (weights, optimizer
// state) live on the backend between runs. CPU and WebGPU implement the same contract, so any graph can run on both.
import type { Autotuner, TuneResult } from '../schedule/autotune.js';
import { Tensor, Variable } from '../graph/tensor.js';
import { Plan, Feeds, FeedError } from '../schedule/plan.js';
import { UserError } from '../util/errors.js';
import type { Precision } from '../graph/f16.js';

export interface RunOptions {
  /**
   * Check every float feed for NaN and ±Inf on the host before anything runs (NonFiniteInputError), since on the
   * device one NaN spreads silently into every weight it touches. Default true; one pass over the feeds.
   */
  checkFinite?: boolean;
}

export interface Executable {
  readonly plan: Plan;
  /**
   * Feed the inputs and launch every step. Returns without waiting for the device. Each input takes exactly a
   * Float32Array (f32) or an Int32Array (i32) of its size (FeedError otherwise); nothing runs if a check fails.
   */
  run(feeds: Feeds, o?: RunOptions): void;
  /** The value of an output tensor as of the last run; the only way data comes back from the device. */
  read(t: Tensor): Promise<Float32Array | Int32Array>;
  /**
   * Where a step's time goes: runs the step `runs` times (as run() would: effects apply, weights move) and times each
   * of its kernels, with GPU timestamps where the adapter has 'timestamp-query', host clocks otherwise (`timing` says
   * which), and the host's own time per step (encoding, submitting, waiting).
   */
  profile(feeds: Feeds, o?: ProfileOptions): Promise<StepProfile>;
  dispose(): void;
}

export interface ProfileOptions extends RunOptions {
  /** Profiled steps (each node's time is their trimmed mean, see trimmedMean), after one warm-up step.  [5] */
  runs?: number;
}

/** One step of a plan (a kernel, or a fused group run as one): its time (trimmedMean) and what it moved or computed. */
export interface NodeProfile {
  /** The step's node, as `name#id[shape]`. */
  node: string;
  /** The op of its node, and the kernel (shader) that ran it. */
  op: string;
  kernel: string;
  /** Launches for it (a GEMM may pack its operands first). */
  dispatches: number;
  ms: number;
  /** Of the sum over nodes. */
  share: number;
  /** Floating-point operations of its products (2·M·N·K per matmul in it); 0 for memory-bound kernels. */
  flops: number;
  /** Bytes of its inputs read once and its output written once. */
  bytes: number;
  /** flops/ms, or bytes/ms where it has no flops. */
  gflops?: number;
  gbps?: number;
  /** Its start in a typical step (trimmedMean), from the step's start (for the trace). */
  startMs: number;
}

export interface StepProfile {
  backend: 'cpu' | 'webgpu';
  device: string;
  /** 'gpu-timestamps': each kernel timed on the device by timestamp queries; 'host': by performance.now() around each kernel on the host (CPU backend, or an adapter without 'timestamp-query'). */
  timing: 'gpu-timestamps' | 'host';
  runs: number;
  /** Median wall time of a plain run() to completion (feeds written, encoded, submitted, waited for). */
  stepMs: number;
  /**
   * The profiled steps' own length by the clock that timed their kernels (median): with GPU timestamps, from the
   * first kernel's start to the last one's end on the device; by the host clock, the whole timed step (feeds
   * included on the CPU). Unlike stepMs it holds no time the process spent descheduled on a busy machine.
   */
  profiledStepMs: number;
  /**
   * The median over profiled steps of (the step's kernel times summed) / (its profiledStepMs): how much of the step
   * the kernels account for, each step against itself (medians taken apart would not add up on a noisy machine).
   */
  coverage: number;
  /** The sum of the nodes' times, to compare with profiledStepMs and stepMs. */
  nodeSumMs: number;
  /** The host's share of a plain step (medians): feeding and encoding, submitting, waiting for the device. */
  host: { encodeMs: number; submitMs: number; waitMs: number };
  /** Sorted by time, longest first. */
  nodes: NodeProfile[];
}

/** What a step computes and moves: 2·M·N·K per matmul among `nodes`, and `reads` + `output` sizes in bytes. */
export function stepWork(nodes: readonly Tensor[], reads: readonly Tensor[], output: Tensor | undefined): { flops: number; bytes: number } {
  let flops = 0;
  for (const n of nodes) if (n.op === 'matmul') {
    const a = n.inputs[0], r = a.rank, k = (n.attrs as { transA?: boolean }).transA ? a.shape[r - 2] : a.shape[r - 1];
    flops += 2 * n.size * k;
  }
  const bytes = [...new Set(reads)].reduce((s, t) => s + t.size * 4, 0) + (output ? output.size * 4 : 0);
  return { flops, bytes };
}

/** A NodeProfile from a step's time and work. */
export function nodeProfile(node: Tensor, kernel: string, dispatches: number, ms: number, startMs: number, work: { flops: number; bytes: number }): NodeProfile {
  const rate = ms > 0 ? (work.flops ? { gflops: work.flops / ms / 1e6 } : { gbps: work.bytes / ms / 1e6 }) : {};
  return { node: `${node}`, op: node.op, kernel, dispatches, ms, share: 0, ...work, ...rate, startMs };
}

/** Shares of the sum, sorted longest first. */
export function finishProfile(p: Omit<StepProfile, 'nodeSumMs'>): StepProfile {
  const sum = p.nodes.reduce((a, n) => a + n.ms, 0);
  const nodes = p.nodes.map((n) => ({ ...n, share: sum > 0 ? n.ms / sum : 0 })).sort((a, b) => b.ms - a.ms);
  return { ...p, nodes, nodeSumMs: sum };
}

/**
 * A kernel's time over the profiled steps: the mean of the middle three fifths (the median under five). Not the
 * median: lavapipe's timestamps tick every 65.5 us, so a 20 us kernel reads 0 or 65.5 and its median is one of them,
 * while the mean of the ticks converges on the time; trimming drops the steps a busy machine interrupted.
 */
export const trimmedMean = (xs: readonly number[]): number => {
  if (xs.length < 5) return median(xs); // too few to trim: one interrupted step would dominate a mean
  const s = [...xs].sort((a, b) => a - b), cut = Math.floor(s.length / 5);
  const mid = s.slice(cut, s.length - cut);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
};

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};

/**
 * The profile in Chrome's trace-event format (the JSON object form), which Perfetto and chrome://tracing open: one
 * complete event ('X', microseconds) per node on a 'device' track at its place in a typical step (from the submit on),
 * and the host's encode, submit and wait on a 'host' track.
 */
export function profileTrace(p: StepProfile): { traceEvents: object[]; displayTimeUnit: 'ms'; otherData: object } {
  const us = (ms: number) => Math.round(ms * 1000 * 1000) / 1000;
  const meta = (tid: number, name: string) => ({ name: 'thread_name', ph: 'M', pid: 1, tid, args: { name } });
  const ev = (tid: number, name: string, cat: string, start: number, dur: number, args: object = {}) => ({ name, cat, ph: 'X', pid: 1, tid, ts: us(start), dur: us(dur), args });
  const h = p.host;
  return {
    traceEvents: [
      { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: `wgtrain ${p.backend} (${p.device})` } },
      meta(1, 'host'), meta(2, p.timing === 'gpu-timestamps' ? 'device (GPU timestamps)' : 'kernels (host clock)'),
      ev(1, 'encode', 'host', 0, h.encodeMs), ev(1, 'submit', 'host', h.encodeMs, h.submitMs), ev(1, 'wait', 'host', h.encodeMs + h.submitMs, h.waitMs),
      ...[...p.nodes].sort((a, b) => a.startMs - b.startMs).map((n) => ev(2, n.node, n.kernel, h.encodeMs + h.submitMs + n.startMs, n.ms, {
        op: n.op, kernel: n.kernel, dispatches: n.dispatches, share: n.share, flops: n.flops, bytes: n.bytes,
      })),
    ],
    displayTimeUnit: 'ms',
    otherData: { coverage: p.coverage, timing: p.timing, runs: p.runs, stepMs: p.stepMs, nodeSumMs: p.nodeSumMs, profiledStepMs: p.profiledStepMs },
  };
}

export interface CompileOptions {
  /**
   * 'f16': values between f16-capable kernels (elementwise, sums, matmuls) are stored in half precision and computed
   * and accumulated in f32 (Plan.half); variables stay float32. WebGPU needs the adapter's 'shader-f16'. ['f32']
   */
  precision?: Precision;
  /** With precision 'f16', let outputs be stored in f16 as well (read() widens them to float32); for the parity check. */
  halfOutputs?: boolean;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** A human-readable description of the device (adapter name on WebGPU). */
  readonly description: string;
  compile(outputs: readonly Tensor[], effects?: readonly Tensor[], o?: CompileOptions): Executable;
  /** Throws a UserError with one line when this backend cannot compile at precision `p` (WebGPU without 'shader-f16'). */
  checkPrecision?(p: Precision): void;
  /**
   * compile(), with the device's slow work (WebGPU: pipeline compilation) done off the calling thread and awaited,
   * so that in a browser it never holds a frame. Absent where compile() is already cheap (the CPU).
   */
  compileAsync?(outputs: readonly Tensor[], effects?: readonly Tensor[], o?: CompileOptions): Promise<Executable>;
  /** Where kernel choices are autotuned (WebGPU): the choices, whether measuring is on, what compiles chose. */
  readonly tuner?: Autotuner;
  /** Measure the kernel choices of this graph that the cache lacks; one row per conv pass and GEMM shape class. */
  tune?(outputs: readonly Tensor[], effects?: readonly Tensor[], o?: CompileOptions): Promise<TuneResult[]>;
  writeVariable(v: Variable, data: Float32Array): void;
  readVariable(v: Variable): Promise<Float32Array>;
  /** Wait for all submitted work (a no-op on CPU). */
  sync(): Promise<void>;
  dispose(): void;
}

/** An executable or a backend used when it cannot answer: read() before any run(), or use after dispose(). */
export class LifecycleError extends UserError {
  override name = 'LifecycleError';
}

/**
 * The state checks both backends' executables share, so that misuse fails the same way on each rather than
 * answering with stale or initial values.
 */
export class Lifecycle {
  private ran = false;
  private disposed = false;
  constructor(private readonly backend: { readonly name: string; readonly disposed: boolean }) {}

  /** Before run() and read(): neither this executable nor its backend may be disposed. */
  check(doing: string): void {
    if (this.disposed) throw new LifecycleError(`${doing}: this executable was disposed (compile the graph again)`);
    checkBackendLive(this.backend, doing);
  }
  markRun(): void { this.ran = true; }
  /** Before read(): an output has no value until a run has computed it. */
  checkRead(t: Tensor, outputs: readonly Tensor[]): void {
    this.check(`read ${t}`);
    if (!outputs.includes(t)) throw new LifecycleError(`read: ${t} is not an output of this executable (compile it as one)`);
    if (!this.ran) throw new LifecycleError(`read: ${t} has no value yet (call run() before read())`);
  }
  dispose(): void { this.disposed = true; }
}

/** writeVariable's argument, checked alike on both backends: exactly a Float32Array of the variable's size. */
export function checkVariableData(v: Variable, data: unknown): void {
  if (!(data instanceof Float32Array) || data.length !== v.size) {
    const got = data instanceof Float32Array ? `${data.length} values` : `a ${(data as object)?.constructor?.name ?? typeof data}`;
    throw new FeedError(`writeVariable ${v.name}: got ${got}, expected a Float32Array of ${v.size} for shape [${v.shape.join(',')}]`);
  }
}

export function checkBackendLive(b: { readonly name: string; readonly disposed: boolean }, doing: string): void {
  if (b.disposed) throw new LifecycleError(`${doing}: the ${b.name} backend was disposed (create a new one, and restore its weights from a checkpoint)`);
}
