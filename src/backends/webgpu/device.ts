// Device acquisition, one function for Node (Dawn through the `webgpu` package) and the browser (navigator.gpu).
// Asks for the adapter's own limits where the kernels can use more than WebGPU's defaults.
import { UserError } from '../../util/errors.js';

export class NoAdapterError extends UserError {
  constructor(readonly detail: string) {
    super(
      `webgpu: no WebGPU adapter found (${detail}). On Linux without a GPU, run 'npm run setup' (as root on Debian 12 it installs ` +
        `Mesa lavapipe from bookworm-backports), or use --backend cpu. In a browser, WebGPU must be enabled (Chrome 113+).`,
    );
    this.name = 'NoAdapterError';
  }
}

/**
 * The device is gone (destroyed, a driver reset, a GPU process crash): nothing on it can run or be read again. Carries
 * WebGPU's reason ('destroyed' or 'unknown') and message. Recover by creating a new backend and writing the weights
 * back from host copies or a checkpoint.
 */
export class DeviceLostError extends Error {
  constructor(readonly reason: string, readonly detail: string, doing: string) {
    super(`webgpu: device lost while ${doing} (reason '${reason}'${detail ? `: ${detail}` : ''}); create a new backend and restore the weights from a checkpoint or host copies`);
    this.name = 'DeviceLostError';
  }
}

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; description: string; device: string };
  features: string[];
  /** Which GEMM kernel matmuls run on (see `gemmKernelFor`). */
  gemm: GemmKernel;
  /** Whether the device was created with 'timestamp-query' (the adapter has it): profile() times kernels on the GPU. */
  timestamps: boolean;
  /** Set once the device is lost; every later run reports it. */
  lost?: string;
  lostInfo?: { reason: string; message: string };
  /** Resolves when the device is lost, after `lost` is set. */
  whenLost?: Promise<{ reason: string; message: string }>;
  /** The first uncaptured (validation or out-of-memory) error, reported by the next run or read. */
  error?: string;
}

const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupsPerDimension',
] as const;

/**
 * Node: the one Dawn instance, held for the life of the process. dawn.node destroys its instance when the GPU object
 * is garbage-collected, even while devices made from it are in use; the next event poll then crashes the process
 * (a null mutex in CallbackTaskManager::Flush), at a moment that depends on when V8 collects.
 */
let dawnInstance: GPU | undefined;

/** navigator.gpu in a browser; in Node, the process's one Dawn instance (shared with tools such as TF.js). */
export async function gpuApi(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (dawnInstance) return dawnInstance;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) throw new NoAdapterError('navigator.gpu is undefined: this browser does not expose WebGPU, or it is turned off');
  // The module name is a variable so browser bundles do not try to include the Dawn bindings.
  const mod = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ mod)) as { create: (o: string[]) => GPU; globals: object };
  Object.assign(globalThis, dawn.globals);
  return (dawnInstance = dawn.create([]));
}

/**
 * Wait for `work` without holding a core. While any of its promises is pending, Dawn's Node bindings poll for GPU
 * completion with back-to-back setImmediate ticks: one core at 100%. On a CPU adapter (lavapipe) that is a core the
 * shader threads needed, and waits measured 1.5x longer. So in Node, while anything is being waited for, one pump
 * sleeps between ticks (Atomics.wait) and lets one tick run per sleep. Browsers do not spin and may not block their
 * main thread: there `work` is returned as it is.
 *
 * How long each sleep is: every wake costs the shader threads about 25 us on lavapipe's two cores, and a wait ends
 * up to one sleep late. Where the last waits took steadily the same time (a training step's), the pump sleeps through
 * most of the expected time in a few long sleeps (at most 5 ms each, so other events still run), then wakes every
 * thirty-second of the wait so far; otherwise it wakes every thirty-second from the start, 20 us to 1 ms (WaitClock,
 * which also drops that trust when a wait ends inside such a sleep). Fused
 * attention's forward + backward ([32, 256, 32], about 13 ms) took 12.6 ms a step waited for this way, against 13.8 with
 * sleeps of a sixteenth of the pump's life (about 12 wakes a step) and 14.3 with a sixteenth of the newest wait's
 * (38 wakes); a one-dispatch step 0.15 ms, against 1.14 and 0.15 (0.09 spinning).
 */
