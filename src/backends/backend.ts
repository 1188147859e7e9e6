// The backend contract. A backend compiles a plan once and runs it many times; variables (weights, optimizer
// state) live on the backend between runs. CPU and WebGPU implement the same contract, so any graph can run on both.
import { Tensor, Variable } from '../graph/tensor.js';
import { Plan, Feeds } from '../schedule/plan.js';

export interface Executable {
  readonly plan: Plan;
  /** Feed the inputs and launch every step. Returns without waiting for the device. */
  run(feeds: Feeds): void;
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
