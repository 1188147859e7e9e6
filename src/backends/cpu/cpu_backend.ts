// The CPU reference backend: executes a plan with TypedArray loops. Slow on purpose; correct by construction.
import { Tensor, Variable } from '../../graph/tensor.js';
import { plan, checkFeeds, isView, Feeds, Plan } from '../../schedule/plan.js';
import { roundF16Array } from '../../graph/f16.js';
import { Backend, CompileOptions, Executable, RunOptions, Lifecycle, checkBackendLive, checkVariableData, ProfileOptions, StepProfile, nodeProfile, stepWork, finishProfile, median, trimmedMean } from '../backend.js';
import { CPU_KERNELS, Arr, CpuKernelFn } from './kernels.js';
import type { OpName } from '../../graph/op_table.js';

export interface CpuBackendOptions {
  /**
   * The kernel this backend runs for `op`, given the reference one: for a planted fault (the checker's tests) or the
   * fuzzer's rounding noise. Other backends, and the reference table, are untouched.
   */
  kernels?: (op: OpName, reference: CpuKernelFn) => CpuKernelFn;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly description = 'CPU reference (TypedArray loops, float64 accumulation)';
  private vars = new Map<Variable, Float32Array>();
  disposed = false;
  private kernels = new Map<OpName, CpuKernelFn>();

  constructor(private o: CpuBackendOptions = {}) {}

  /** The kernel this backend runs for `op`. */
  kernelFor(op: OpName): CpuKernelFn {
    let k = this.kernels.get(op);
    if (!k) {
      const ref = CPU_KERNELS[op];
      if (!ref) throw new Error(`cpu backend: no kernel for op '${op}'`);
      this.kernels.set(op, (k = this.o.kernels ? this.o.kernels(op, ref) : ref));
    }
    return k;
  }

  /** The backend's copy of a variable, created from its initial value on first use. */
  storage(v: Variable): Float32Array {
    checkBackendLive(this, `variable ${v.name}`);
    let s = this.vars.get(v);
    if (!s) this.vars.set(v, (s = Float32Array.from(v.init)));
    return s;
  }
  writeVariable(v: Variable, data: Float32Array): void {
    checkBackendLive(this, `writing ${v.name}`);
    checkVariableData(v, data);
    this.storage(v).set(data);
  }
  async readVariable(v: Variable): Promise<Float32Array> { return Float32Array.from(this.storage(v)); }
  async sync(): Promise<void> {}
  dispose(): void { this.vars.clear(); this.disposed = true; }

  compile(outputs: readonly Tensor[], effects: readonly Tensor[] = [], o: CompileOptions = {}): Executable {
    checkBackendLive(this, 'compile');
    return new CpuExecutable(this, plan(outputs, effects, { precision: o.precision, halfOutputs: o.halfOutputs }));
  }
}

class CpuExecutable implements Executable {
  private arrays: Arr[];
  private life: Lifecycle;
  constructor(private backend: CpuBackend, readonly plan: Plan) {
    this.life = new Lifecycle(backend);
    // A slot's elements: its bytes hold half as many as an f16 value has, and here every value is float32.
    const elements = plan.buffers.map((b) => b.bytes / 4);
    for (const [t, i] of plan.bufferOf) elements[i] = Math.max(elements[i], t.size);
    this.arrays = [];
    plan.buffers.forEach((b, i) => this.arrays.push((() => {
      if (b.kind === 'variable') return backend.storage(b.variable!);
      if (b.kind === 'slice') return (this.arrays[b.parent!] as Float32Array).subarray(b.offset! / 4, b.offset! / 4 + b.bytes / 4);
      if (b.kind === 'input' && b.input!.dtype === 'i32') return new Int32Array(b.bytes / 4);
      const a = new Float32Array(elements[i]);
      if (b.kind === 'const') a.fill(b.value!);
      return a;
    })()));
  }

