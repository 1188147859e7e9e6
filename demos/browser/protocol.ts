// The messages between the page and the training session (demos/browser/session.ts), which runs in a dedicated
// worker (worker.ts) or, where workers get no WebGPU, on the page's own thread (local.ts) with the same messages.
// Datasets travel as their typed arrays; checkpoints as safetensors bytes, the format `wgtrain train --save` writes.
import type { Dataset, DeviceOptions, ModelConfig, RunFlags } from '../../src/index.js';

/** What a run is: the model, its data (described, not held), and the flags a CLI run of it would take. */
export interface RunSpec {
  /** The model's name as `wgtrain train --model` takes it (a built-in config's name, or a JSON file's name) and its config. */
  model: { name: string; config: ModelConfig };
  /** Where the examples came from: MNIST's first `n` training images from the server, or a file the user opened. */
  data: { kind: 'mnist' | 'csv' | 'images'; name: string; classes?: string[]; regression?: boolean };
  /**
   * The run's flags as `wgtrain train` records them in a checkpoint (src/train/run_flags.ts): optimizer, schedule,
   * batch size, seed, augmentation, validation split... A run continued from a CLI checkpoint keeps that run's.
   */
  flags: RunFlags;
  /** Train until the trainer's step reaches this (a resumed run goes on to the same end). */
  untilStep: number;
  /** Steps between loss reads, held-out evaluations and checkpoints (0: no checkpoints). */
  logEvery: number;
  evalEvery: number;
  saveEvery: number;
  backend: 'webgpu' | 'cpu';
}

/** A GPT run on text (the text tab): the model's shape, the schedule (AdamW, warm-up then cosine, as `wgtrain train --model gpt`), sampling. */
export interface TextSpec {
  context: number; dim: number; heads: number; layers: number;
  batchSize: number; steps: number; lr: number; warmup: number; seed: number;
  /** Steps between loss reads, and between samples (each `sampleTokens` long, after `prompt`). */
  logEvery: number; sampleEvery: number; sampleTokens: number; prompt: string;
  /** Steps between checkpoints in OPFS (0: none); the run also saves where it ends. */
  saveEvery: number;
  backend: 'webgpu' | 'cpu';
}

/** The page's side of the protocol. */
export type ToTrainer =
  /** Build the model and train; `resume`: checkpoint bytes to continue from (its step, weights and optimizer state). */
  | { type: 'start'; spec: RunSpec; train: Dataset; test: Dataset; resume?: Uint8Array; hideGpu?: boolean; device?: DeviceOptions }
  /** Train a character-level GPT on `text` (its last tenth held out), with samples as it learns. */
  | { type: 'start-text'; spec: TextSpec; text: string; resume?: Uint8Array; hideGpu?: boolean; device?: DeviceOptions }
  /** Stop after the current step; the run saves where it stopped and answers 'done' with stopped: true. */
  | { type: 'stop' }
  /** The model's parameters as they are now, by name. */
  | { type: 'weights' }
  /** One training step on this backend and on the CPU reference, compared. */
  | { type: 'check' }
  /** Class probabilities for n examples. */
  | { type: 'predict'; x: Float32Array; n: number };

export interface CheckRow { layer: string; values: number; maxAbsErr: number; ratio: number; ok: boolean }

/** The session's side. */
export type FromTrainer =
  | { type: 'backend'; backend: 'webgpu' | 'cpu'; adapter: string; inWorker: boolean }
  /** This context offers no WebGPU (a worker in some browsers): the page falls back to its own thread. */
  | { type: 'no-webgpu'; detail: string; inWorker: boolean }
  /** A checkpoint was put into the run: its step, and a hash of the parameters read back from the device. */
  | { type: 'resumed'; step: number; hash: string }
  | { type: 'loss'; step: number; loss: number; samplesPerSec: number }
  /** The held-out accuracy, or R² for regression. */
  | { type: 'accuracy'; step: number; accuracy: number; metric: 'accuracy' | 'r2' }
  /** A checkpoint was written to the Origin Private File System (opfs.ts) at this step; `hash` as for 'resumed'. */
  | { type: 'saved'; step: number; hash: string; bytes: number }
  | { type: 'done'; step: number; stopped: boolean }
  | { type: 'weights'; step: number; names: string[]; values: Float32Array[]; hash: string }
  | { type: 'check'; ok: boolean; gpu: string; layers: CheckRow[]; summary: string }
  | { type: 'prediction'; probs: number[] }
  /** Text the GPT wrote at this step, after the prompt; `vocab` and `parameters` come with the first. */
  | { type: 'sample'; step: number; text: string }
  | { type: 'text-model'; vocab: number; parameters: number; trainChars: number; heldOutChars: number; unigram: number }
  /** The held-out loss (nats per character) at the end of a text run. */
  | { type: 'text-done'; step: number; stopped: boolean; valLoss: number }
  /** `limit`: the device lacks a limit the kernels need (LimitError), so the page offers the CPU. */
  | { type: 'error'; message: string; limit?: { limit: string; available: number; needed: number } };

/** Anything that carries the protocol: a Worker, or the in-thread stand-in. */
export interface TrainerPort {
  postMessage(m: ToTrainer, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<FromTrainer>) => void) | null;
  terminate(): void;
}
