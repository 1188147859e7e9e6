// The CPU reference backend: executes a plan with TypedArray loops. Slow on purpose; correct by construction.
import { Tensor, Variable } from '../../graph/tensor.js';
import { plan, checkFeeds, isView, Feeds, Plan } from '../../schedule/plan.js';
import { Backend, Executable, RunOptions, Lifecycle, checkBackendLive, checkVariableData } from '../backend.js';
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

  compile(outputs: readonly Tensor[], effects: readonly Tensor[] = []): Executable {
    checkBackendLive(this, 'compile');
    return new CpuExecutable(this, plan(outputs, effects));
  }
}

class CpuExecutable implements Executable {
  private arrays: Arr[];
  private life: Lifecycle;
  constructor(private backend: CpuBackend, readonly plan: Plan) {
    this.life = new Lifecycle(backend);
    this.arrays = plan.buffers.map((b) => {
      if (b.kind === 'variable') return backend.storage(b.variable!);
      if (b.kind === 'input' && b.input!.dtype === 'i32') return new Int32Array(b.bytes / 4);
      const a = new Float32Array(b.bytes / 4);
      if (b.kind === 'const') a.fill(b.value!);
      return a;
    });
  }

  private view(t: Tensor): Arr {
    const a = this.arrays[this.plan.bufferOf.get(t)!];
    // An int32 result (top-k indices) in a temp slot: the slot's bytes, read as int32, as a GPU buffer would be.
    if (t.dtype === 'i32' && a instanceof Float32Array) return new Int32Array(a.buffer, a.byteOffset, t.size);
    return a.length === t.size ? a : a.subarray(0, t.size); // temp slots may be larger than the value they hold
  }

  run(feeds: Feeds, o: RunOptions = {}): void {
    this.life.check('run');
    checkFeeds(this.plan, feeds, o);
    for (const t of this.plan.inputs) (this.arrays[this.plan.bufferOf.get(t)!] as Arr).set(feeds.get(t)!);
    for (const s of this.plan.steps) {
      const out = this.plan.bufferOf.has(s) ? (this.view(s) as Float32Array) : new Float32Array(0); // int32 for an i32 node
      const group = this.plan.fused.get(s);
      if (!group) { this.backend.kernelFor(s.op)(s, s.inputs.map((x) => this.view(x)), out); continue; }
      // A fused group runs node by node here, its intermediates in scratch arrays: the reference stays op by op.
      const scratch = new Map<Tensor, Arr>();
      for (const n of group.nodes) {
        if (isView(n)) { scratch.set(n, scratch.get(n.inputs[0]) ?? this.view(n.inputs[0])); continue; }
        const dst = n === s ? out : new Float32Array(n.size);
        this.backend.kernelFor(n.op)(n, n.inputs.map((x) => scratch.get(x) ?? this.view(x)), dst);
        scratch.set(n, dst);
      }
    }
    for (const c of this.plan.counters) c.step++;
    this.life.markRun();
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    this.life.checkRead(t, this.plan.outputs);
    return this.view(t).slice();
  }

  dispose(): void { this.arrays = []; this.life.dispose(); }
}
