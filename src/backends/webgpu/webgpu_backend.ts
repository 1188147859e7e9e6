// The WebGPU backend: compiles a plan into pipelines, bind groups and pooled buffers once, then replays it as one
// command encoder and one queue.submit per run. Nothing is read back unless `read` is called.
import { Tensor, Variable, Arena } from '../../graph/tensor.js';
import { fmt } from '../../graph/shape.js';
import { checkFeeds, Feeds, Plan, isHalf } from '../../schedule/plan.js';
import { Autotuner, autotuneDefault, type TuneResult } from '../../schedule/autotune.js';
import { UserError } from '../../util/errors.js';
import { decodeF16, Precision } from '../../graph/f16.js';
import { Backend, CompileOptions, Executable, RunOptions, Lifecycle, checkBackendLive, checkVariableData, ProfileOptions, StepProfile, nodeProfile, stepWork, finishProfile, median, trimmedMean } from '../backend.js';
import { GpuContext, DeviceOptions, acquireDevice, adapterName, DeviceLostError, settle, afterSubmit } from './device.js';
import { BufferPool } from './pool.js';
import { launchFor, fusedLaunch, Launch } from './kernels.js';
import type { GemmVariant } from './gemm_variants.js';
import { tunedPlan, gemmChoices, tuneGraph } from './autotune.js';
import { isScratch, isSpan, isTable, bindingBytes, PANEL_TEXTURE_WIDTH, Scratch, Binding } from './launch.js';
import { shaderSource, HALF_SHADERS, halfDefines } from './shaders.js';
import { checkKernelLimits, LimitError } from './limits.js';

const STORAGE = GPUBufferUsageFlagsOf('STORAGE', 'COPY_SRC', 'COPY_DST');
const UNIFORM = GPUBufferUsageFlagsOf('UNIFORM', 'COPY_DST');
const STAGING = GPUBufferUsageFlagsOf('MAP_READ', 'COPY_DST');