export function settle<T>(work: Promise<T>): Promise<T> {
  const cell = sleeper;
  if (!dawnInstance || !cell) return work;
  waiting++;
  const start = WAIT_CLOCK.began(performance.now());
  const done = () => { waiting--; WAIT_CLOCK.ended(start, performance.now()); };
  work.then(done, done);
  pump ??= (async () => {
    while (waiting > 0) {
      Atomics.wait(cell, 0, 0, WAIT_CLOCK.sleepMs(performance.now()));
      await new Promise((r) => setImmediate(r));
    }
    pump = undefined;
  })();
  return work;
}
const sleeper = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
let waiting = 0;

/** How long settle()'s pump sleeps: the policy above, on the clock it is given (so a test can drive it). */
export class WaitClock {
  /** How long the last RECENT waits took, oldest first. */
  private recent: number[] = [];
  /** When the newest pending wait began. */
  private newest = 0;
  /** Whether the last sleep was through expected time, not a poll. */
  private trusted = false;
  static readonly RECENT = 4;

  /** A wait begins at `now`; returns its start, for ended(). */
  began(now: number): number { this.newest = now; return now; }

  /**
   * A wait that began at `start` is done at `now`. Done within a sleep taken on the history's word, the wait may
   * have been much shorter than the ones before (a switch from training steps to single reads), and its measured
   * length is the sleep's, not its own: believed, it would keep every later short wait asleep as long. So the history
   * is forgotten and the pump polls until it is steady again.
   */
  ended(start: number, now: number): void {
    if (this.trusted) { this.recent.length = 0; return; }
    this.recent.push(now - start);
    if (this.recent.length > WaitClock.RECENT) this.recent.shift();
  }

  /** The next sleep, in ms, at `now`. */
  sleepMs(now: number): number {
    const elapsed = now - this.newest, sure = this.expectedWait();
    this.trusted = sure - elapsed >= 0.02;
    return this.trusted ? Math.min(sure - elapsed, 5) : Math.min(1, Math.max(0.02, elapsed / 32));
  }

  /**
   * The time a wait may be slept through without waking: where the last RECENT waits agree within 25%, 0.9 of the
   * shortest less 0.2 ms, so that a wait as long as they were never ends in a long sleep (the waits measured include
   * their own lateness, which must not feed on itself); 0 below 1 ms or without such a history.
   */
  expectedWait(): number {
    if (this.recent.length < WaitClock.RECENT) return 0;
    const lo = Math.min(...this.recent), hi = Math.max(...this.recent), sure = 0.9 * lo - 0.2;
    return hi <= 1.25 * lo && sure >= 1 ? sure : 0;
  }
}
const WAIT_CLOCK = new WaitClock();
let pump: Promise<void> | undefined;

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** 'compatibility' asks for an adapter that may lack core WebGPU features and has lower default limits. */
  featureLevel?: 'core' | 'compatibility';
  /**
   * 'adapter' (default) asks for the adapter's own limits where the kernels can use more; 'default' takes the
   * feature level's default limits, as an adapter with nothing more to offer would (used to test that path).
   */
  limits?: 'adapter' | 'default';
  /**
   * The GEMM kernel: 'tiled' (shaders/matmul.wgsl, workgroup-memory tiles, every adapter); 'subgroup', for adapters
   * whose subgroups are 8 lanes wide, as CPU SIMD drivers such as lavapipe's are: shaders/matmul_subgroup.wgsl for
   * every product (packedGemm in kernels.ts); 'packed', shaders/matmul_packed.wgsl on operands packed into panels for
   * every product (to test and measure it); or 'auto' (default): 'subgroup' where the adapter allows it, else 'tiled'.
   */
  gemm?: 'auto' | GemmKernel;
  /** false: do not ask for 'timestamp-query' even where the adapter has it, so profile() times by the host clock (to test that path). */
  timestamps?: boolean;
}

export type GemmKernel = 'tiled' | 'subgroup' | 'packed';

