// The few ONNX protobuf messages an inference graph needs, encoded by hand (field numbers from onnx/onnx.proto): a
// model is a graph of nodes with attributes, initializers holding the weights, and typed inputs and outputs. Protobuf's
// wire format: each field is a varint key (number << 3 | wire type), then a varint, a 4-byte float, or a
// length-prefixed byte string (strings, packed arrays, nested messages).

class Writer {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];
  private flush() { if (this.parts.length) { this.chunks.push(Uint8Array.from(this.parts)); this.parts = []; } }
  private varint(v: bigint) {
    // Negative int64 values are ten-byte two's-complement varints.
    let x = BigInt.asUintN(64, v);
    do { let b = Number(x & 0x7fn); x >>= 7n; if (x) b |= 0x80; this.parts.push(b); } while (x);
  }
  int(field: number, v: number) { this.varint(BigInt(field << 3)); this.varint(BigInt(v)); return this; }
  float(field: number, v: number) {
    this.varint(BigInt((field << 3) | 5));
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  bytes(field: number, b: Uint8Array) {
    this.varint(BigInt((field << 3) | 2));
    this.varint(BigInt(b.length));
    this.flush();
    this.chunks.push(b);
    return this;
  }
  string(field: number, s: string) { return this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, w: Writer) { return this.bytes(field, w.finish()); }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

export type Attr = number | number[] | string | { float: number };
export interface OnnxNode { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, Attr> }
export interface OnnxInit { name: string; dims: number[]; data: Float32Array | BigInt64Array }
/** A tensor's dims: a number is fixed, a string names a dimension given at run time (the batch). */
export interface OnnxValue { name: string; dims: (number | string)[]; type?: 'float' | 'int64' }

const FLOAT = 1, INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 };

function attribute(name: string, v: Attr): Writer {
  const w = new Writer().string(1, name);
  if (typeof v === 'number') return w.int(3, v).int(20, ATTR.INT);
  if (typeof v === 'string') return w.string(4, v).int(20, ATTR.STRING);
  if (Array.isArray(v)) { for (const x of v) w.int(8, x); return w.int(20, ATTR.INTS); }
  return w.float(2, v.float).int(20, ATTR.FLOAT);
}

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  return new Writer().string(1, v.name).message(2, new Writer().message(1, new Writer().int(1, v.type === 'int64' ? INT64 : FLOAT).message(2, shape)));
}

/** The ModelProto bytes of one graph at ONNX opset `opset` (ir_version 8). */
export function encodeOnnx(g: { name: string; nodes: OnnxNode[]; inits: OnnxInit[]; inputs: OnnxValue[]; outputs: OnnxValue[] }, opset: number, producer: string): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => {
    const w = new Writer();
    for (const x of n.inputs) w.string(1, x);
    for (const x of n.outputs) w.string(2, x);
    w.string(3, `${n.op}_${i}`).string(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, attribute(k, v));
    graph.message(1, w);
  });
  graph.string(2, g.name);
  for (const t of g.inits) {
    const w = new Writer();
    for (const d of t.dims) w.int(1, d);
    w.int(2, t.data instanceof Float32Array ? FLOAT : INT64).string(8, t.name);
    w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    graph.message(5, w);
  }
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  return new Writer().int(1, 8).string(2, producer).message(7, graph).message(8, new Writer().string(1, '').int(2, opset)).finish();
}
