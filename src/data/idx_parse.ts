// Parser for the IDX format used by MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// (0x00 0x00 <type> <ndims>), ndims big-endian u32 sizes, then the data. Only the unsigned-byte type is supported:
// MNIST uses nothing else, and silently accepting another type would misread the data.
// No Node imports: the browser demo parses IDX bytes it fetched; readIdxFile (idx.ts) adds the file system.
import { UserError } from '../util/errors.js';

/** Any problem reading an IDX file; the message starts with the file name and says what was expected vs found. */
export class IdxError extends UserError {
  override name = 'IdxError';
}

const UBYTE = 0x08;
const hex = (b: number) => '0x' + b.toString(16).padStart(2, '0');

export function parseIdx(bytes: Uint8Array, what: string): { shape: number[]; data: Uint8Array } {
  const fail = (msg: string): never => { throw new IdxError(`${what}: ${msg}`); };
  if (bytes.length < 4) fail(`truncated: expected a 4-byte magic number, file has ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`bad magic number: expected first two bytes 0x00 0x00, found ${hex(bytes[0])} ${hex(bytes[1])} (not an IDX file?)`);
  }
  if (bytes[2] !== UBYTE) fail(`unsupported data type ${hex(bytes[2])}: expected ${hex(UBYTE)} (unsigned byte)`);
  const ndims = bytes[3];
  if (ndims < 1 || ndims > 4) fail(`bad number of dimensions: expected 1..4, found ${ndims}`);

  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) fail(`truncated: header of ${ndims} dims needs ${headerLen} bytes, file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));

  // Both too short and too long are errors: a longer file means the header and the data disagree somehow.
  const expected = shape.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLen;
  const says = `header says ${shape.join('x')} = ${expected} bytes of data`;
  if (found < expected) fail(`truncated: ${says}, file has ${found}`);
  if (found > expected) fail(`trailing bytes: ${says}, file has ${found} (${found - expected} extra)`);
  return { shape, data: bytes.subarray(headerLen) };
}