/**
 * Whether matmul_subgroup.wgsl can run: it needs the 'subgroups' feature and a subgroup of exactly 8 lanes, so that
 * its 8-invocation workgroup is one whole subgroup. It only pays where subgroups are CPU SIMD lanes; a GPU with
 * 8-wide subgroups would rather have the tiled kernel, but none reports 8 as both its min and max size.
 */
function gemmKernelFor(adapter: GPUAdapter, wanted: DeviceOptions['gemm'] = 'auto'): GemmKernel {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const why = !adapter.features.has('subgroups') ? "the adapter lacks the 'subgroups' feature"
    : info?.subgroupMinSize !== 8 || info?.subgroupMaxSize !== 8 ? `its subgroups are ${info?.subgroupMinSize}-${info?.subgroupMaxSize} lanes wide, not 8`
    : '';
  if ((wanted === 'subgroup' || wanted === 'packed') && why) throw new Error(`webgpu: gemm '${wanted}' was asked for, but ${why}; use gemm 'tiled' or 'auto'`);
  return wanted === 'tiled' || why ? 'tiled' : wanted === 'packed' ? 'packed' : 'subgroup';
}

/**
 * Called after every training-step submit. Each step's command encoder, pass and command buffer hold native memory
 * (the recorded commands) until their JS wrappers are collected, and V8, which sees only the small wrappers, collects
 * them rarely: RSS then climbs about 4.5 KB a step between collections. The CLI installs a hook that runs a full
 * collection every so many submits (cli/native_gc.ts); a library user's process is left to its own GC policy.
 */
export let afterSubmit: () => void = () => {};
export function setSubmitHook(hook: () => void): void { afterSubmit = hook; }

let adapterRequestHook = <T>(request: () => Promise<T>): Promise<T> => request();
/** Wraps every adapter request (the CLI filters Dawn's start-up warnings from stderr around it; see cli/dawn_warnings.ts). */
export function setAdapterRequestHook(hook: <T>(request: () => Promise<T>) => Promise<T>): void { adapterRequestHook = hook; }

export async function acquireDevice(opts: DeviceOptions = {}): Promise<GpuContext> {
  let adapter: GPUAdapter | null;
  try {
    const gpu = await gpuApi();
    adapter = await adapterRequestHook(() => gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance', featureLevel: opts.featureLevel ?? 'core' }));
  } catch (e) {
    if (e instanceof NoAdapterError) throw e;
    throw new NoAdapterError(String((e as Error)?.message ?? e));
  }
  if (!adapter) throw new NoAdapterError(`requestAdapter${opts.featureLevel === 'compatibility' ? "({featureLevel: 'compatibility'})" : ''} returned null`);
  const requiredLimits: Record<string, number> = {};
  if (opts.limits !== 'default') for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const gemm = gemmKernelFor(adapter, opts.gemm);
  // 'timestamp-query' costs nothing until a query set is made: only profile() makes one.
  const timestamps = opts.timestamps !== false && adapter.features.has('timestamp-query');
  // shader-f16 where the adapter has it, for precision 'f16' (WebGpuBackend.compile says so where it lacks it).
  const requiredFeatures = [...(gemm !== 'tiled' ? ['subgroups'] : []), ...(timestamps ? ['timestamp-query'] : []), ...(adapter.features.has('shader-f16') ? ['shader-f16'] : [])] as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const i = adapter.info ?? ({} as GPUAdapterInfo);
  const ctx: GpuContext = {
    device,
    adapterInfo: { vendor: i.vendor ?? '', architecture: i.architecture ?? '', description: i.description ?? '', device: i.device ?? '' },
    features: [...adapter.features].map(String).sort(),
    gemm,
    timestamps,
  };
  ctx.whenLost = device.lost.then((info) => {
    ctx.lost = `${info.reason}: ${info.message}`;
    return (ctx.lostInfo = { reason: String(info.reason), message: info.message });
  });
  device.addEventListener('uncapturederror', (ev) => {
    ctx.error ??= (ev as GPUUncapturedErrorEvent).error.message;
  });
  return ctx;
}

export const adapterName = (c: GpuContext) =>
  [c.adapterInfo.vendor, c.adapterInfo.architecture, c.adapterInfo.description || c.adapterInfo.device].filter(Boolean).join(' ');