  private view(t: Tensor): Arr {
    const a = this.arrays[this.plan.bufferOf.get(t)!];
    // An int32 result (top-k indices) in a temp slot: the slot's bytes, read as int32, as a GPU buffer would be.
    if (t.dtype === 'i32' && a instanceof Float32Array) return new Int32Array(a.buffer, a.byteOffset, t.size);
    return a.length === t.size ? a : a.subarray(0, t.size); // temp slots may be larger than the value they hold
  }

  run(feeds: Feeds, o: RunOptions = {}): void { this.timedRun(feeds, o); }

  /** run(), with each step's host time in `times` when given (profile). Returns the time spent feeding. */
  private timedRun(feeds: Feeds, o: RunOptions, times?: number[]): number {
    this.life.check('run');
    const t0 = performance.now();
    checkFeeds(this.plan, feeds, o);
    for (const t of this.plan.inputs) (this.arrays[this.plan.bufferOf.get(t)!] as Arr).set(feeds.get(t)!);
    const fed = performance.now() - t0;
    for (const s of this.plan.steps) {
      const start = times && performance.now();
      this.runStep(s);
      if (times) times.push(performance.now() - start!);
    }
    for (const c of this.plan.counters) c.step++;
    this.life.markRun();
    return fed;
  }

  async profile(feeds: Feeds, o: ProfileOptions = {}): Promise<StepProfile> {
    const runs = Math.max(1, o.runs ?? 5);
    this.timedRun(feeds, o);
    const per: number[][] = this.plan.steps.map(() => []), walls: number[] = [], fed: number[] = [], spans: number[] = [];
    for (let r = 0; r < runs; r++) { // plain and timed steps alternate, to see the same load
      const t0 = performance.now();
      this.timedRun(feeds, o);
      walls.push(performance.now() - t0);
      const times: number[] = [], t1 = performance.now();
      fed.push(this.timedRun(feeds, o, times));
      spans.push(performance.now() - t1);
      times.forEach((t, i) => per[i].push(t));
    }
    let start = trimmedMean(fed);
    const nodes = this.plan.steps.map((s, i) => {
      const g = this.plan.fused.get(s), ms = trimmedMean(per[i]);
      const p = nodeProfile(s, g?.pattern?.kernel ?? (g ? 'fused' : s.op), 1, ms, start, stepWork(g?.nodes ?? [s], g?.inputs ?? s.inputs, this.plan.bufferOf.has(s) ? s : undefined));
      start += ms;
      return p;
    });
    return finishProfile({ backend: 'cpu', device: this.backend.description, timing: 'host', runs, stepMs: median(walls), profiledStepMs: median(spans), coverage: median(spans.map((span, r) => (fed[r] + per.reduce((a, t) => a + t[r], 0)) / span)), host: { encodeMs: median(fed), submitMs: 0, waitMs: 0 }, nodes });
  }

  private runStep(s: Tensor): void {
    const out = this.plan.bufferOf.has(s) ? (this.view(s) as Float32Array) : new Float32Array(0); // int32 for an i32 node
    this.compute(s, out);
    if (this.plan.half.has(s)) roundF16Array(out); // where the WebGPU kernel stores it as f16
  }

  private compute(s: Tensor, out: Float32Array): void {
    const group = this.plan.fused.get(s);
    if (!group) { this.backend.kernelFor(s.op)(s, s.inputs.map((x) => this.view(x)), out); return; }
    // A fused group runs node by node here, its intermediates in scratch arrays: the reference stays op by op.
    const scratch = new Map<Tensor, Arr>();
    for (const n of group.nodes) {
      if (isView(n)) { scratch.set(n, scratch.get(n.inputs[0]) ?? this.view(n.inputs[0])); continue; }
      const dst = n === s ? out : group.outputs?.includes(n) ? (this.view(n) as Float32Array) : new Float32Array(n.size);
      this.backend.kernelFor(n.op)(n, n.inputs.map((x) => scratch.get(x) ?? this.view(x)), dst);
      scratch.set(n, dst);
    }
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    this.life.checkRead(t, this.plan.outputs);
    return this.view(t).slice();
  }

  dispose(): void { this.arrays = []; this.life.dispose(); }
}