// GPUBufferUsage is a global only once the device API is loaded, so flags are looked up lazily by name.
type UsageName = 'MAP_READ' | 'COPY_SRC' | 'COPY_DST' | 'UNIFORM' | 'STORAGE';
function GPUBufferUsageFlagsOf(...names: UsageName[]): () => number {
  return () => names.reduce((a, n) => a | globalThis.GPUBufferUsage[n], 0);
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly pool: BufferPool;
  readonly stats = { submits: 0, pipelines: 0, variableBuffers: 0 };

  /** Every GPU buffer this backend has created: pooled ones and one per variable. Flat after warm-up. */
  get buffersCreated(): number { return this.pool.created + this.stats.variableBuffers; }
  private vars = new Map<Variable, GPUBuffer>();
  private arenas = new Map<Arena, GPUBuffer>();
  /** Buffers of variables moved into an arena, kept until dispose: work already submitted may still read them. */
  private retired: GPUBuffer[] = [];
  /** Bumped when a variable moves into an arena: executables bound to its old buffer bind again before they run. */
  placements = 0;
  private pipelines = new Map<string, GPUComputePipeline>();
  private pendingPipelines = new Map<string, Promise<void>>();
  disposed = false;

  /** GEMM and conv choices: measured per shape class where enabled (DeviceOptions.autotune), recorded, or the rules. */
  readonly tuner: Autotuner;
  /** Every conv pass and GEMM shape class tune() has seen (compileAsync tunes), by key: what `wgtrain tune` prints. */
  readonly tuneReport = new Map<string, TuneResult>();
  /** With tuning off, compileAsync still fills tuneReport with the rules' choices (`wgtrain tune --no-autotune`). */
  reportChoices = false;

  /** `autotune`: measure GEMM and conv choices before compiling (compileAsync, tune) [WGTRAIN_AUTOTUNE, else off]. */
  constructor(readonly ctx: GpuContext, autotune = autotuneDefault(false)) {
    this.pool = new BufferPool(ctx.device);
    this.tuner = new Autotuner(`${adapterName(ctx)} (gemm ${ctx.gemm})`, autotune);
  }

  static async create(opts: DeviceOptions & { autotune?: boolean } = {}): Promise<WebGpuBackend> { return new WebGpuBackend(await acquireDevice(opts), opts.autotune); }

  get gemmFamily(): GpuContext['gemm'] { return this.ctx.gemm; }

  get device(): GPUDevice { return this.ctx.device; }
  get description(): string { return adapterName(this.ctx); }
  get limits(): GPUSupportedLimits { return this.device.limits; }

  /** Throws the device's first asynchronous failure, with what we were doing when we noticed it. */
  checkHealth(doing: string): void {
    checkBackendLive(this, doing);
    if (this.ctx.lostInfo) throw new DeviceLostError(this.ctx.lostInfo.reason, this.ctx.lostInfo.message, doing);
    if (this.ctx.error) throw new Error(`webgpu: ${doing} failed: ${this.ctx.error}`);
  }

  /** `what` names the node the launch is for, in the error when the kernel exceeds a device limit. */
  pipeline(l: Launch, what = `kernel ${l.shader}`): GPUComputePipeline {
    const key = pipelineKey(l);
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline(this.pipelineDescriptor(l, key, what));
      this.pipelines.set(key, p);
      this.stats.pipelines++;
    }
    return p;
  }

  /** Where variable `v` lives: its own buffer, or its sub-range of an arena (Variable.placement). */
  variableSlot(v: Variable): Slot {
    const pl = v.placement;
    if (!pl) return { buffer: this.variableBuffer(v), offset: 0 };
    return { buffer: this.arenas.get(pl.arena) ?? this.makeArena(pl.arena), offset: pl.arena.offsets[pl.index] * 4 };
  }

  /**
   * One buffer for an arena's variables, each at its offset: from its initial value, or copied from the buffer it
   * had until now (a weight written or trained before the optimizer that shares it was compiled).
   */
  private makeArena(a: Arena): GPUBuffer {
    const align = this.limits.minStorageBufferOffsetAlignment;
    if (a.offsets.some((o) => (o * 4) % align)) throw new Error(`webgpu: the arena ${a.name} aligns its variables at 256 bytes, and this device binds storage only at multiples of ${align} (minStorageBufferOffsetAlignment); set optimizer.multiTensor = false`);
    this.checkSize(`the arena ${a.name} (${a.vars.length} variables)`, [a.size], a.size * 4);
    const b = this.device.createBuffer({ label: a.name, size: Math.max(a.size, 4) * 4, usage: STORAGE(), mappedAtCreation: true });
    this.stats.variableBuffers++;
    const f = new Float32Array(b.getMappedRange()), moved: [GPUBuffer, number, Variable][] = [];
    a.vars.forEach((v, k) => {
      const old = this.vars.get(v);
      if (old) moved.push([old, a.offsets[k] * 4, v]); else f.set(v.init, a.offsets[k]);
    });
    b.unmap();
    if (moved.length) {
      const enc = this.device.createCommandEncoder();
      for (const [old, at, v] of moved) enc.copyBufferToBuffer(old, 0, b, at, Math.max(v.size, 1) * 4);
      this.device.queue.submit([enc.finish()]);
      for (const [old, , v] of moved) { this.vars.delete(v); this.retired.push(old); }
      this.placements++;
    }
    this.arenas.set(a, b);
    return b;
  }

  private pipelineDescriptor(l: Launch, key: string, what: string): GPUComputePipelineDescriptor {
    checkKernelLimits(l, this.limits, what);
    const module = this.device.createShaderModule({ label: l.shader, code: shaderSource(l.shader, l.defines) });
    return { label: key, layout: 'auto', compute: { module, entryPoint: 'main', constants: l.constants } };
  }

  /**
   * The pipelines of `l` made with createComputePipelineAsync into the cache that pipeline() reads. A browser then
   * compiles them on a background thread: a synchronous createComputePipeline occupies the GPU process's main
   * thread, and with a software GPU (SwiftShader) that holds the page's frames for seconds.
   */
  private pipelineAsync(l: Launch, what: string): Promise<void> {
    const key = pipelineKey(l);
    if (this.pipelines.has(key)) return Promise.resolve();
    let pending = this.pendingPipelines.get(key);
    if (!pending) {
      const made = this.device.createComputePipelineAsync(this.pipelineDescriptor(l, key, what));
      pending = this.unlessLost(made, 'compiling the plan').then((p) => {
        if (!this.pipelines.has(key)) { this.pipelines.set(key, p); this.stats.pipelines++; }
      }).finally(() => this.pendingPipelines.delete(key));
      this.pendingPipelines.set(key, pending);
    }
    return pending;
  }

  variableBuffer(v: Variable): GPUBuffer {
    if (v.placement) throw new Error(`webgpu: ${v.name} lives in the arena ${v.placement.arena.name} (use variableSlot)`);
    let b = this.vars.get(v);
    if (!b) {
      this.checkSize(`variable ${v.name}`, v.shape, v.size * 4);
      // Whole vec4s (16 bytes), the padding zero: vec4 kernels (the optimizer) bind it so.
      b = this.device.createBuffer({ label: v.name, size: Math.ceil(Math.max(v.size, 1) / 4) * 16, usage: STORAGE(), mappedAtCreation: true });
      this.stats.variableBuffers++;
      new Float32Array(b.getMappedRange()).set(v.init);
      b.unmap();
      this.vars.set(v, b);
    }
    return b;
  }

  checkSize(what: string, shape: readonly number[], bytes: number): void {
    const limit = this.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new LimitError('maxStorageBufferBindingSize', bytes, limit, `${what} ${fmt(shape)}`);
    }
  }

  writeVariable(v: Variable, data: Float32Array): void {
    this.checkHealth(`writing ${v.name}`);
    checkVariableData(v, data);
    const { buffer, offset } = this.variableSlot(v);
    this.device.queue.writeBuffer(buffer, offset, data);
  }

  async readVariable(v: Variable): Promise<Float32Array> {
    const { buffer, offset } = this.variableSlot(v);
    return (await this.readBuffer(buffer, v.size * 4, 'f32', `reading ${v.name}`, offset)) as Float32Array;
  }

  /** Copy into a pooled staging buffer and map it: the one path by which data leaves the GPU. */
  async readBuffer(src: GPUBuffer, bytes: number, dtype: 'f32' | 'i32', doing: string, offset = 0): Promise<Float32Array | Int32Array> {
    this.checkHealth(doing);
    const staging = this.pool.acquire(bytes, STAGING());
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
    this.device.queue.submit([enc.finish()]);
    try {
      await this.unlessLost(staging.mapAsync(GPUMapMode.READ, 0, bytes), doing);
    } catch (e) {
      // A map cut short by a device loss may reject before the loss itself is reported: give that a moment.
      if (!(e instanceof DeviceLostError) && this.ctx.whenLost) await Promise.race([this.ctx.whenLost, new Promise((r) => setTimeout(r, 100))]);
      this.checkHealth(doing);
      throw e;
    }
    const data = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.pool.release(staging);
    this.checkHealth(doing);
    return dtype === 'i32' ? new Int32Array(data) : new Float32Array(data);
  }

  /** `work`, or a DeviceLostError as soon as the device is lost (a pending read never hangs on a dead device), awaited through settle() so that waiting takes no core. */
  private unlessLost<T>(work: Promise<T>, doing: string): Promise<T> {
    if (this.ctx.whenLost) {
      const lost = this.ctx.whenLost.then((i): never => { throw new DeviceLostError(i.reason, i.message, doing); });
      work.catch(() => {}); // its rejection, if the loss wins the race, is expected
      work = Promise.race([work, lost]);
    }
    return settle(work);
  }

  async sync(): Promise<void> {
    this.checkHealth('waiting for the queue');
    await this.unlessLost(this.device.queue.onSubmittedWorkDone(), 'waiting for the queue');
    this.checkHealth('waiting for the queue');
  }

  checkPrecision(p: Precision): void {
    if (p === 'f16' && !this.ctx.features.includes('shader-f16')) throw new NoShaderF16Error(this.description);
  }

  compile(outputs: readonly Tensor[], effects: readonly Tensor[] = [], o: CompileOptions = {}): Executable {
    this.checkHealth('compiling the plan');
    if (o.precision) this.checkPrecision(o.precision);
    const p = tunedPlan(this, outputs, effects, o);
    return new WebGpuExecutable(this, p, gemmChoices(this, p, o));
  }

  /**
   * Measure the GEMM and conv choices of this graph that the cache lacks (nothing, with autotuning off) and report
   * every one, measured or not: what compile() will choose for each pass and shape class.
   */
  tune(outputs: readonly Tensor[], effects: readonly Tensor[] = [], o: CompileOptions = {}): Promise<TuneResult[]> {
    this.checkHealth('tuning the plan');
    if (o.precision) this.checkPrecision(o.precision);
    return tuneGraph(this, outputs, effects, o).then((rows) => {
      for (const r of rows) this.tuneReport.set(r.key, r);
      return rows;
    });
  }

  /**
   * The best of `reps` runs of each of `plans` (after one to warm up), in ms: GPU time with timestamps, else wall time
   * to completion. The runs alternate between the plans, so that a shared machine's changing load falls on all of
   * them alike. A plan the device rejects (compile or first run) gets undefined and is left out.
   */
  async timePlans(plans: readonly { p: Plan; variants: ReadonlyMap<Tensor, GemmVariant>; feeds: Feeds }[], reps: number): Promise<(number | undefined)[]> {
    const { device } = this;
    const live: (WebGpuExecutable | undefined)[] = [];
    try {
      for (const { p, variants, feeds } of plans) {
        // A candidate the device rejects must fail here, not poison the backend's next run (ctx.error).
        device.pushErrorScope('validation');
        device.pushErrorScope('out-of-memory');
        let ex: WebGpuExecutable | undefined;
        try {
          ex = new WebGpuExecutable(this, p, variants);
          await ex.timeOnce(feeds);
        } catch { ex?.dispose(); ex = undefined; }
        const failed = (await device.popErrorScope()) || (await device.popErrorScope());
        if (failed) { ex?.dispose(); ex = undefined; }
        live.push(ex);
      }
      const best = live.map(() => Infinity);
      for (let r = 0; r < reps; r++) {
        for (let i = 0; i < live.length; i++) if (live[i]) best[i] = Math.min(best[i], await live[i]!.timeOnce(plans[i].feeds));
      }
      return best.map((b, i) => (live[i] ? b : undefined));
    } finally {
      for (const ex of live) ex?.dispose();
    }
  }

  async compileAsync(outputs: readonly Tensor[], effects: readonly Tensor[] = [], o: CompileOptions = {}): Promise<Executable> {
    this.checkHealth('compiling the plan');
    if (o.precision) this.checkPrecision(o.precision);
    if (this.tuner.enabled || this.reportChoices) await this.tune(outputs, effects, o);
    const p = tunedPlan(this, outputs, effects, o), variants = gemmChoices(this, p, o);
    // A few at a time, leaving a core free: a software GPU (SwiftShader) compiles on the CPU, and all of a plan's
    // pipelines at once took every core from the threads that draw the page's frames.
    const todo = planLaunches(p, this.ctx.gemm, variants), lanes = Math.max(1, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1);
    await Promise.all(Array.from({ length: lanes }, async () => {
      for (let next; (next = todo.shift());) await this.pipelineAsync(next.l, `${next.step}`);
    }));
    return new WebGpuExecutable(this, p, variants);
  }

  dispose(): void {
    this.disposed = true;
    for (const b of [...this.vars.values(), ...this.arenas.values(), ...this.retired]) b.destroy();
    this.vars.clear();
    this.arenas.clear();
    this.retired = [];
    this.pool.destroy();
    this.device.destroy();
  }
}

