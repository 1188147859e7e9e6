// The backend contract. A backend compiles a plan once and runs it many times; variables (weights, optimizer
// state) live on the backend between runs. CPU and WebGPU implement the same contract, so any graph can run on both.
import { Tensor, Variable } from '../graph/tensor.js';
import { Plan, Feeds, FeedError } from '../schedule/plan.js';
import { UserError } from '../util/errors.js';

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
  dispose(): void;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** A human-readable description of the device (adapter name on WebGPU). */
  readonly description: string;
  compile(outputs: readonly Tensor[], effects?: readonly Tensor[]): Executable;
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
