// Checkpoints and weights as files (Node): the formats, and saving to and restoring from bytes, are in
// checkpoint.ts and weights.ts, which browsers can bundle. A save replaces the file atomically, so it holds the old checkpoint or the new one, never a mix.
import { readSafetensorsBytes } from '../store/safetensors_file.js';
import { writeFileAtomic } from '../store/atomic.js';
import { encodeCheckpoint, decodeCheckpoint, restoreCheckpoint, CheckpointInfo, CheckpointMeta, DecodedCheckpoint, Trainable } from './checkpoint.js';

import { saveWeights, loadWeights } from './weights.js';
import type { Backend } from '../backends/backend.js';
import type { Module } from '../nn/module.js';

export * from './checkpoint.js';

/**
 * Read every value back from the backend and write the checkpoint atomically: `path` keeps its previous contents
 * unless the new ones are complete. Refuses (NonFiniteCheckpointError, nothing written) if any value is not finite,
 * so a run that diverged never overwrites its last good checkpoint.
 */
export async function saveCheckpoint(path: string, t: Trainable, info: CheckpointInfo): Promise<CheckpointMeta> {
  const { bytes, meta } = await encodeCheckpoint(t, info, path);
  await writeFileAtomic(path, bytes);
  return meta;
}

/** Parse and validate a checkpoint file and its metadata without touching any model. */
export async function readCheckpoint(path: string): Promise<DecodedCheckpoint> {
  return decodeCheckpoint(await readSafetensorsBytes(path), path);
}

/** Put a checkpoint file into a live run: see restoreCheckpoint; a mismatch changes nothing. */
export async function loadCheckpoint(path: string, t: Trainable): Promise<CheckpointMeta> {
  return restoreCheckpoint(decodeCheckpoint(await readSafetensorsBytes(path), path), t, path);
}

/** saveWeights to a file, atomically: the weights only, for inference (see weights.ts). */
export async function saveWeightsFile(path: string, backend: Backend, model: Module): Promise<void> {
  await writeFileAtomic(path, await saveWeights(backend, model));
}

/** loadWeights from a file: a weights file or a training checkpoint; no optimizer or training graph needed. */
export async function loadWeightsFile(path: string, backend: Backend, model: Module): Promise<void> {
  loadWeights(backend, model, await readSafetensorsBytes(path), path);
}