/** precision 'f16' on an adapter without WebGPU's 'shader-f16' feature. */
export class NoShaderF16Error extends UserError {
  constructor(adapter: string) {
    super(`webgpu: precision f16 needs the adapter's 'shader-f16' feature, which ${adapter} lacks (use precision f32)`);
    this.name = 'NoShaderF16Error';
  }
}

const pipelineKey = (l: Launch) => `${l.shader}|${JSON.stringify(l.defines ?? {})}|${JSON.stringify(l.constants ?? {})}`;

/** Every dispatch of a plan, in order: each step's launch after the launches it needs first (`before`). */
function planLaunches(plan: Plan, gemm: GpuContext['gemm'], variants: ReadonlyMap<Tensor, GemmVariant>): { step: Tensor; l: Launch }[] {
  // Half-capable shaders learn which of their tensors are stored as f16 (Plan.half).
  const withHalf = (l: Launch): Launch => (HALF_SHADERS.has(l.shader)
    ? { ...l, defines: { ...l.defines, ...halfDefines(l.bindings.map((b) => b instanceof Tensor && isHalf(plan, b))) } }
    : l);
  return plan.steps.flatMap((step) => {
    const group = plan.fused.get(step);
    const launch = group ? fusedLaunch(step, group, gemm, variants.get(step)) : launchFor(step, gemm, variants.get(step));
    return [...(launch.before ?? []), launch].map((l) => ({ step, l: withHalf(l) }));
  });
}

