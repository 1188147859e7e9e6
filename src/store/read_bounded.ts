// Reading a user's file whole, but only a regular file of a stated size: a path that names a device (/dev/zero), a
// FIFO or a directory would otherwise hang the read or grow memory until the process is killed, and a file larger
// than a format can sensibly hold would do the same more slowly. The file is opened non-blocking (opening a FIFO for
// reading then returns at once) and checked with fstat on the open descriptor, so what is read is what was checked.
import { open, constants } from 'node:fs/promises';
import type { Stats } from 'node:fs';

export interface BoundedRead {
  /** The largest size accepted, in bytes. */
  maxBytes: number;
  /** What the file should be, for the message: "a CSV table", "a safetensors checkpoint". */
  expected: string;
  /** Turns a message (which starts with the path) into the caller's error type, so each format keeps its own. */
  error: (message: string) => Error;
  /** The error for a file that cannot be opened (missing, no permission), when the format words it its own way. */
  openError?: (e: NodeJS.ErrnoException) => Error;
}

const kind = (s: Stats) =>
  s.isDirectory() ? 'a directory' : s.isFIFO() ? 'a FIFO (named pipe)' : s.isCharacterDevice() ? 'a character device'
    : s.isBlockDevice() ? 'a block device' : s.isSocket() ? 'a socket' : 'not a regular file';

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 0)} MiB`;

/** Opens `path`, refuses anything but a regular file of at most `o.maxBytes`, and returns its bytes. */
export async function readBounded(path: string, o: BoundedRead): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (o.openError) throw o.openError(e as NodeJS.ErrnoException);
    const code = (e as NodeJS.ErrnoException).code;
    throw o.error(`${path}: cannot read${code === 'ENOENT' ? ': no such file' : ` (${code ?? (e as Error).message})`} (expected ${o.expected})`);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw o.error(`${path}: is ${kind(s)}, not a regular file (expected ${o.expected})`);
    if (s.size > o.maxBytes) throw o.error(`${path}: is ${s.size} bytes (${mib(s.size)}), more than the ${mib(o.maxBytes)} accepted for ${o.expected}`);
    // Read one byte past the size: a file that grew after the fstat is still held to the bound.
    const buf = Buffer.allocUnsafe(s.size + 1);
    let at = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, at, buf.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
      if (at === buf.length) throw o.error(`${path}: grew while being read (past ${s.size} bytes; expected ${o.expected} that is not being written)`);
    }
    return buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}

/** readBounded, decoded as UTF-8 text. */
export async function readBoundedText(path: string, o: BoundedRead): Promise<string> {
  return (await readBounded(path, o)).toString('utf8');
}

/** The bounds each input format is read under (stated in the README). */
export const INPUT_LIMITS = {
  /** A JSON model config. */
  modelConfig: 16 * 2 ** 20,
  /** A CSV table: JavaScript strings stop near 512 Mi characters. */
  csv: 512 * 2 ** 20,
  /** An IDX file (MNIST's largest is 47 MB). */
  idx: 1024 * 2 ** 20,
  /** A safetensors checkpoint (Node reads at most 2 GiB into one buffer). */
  checkpoint: 2 ** 31 - 1,
} as const;
