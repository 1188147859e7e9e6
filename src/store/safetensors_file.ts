// Safetensors files on disk (Node): the format itself is in safetensors.ts, which browsers can bundle.
import { readBounded, INPUT_LIMITS } from './read_bounded.js';
import { writeFileAtomic } from './atomic.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, SafeTensor } from './safetensors.js';

/** A file's bytes (a regular file of at most INPUT_LIMITS.checkpoint); any problem is a SafetensorsError naming it. */
export async function readSafetensorsBytes(path: string): Promise<Uint8Array> {
  return readBounded(path, {
    maxBytes: INPUT_LIMITS.checkpoint, expected: 'a safetensors checkpoint', error: (m) => new SafetensorsError(path, m.slice(path.length + 2)),
    openError: (e) => new SafetensorsError(path, `cannot read: ${e.message}`),
  });
}

export async function readSafetensors(path: string) {
  return decodeSafetensors(await readSafetensorsBytes(path), path);
}

/** Write atomically: readers see the old file or the new one, never a mix, even if the process dies mid-write. */
export async function writeSafetensors(path: string, tensors: ReadonlyMap<string, SafeTensor>, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