/** Timestamp pairs per query set (WebGPU allows 4096 queries in one). */
const QUERY_PAIRS = 2048;

/** A buffer, or a sub-range of one (an arena's) starting at byte `offset`. */
interface Slot { buffer: GPUBuffer; offset: number }

interface Dispatch { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: [number, number, number]; uniform: GPUBuffer; launch: Launch; step: Tensor; lastUniform?: string }

class WebGpuExecutable implements Executable {
  private buffers: Slot[];
  private tables = new Map<Binding, GPUBuffer>();
  private placements: number;
  private owned: GPUBuffer[] = [];
  private dispatches: Dispatch[];
  private scratch: (GPUBuffer | GPUTexture)[] = [];
  private textures: GPUTexture[] = [];
  private life: Lifecycle;

  /** `variants`: the GEMM steps that run a tuned variant (src/backends/webgpu/autotune.ts) rather than the rule's. */
  constructor(private be: WebGpuBackend, readonly plan: Plan, variants: ReadonlyMap<Tensor, GemmVariant> = new Map()) {
    this.life = new Lifecycle(be);
    const { device, pool } = be;
    this.buffers = [];
    plan.buffers.forEach((b, i) => this.buffers.push((() => {
      if (b.kind === 'variable') return be.variableSlot(b.variable!);
      if (b.kind === 'slice') return { buffer: this.buffers[b.parent!].buffer, offset: b.offset! };
      be.checkSize(b.kind === 'input' ? `input '${b.input!.name}'` : b.kind === 'arena' ? `gradient arena ${i}` : `intermediate buffer ${i}`, [b.bytes / 4], b.bytes);
      const buf = pool.acquire(b.bytes, STORAGE());
      this.owned.push(buf);
      if (b.kind === 'const') device.queue.writeBuffer(buf, 0, new Float32Array(b.bytes / 4).fill(b.value!));
      return { buffer: buf, offset: 0 };
    })()));
    // Scratch slots, each as large as the largest use: steps run in order, so one buffer per slot serves them all.
    const all = planLaunches(plan, be.ctx.gemm, variants);
    const slots: Scratch[] = [];
    for (const { l } of all) for (const b of l.bindings) {
      if (!isScratch(b)) continue;
      const s = slots[b.scratch];
      if (s && !!s.texture !== !!b.texture) throw new Error(`webgpu: scratch slot ${b.scratch} is used both as a buffer and as a texture`);
      slots[b.scratch] = { scratch: b.scratch, bytes: Math.max(s?.bytes ?? 0, b.bytes), texture: b.texture };
    }
    this.scratch = Array.from(slots, (slot = { scratch: 0, bytes: 4 }, i) => {
      if (slot.texture) {
        const height = Math.max(1, Math.ceil(slot.bytes / 16 / PANEL_TEXTURE_WIDTH));
        const tex = device.createTexture({
          label: `scratch texture ${i}`,
          size: [PANEL_TEXTURE_WIDTH, height],
          format: 'rgba32float',
          usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
        });
        this.textures.push(tex);
        return tex;
      }
      be.checkSize(`scratch buffer ${i}`, [slot.bytes / 4], slot.bytes);
      const buf = pool.acquire(slot.bytes, STORAGE());
      this.owned.push(buf);
      return buf;
    });
    for (const { l } of all) for (const b of l.bindings) {
      if (!isTable(b)) continue;
      const buf = pool.acquire(Math.max(b.table.byteLength, 16), STORAGE());
      this.owned.push(buf);
      device.queue.writeBuffer(buf, 0, b.table);
      this.tables.set(b, buf);
    }
    this.dispatches = all.map(({ step: s, l: launch }) => {
      const pipeline = be.pipeline(launch, `${s}`);
      const uniform = pool.acquire(launch.uniform.byteLength, UNIFORM());
      this.owned.push(uniform);
      device.queue.writeBuffer(uniform, 0, launch.uniform);
      return { pipeline, bindGroup: this.bindGroup(pipeline, uniform, launch, s), workgroups: launch.workgroups, uniform, launch, step: s };
    });
    this.placements = be.placements;
    be.checkHealth('compiling the plan');
  }

