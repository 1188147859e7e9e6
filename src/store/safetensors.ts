// The safetensors format (https://github.com/huggingface/safetensors), so checkpoints open in PyTorch, JAX and NumPy:
// an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON (padded with spaces to a multiple of 8, which
// keeps the data aligned), then the tensors' bytes back to back, little-endian. The reader trusts nothing in a file:
// every length and offset is checked against the file's size before any data is touched.
import { UserError } from '../util/errors.js';

export const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
} as const;
export type SafeDType = keyof typeof DTYPE_BYTES;

/** The arrays this module converts to and from; other dtypes are read as raw bytes. */
export type SafeArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface SafeTensor { dtype: SafeDType; shape: number[]; data: SafeArray }
/** A tensor as read: `bytes` is a copy owned by the caller; `array()` views it with the dtype's typed array. */
export interface ReadTensor { dtype: SafeDType; shape: number[]; bytes: Uint8Array; array(): SafeArray }

export class SafetensorsError extends UserError {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

/** A header larger than this is a corrupt length field, not a real header (1e5 tensors take ~10 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA = '__metadata__';

// Typed arrays use the host's byte order and the format is little-endian; every platform Node runs on is too.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors: big-endian hosts are not supported');

const ARRAYS: Partial<Record<SafeDType, { new (b: ArrayBuffer): SafeArray }>> = {
  F32: Float32Array, F64: Float64Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array, BOOL: Uint8Array,
};

function dtypeOf(a: SafeArray): SafeDType {
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof BigInt64Array) return 'I64';
  return 'U8';
}

const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The whole file in memory: header, then each tensor's bytes in the order given. */
export function encodeSafetensors(tensors: ReadonlyMap<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header[METADATA] = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === METADATA) throw new SafetensorsError('safetensors', `'${METADATA}' is reserved and cannot name a tensor`);
    const want = elements(t.shape) * DTYPE_BYTES[t.dtype];
    if (dtypeOf(t.data) !== t.dtype && !(t.dtype === 'BOOL' && t.data instanceof Uint8Array)) {
      throw new SafetensorsError('safetensors', `tensor '${name}' is declared ${t.dtype} but holds a ${t.data.constructor.name}`);
    }
    if (t.data.byteLength !== want) {
      throw new SafetensorsError('safetensors', `tensor '${name}' has ${t.data.byteLength} bytes, expected ${want} for ${t.dtype} [${t.shape.join(', ')}]`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + want] };
    offset += want;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let at = 8 + padded;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parse and validate a whole safetensors file. `file` names it in errors. Checks: the length field against the file
 * and MAX_HEADER_BYTES; UTF-8 and JSON; every entry's dtype, shape and offsets; that the tensors tile the data
 * section exactly (no gap, no overlap, nothing after); and that each one's byte size is its shape times its dtype.
 */
export function decodeSafetensors(bytes: Uint8Array, file = 'safetensors buffer'): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> } {
  const fail = (detail: string): never => { throw new SafetensorsError(file, detail); };
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} is larger than the ${MAX_HEADER_BYTES}-byte limit (corrupt, or not a safetensors file)`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) fail(`truncated: the header claims ${headerLen} bytes but only ${bytes.length - 8} follow the length field`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`the header is not a JSON object (it starts with ${JSON.stringify(text.slice(0, 16))})`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`'${METADATA}' must be an object of strings`);
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') fail(`'${METADATA}' entry '${k}' is ${JSON.stringify(s)}, expected a string`);
        metadata[k] = s as string;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${where}: expected an object {dtype, shape, data_offsets}`);
    const e = v as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length) fail(`${where}: unexpected field(s) ${extra.join(', ')}`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, e.dtype)) {
      fail(`${where}: unknown dtype ${JSON.stringify(e.dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every(isIndex)) fail(`${where}: shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isIndex)) fail(`${where}: data_offsets ${JSON.stringify(off)} is not [begin, end]`);
    const [begin, end] = off as number[];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const dtype = e.dtype as SafeDType, shape = e.shape as number[];
    const size = elements(shape) * DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(size)) fail(`${where}: shape [${shape.join(', ')}] is too large`);
    if (end - begin !== size) fail(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} [${shape.join(', ')}] needs ${size}`);
    entries.push({ name, dtype, shape, begin, end });
  }

  const dataStart = 8 + headerLen, dataLen = bytes.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expect = 0;
  for (const e of entries) {
    if (e.end > dataLen) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] run past the end of the data (${dataLen} bytes; file truncated?)`);
    if (e.begin < expect) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${expect}`);
    if (e.begin > expect) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${expect}`);
    expect = e.end;
  }
  if (expect !== dataLen) fail(`${dataLen - expect} bytes after the last tensor (the data section is ${dataLen} bytes, the tensors cover ${expect})`);

  const tensors = new Map<string, ReadTensor>();
  for (const e of entries) {
    // A copy (Buffer#slice would share memory): the caller owns it, and typed arrays need an alignment the file's offsets do not promise.
    const own = new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    const Ctor = ARRAYS[e.dtype];
    tensors.set(e.name, {
      dtype: e.dtype, shape: e.shape, bytes: own,
      array: () => {
        if (!Ctor) throw new SafetensorsError(file, `tensor '${e.name}': dtype ${e.dtype} has no typed array here (supported: ${Object.keys(ARRAYS).join(', ')})`);
        return new Ctor(own.buffer);
      },
    });
  }
  return { tensors, metadata };
}
