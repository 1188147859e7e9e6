// Safetensors files on disk (Node): the format itself is in safetensors.ts, which browsers can bundle.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, SafeTensor } from './safetensors.js';

/** A file's bytes; a missing or unreadable file is a SafetensorsError that names it. */
export async function readSafetensorsBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read: ${(e as Error).message}`);
  }
}

export async function readSafetensors(path: string) {
  return decodeSafetensors(await readSafetensorsBytes(path), path);
}

/** Write atomically: readers see the old file or the new one, never a mix, even if the process dies mid-write. */
export async function writeSafetensors(path: string, tensors: ReadonlyMap<string, SafeTensor>, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