  private bindGroup(pipeline: GPUComputePipeline, uniform: GPUBuffer, launch: Launch, s: Tensor): GPUBindGroup {
    return this.be.device.createBindGroup({
      label: `${s}`,
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: uniform, size: launch.uniform.byteLength } },
        ...launch.bindings.flatMap((t, k) => (t === null ? [] : [{ binding: k + 1, resource: this.resourceOf(t, launch.vec4, !!launch.defines?.[`F16_${k + 1}`]) }])),
      ],
    });
  }

  /** A variable of this plan moved into an arena since it was bound (makeArena): find the variables again, bind again. */
  private rebind(): void {
    this.plan.buffers.forEach((b, i) => { if (b.kind === 'variable') this.buffers[i] = this.be.variableSlot(b.variable!); });
    for (const d of this.dispatches) d.bindGroup = this.bindGroup(d.pipeline, d.uniform, d.launch, d.step);
    this.placements = this.be.placements;
  }

  private resourceOf(b: Exclude<Binding, null>, vec4 = false, half = false): GPUBindingResource {
    if (isTable(b)) return { buffer: this.tables.get(b)!, size: b.table.byteLength };
    if (isSpan(b)) {
      const first = this.slotOf(b.span[0]);
      b.span.forEach((t, k) => {
        const s = this.slotOf(t);
        if (s.buffer !== first.buffer || s.offset !== first.offset + b.offsets[k]) throw new Error(`webgpu: ${t} is not at byte ${b.offsets[k]} of the arena that ${b.span[0]} starts`);
      });
      return { buffer: first.buffer, offset: first.offset, size: b.bytes };
    }
    if (!isScratch(b)) { const s = this.slotOf(b); return { buffer: s.buffer, offset: s.offset, size: bindingBytes(b, vec4, half) }; }
    const s = this.scratch[b.scratch];
    return b.texture ? (s as GPUTexture).createView() : { buffer: s as GPUBuffer, size: bindingBytes(b) };
  }

  private slotOf(t: Tensor): Slot {
    const i = this.plan.bufferOf.get(t);
    if (i === undefined) throw new Error(`webgpu: ${t} has no buffer in this plan`);
    return this.buffers[i];
  }

  run(feeds: Feeds, o: RunOptions = {}): void { this.timedRun(feeds, o); }

  /**
   * run(); with `queries`, each dispatch in a compute pass of its own that writes its start and end timestamps (a
   * pass is the unit timestampWrites can time), resolved into `queries.resolve`. Returns the host's encode and submit times.
   */
  private timedRun(feeds: Feeds, o: RunOptions, queries?: { sets: GPUQuerySet[]; resolve: GPUBuffer }): { encodeMs: number; submitMs: number } {
    const t0 = performance.now();
    this.life.check('run');
    this.be.checkHealth('running a step');
    checkFeeds(this.plan, feeds, o);
    const { device } = this.be;
    if (this.placements !== this.be.placements) this.rebind();
    for (const t of this.plan.inputs) { const s = this.slotOf(t); device.queue.writeBuffer(s.buffer, s.offset, feeds.get(t)!); }
    for (const d of this.dispatches) {
      if (!d.launch.dynamicUniform) continue;
      const bytes = d.launch.dynamicUniform();
      const key = new Uint32Array(bytes).join();
      if (key !== d.lastUniform) { device.queue.writeBuffer(d.uniform, 0, bytes); d.lastUniform = key; }
    }
    const enc = device.createCommandEncoder();
    if (!queries) {
      const pass = enc.beginComputePass();
      for (const d of this.dispatches) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
      }
      pass.end();
    } else {
      this.dispatches.forEach((d, i) => {
        const querySet = queries.sets[Math.floor(i / QUERY_PAIRS)], q = (i % QUERY_PAIRS) * 2;
        const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
        pass.end();
      });
      queries.sets.forEach((set, k) => enc.resolveQuerySet(set, 0, set.count, queries.resolve, k * QUERY_PAIRS * 16));
    }
    const cmd = enc.finish();
    const t1 = performance.now();
    device.queue.submit([cmd]);
    this.be.stats.submits++;
    for (const c of this.plan.counters) c.step++;
    this.life.markRun();
    const submitMs = performance.now() - t1;
    afterSubmit();
    return { encodeMs: t1 - t0, submitMs };
  }

  /** One run, timed: the sum of its dispatches' GPU times with timestamps, else its wall time to completion. */
  async timeOnce(feeds: Feeds): Promise<number> {
    if (!this.be.ctx.timestamps) {
      const t0 = performance.now();
      this.timedRun(feeds, {});
      await this.be.sync();
      return performance.now() - t0;
    }
    return this.withQueries(async (queries, read) => {
      this.timedRun(feeds, {}, queries);
      const span = await read();
      let ms = 0;
      for (let i = 0; i < this.dispatches.length; i++) { const [start, end] = span(i); ms += Number(end - start) / 1e6; }
      return ms;
    });
  }

  /**
   * Timestamp queries for every dispatch of the step (QUERY_PAIRS start/end pairs a set, all resolved into one
   * buffer), lent to `use` and destroyed after; `read` gives each dispatch's start and end of the last timed run.
   */
  private async withQueries<T>(use: (queries: { sets: GPUQuerySet[]; resolve: GPUBuffer }, read: () => Promise<(i: number) => [bigint, bigint]>) => Promise<T>): Promise<T> {
    const { device } = this.be, n = this.dispatches.length;
    const sets = Array.from({ length: Math.ceil(n / QUERY_PAIRS) }, (_, k) => device.createQuerySet({ type: 'timestamp', count: 2 * Math.min(QUERY_PAIRS, n - k * QUERY_PAIRS) }));
    const bytes = sets.length * QUERY_PAIRS * 16;
    const resolve = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = async () => {
      const raw = await this.be.readBuffer(resolve, bytes, 'i32', 'reading timestamps');
      const ts = new BigUint64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
      return (i: number): [bigint, bigint] => { const at = Math.floor(i / QUERY_PAIRS) * QUERY_PAIRS * 2 + (i % QUERY_PAIRS) * 2; return [ts[at], ts[at + 1]]; };
    };
    try {
      return await use({ sets, resolve }, read);
    } finally {
      sets.forEach((q) => q.destroy());
      resolve.destroy();
    }
  }

  async profile(feeds: Feeds, o: ProfileOptions = {}): Promise<StepProfile> {
    const runs = Math.max(1, o.runs ?? 5);
    const { device } = this.be;
    this.timedRun(feeds, o);
    await this.be.sync();
    // Plain steps (the wall time to compare the nodes with, and the host's part of it) alternate with profiled ones,
    // so that both see the same load on a shared machine.
    const walls: number[] = [], enc: number[] = [], sub: number[] = [], waits: number[] = [], spans: number[] = [];
    const plain = async () => {
      const t0 = performance.now();
      const h = this.timedRun(feeds, o);
      const t1 = performance.now();
      await this.be.sync();
      const t2 = performance.now();
      walls.push(t2 - t0); enc.push(h.encodeMs); sub.push(h.submitMs); waits.push(t2 - t1);
    };
    const n = this.dispatches.length;
    const per: number[][] = this.dispatches.map(() => []), starts: number[][] = this.dispatches.map(() => []);
    if (this.be.ctx.timestamps) {
      await this.withQueries(async (queries, read) => {
        for (let r = 0; r < runs; r++) {
          await plain();
          this.timedRun(feeds, o, queries);
          const span = await read();
          const origin = span(0)[0];
          for (let i = 0; i < n; i++) {
            const [start, end] = span(i);
            per[i].push(Number(end - start) / 1e6);
            starts[i].push(Number(start - origin) / 1e6);
          }
          spans.push(Number(span(n - 1)[1] - origin) / 1e6);
        }
      });
    } else {
      // No timestamps: each dispatch submitted alone and waited for, timed by the host clock (submit latency included).
      for (let r = 0; r < runs; r++) {
        await plain();
        let at = 0;
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const e = device.createCommandEncoder(), pass = e.beginComputePass(), d = this.dispatches[i];
          pass.setPipeline(d.pipeline); pass.setBindGroup(0, d.bindGroup); pass.dispatchWorkgroups(...d.workgroups); pass.end();
          device.queue.submit([e.finish()]);
          await this.be.sync();
          const ms = performance.now() - t0;
          per[i].push(ms); starts[i].push(at); at += ms;
        }
        spans.push(at);
        for (const c of this.plan.counters) c.step++;
      }
    }
    const host = { encodeMs: median(enc), submitMs: median(sub), waitMs: median(waits) };
    // A step's time is the sum of its dispatches (a GEMM's packing passes and its own).
    const byStep = new Map<Tensor, { ms: number; start: number; dispatches: number; kernel: string }>();
    this.dispatches.forEach((d, i) => {
      const e = byStep.get(d.step), ms = trimmedMean(per[i]);
      if (e) { e.ms += ms; e.dispatches++; e.kernel = d.launch.shader; } else byStep.set(d.step, { ms, start: trimmedMean(starts[i]), dispatches: 1, kernel: d.launch.shader });
    });
    const nodes = [...byStep].map(([s, e]) => {
      const g = this.plan.fused.get(s);
      return nodeProfile(s, g?.pattern?.kernel ?? e.kernel, e.dispatches, e.ms, e.start, stepWork(g?.nodes ?? [s], g?.inputs ?? s.inputs, this.plan.bufferOf.has(s) ? s : undefined));
    });
    return finishProfile({ backend: 'webgpu', device: this.be.description, timing: this.be.ctx.timestamps ? 'gpu-timestamps' : 'host', runs, stepMs: median(walls), profiledStepMs: median(spans), coverage: median(spans.map((span, r) => per.reduce((a, t) => a + t[r], 0) / span)), host, nodes });
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    this.life.checkRead(t, this.plan.outputs);
    const s = this.slotOf(t);
    if (isHalf(this.plan, t)) {
      const raw = await this.be.readBuffer(s.buffer, Math.ceil(t.size / 2) * 4, 'i32', `reading ${t}`, s.offset);
      return decodeF16(new Uint16Array(raw.buffer, raw.byteOffset, t.size));
    }
    return this.be.readBuffer(s.buffer, t.size * 4, t.dtype, `reading ${t}`, s.offset);
  }

  dispose(): void {
    this.life.dispose();
    for (const b of this.owned) this.be.pool.release(b);
    for (const t of this.textures) t.destroy();
    this.owned = [];
    this.textures = [];
    this.dispatches = [];
  }
}
