// concat, slice and pad: shape errors, values against their definition, gradients against finite differences (CPU),
// and CPU-vs-WebGPU parity forward and backward.
//
// Tolerance of the parity tests: none. Every output here is a copy, and every gradient a copy of dy = R, or a sum of
// two copies where an input is used twice (one float32 addition, correctly rounded on both sides), so WebGPU must
// agree with the CPU bit for bit.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { concat, slice, pad, MAX_CONCAT_INPUTS } from '../src/graph/shape_ops.js';
import { collapseCopy } from '../src/backends/webgpu/shape_ops.js';
import { grad } from '../src/autodiff/grad.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import { plan, type Feeds } from '../src/schedule/plan.js';
import { topoSort } from '../src/graph/topo.js';
import { assertClose, randn, runOn, finiteDifferenceCheck } from './helpers.js';

interface Case { name: string; shapes: number[][]; f: (...xs: Tensor[]) => Tensor }

const cpu = new CpuBackend();
let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

/** y = f(xs), L = sum(y · R) for a fixed random R, and dL/dx for every x. */
function build(c: Case, seed: number) {
  const xs = c.shapes.map((s, i) => input(s, 'f32', `x${i}`));
  const y = c.f(...xs);
  const R = input(y.shape, 'f32', 'R');
  const L = ops.sum(ops.mul(y, R));
  const feeds: Feeds = new Map(xs.map((x, i) => [x, randn(x.size, seed + i)]));
  feeds.set(R, randn(y.size, seed + 100));
  return { xs, y, L, grads: grad(L, xs), feeds };
}

// ---- shape errors ----

describe('shape ops: shape errors', () => {
  const a = input([2, 3]), b = input([2, 4]);
  const cases: [string, () => unknown, RegExp][] = [
    ['concat of nothing', () => concat([]), /concat: expected at least one tensor, got none/],
    ['concat with a dim that differs off the axis', () => concat([a, b], 0), /concat: shapes \[2,3\], \[2,4\] differ outside axis 0 \(expected the same rank and equal dims except along the axis\)/],
    ['concat of different ranks', () => concat([a, input([2, 3, 1])], 1), /concat: shapes \[2,3\], \[2,3,1\] differ outside axis 1/],
    ['concat axis out of range', () => concat([a, b], 2), /concat: axis 2 is out of range for a tensor of rank 2/],
    ['concat of scalars', () => concat([input([]), input([])]), /concat: cannot concatenate scalars \(\[\], \[\]\)/],
    ['concat of int32', () => concat([a, input([2, 3], 'i32')]), /concat: expected a float32 tensor, got i32 \[2,3\]/],
    ['slice with too few begins', () => slice(a, [0], [1, 1]), /slice: begin \[0\] size \[1,1\] of \[2,3\]: expected one begin and one size per dim \(2\)/],
    ['slice past the end', () => slice(a, [0, 2], [2, 2]), /slice: begin \[0,2\] size \[2,2\] of \[2,3\]: dim 1 asks for \[2, 4\) \(expected a non-empty range within \[0, 3\)\)/],
    ['slice of size 0', () => slice(a, [0, 0], [0, 3]), /slice: .*dim 0 asks for \[0, 0\) \(expected a non-empty range/],
    ['slice with a negative begin', () => slice(a, [-1, 0], [1, 3]), /slice: .*dim 0 asks for \[-1, 0\)/],
    ['pad with a pair missing', () => pad(a, [[1, 1]]), /pad: pads \[\[1,1\]\] for \[2,3\]: expected one \[before, after\] pair of integers >= 0 per dim \(2\)/],
    ['pad with a negative amount', () => pad(a, [[0, 0], [-1, 2]]), /pad: pads \[\[0,0\],\[-1,2\]\] for \[2,3\]/],
  ];
  for (const [name, f, msg] of cases) {
    it(name, () => {
      expect(f).toThrowError(msg);
      try { f(); } catch (e) { expect((e as Error).name).toBe('ShapeError'); }
    });
  }

  it('no-op forms return their input; a long concat becomes a concat of concats', () => {
    expect(concat([a])).toBe(a);
    expect(slice(a, [0, 0], [-1, -1])).toBe(a);
    expect(pad(a, [[0, 0], [0, 0]])).toBe(a);
    const xs = Array.from({ length: 2 * MAX_CONCAT_INPUTS + 1 }, () => input([1, 2]));
    const y = concat(xs, 0);
    expect(y.shape).toEqual([xs.length, 2]);
    for (const n of topoSort([y])) if (n.op === 'concat') expect(n.inputs.length).toBeLessThanOrEqual(MAX_CONCAT_INPUTS);
  });
});

// ---- definition ----

describe('shape ops: values', () => {
  it('concat, slice and pad of small known tensors', async () => {
    const a = input([2, 2]), b = input([2, 1]);
    const feeds: Feeds = new Map([[a, new Float32Array([1, 2, 3, 4])], [b, new Float32Array([5, 6])]]);
    const c1 = concat([a, b], 1), c0 = concat([a, ops.transpose(b)], 0);
    const s = slice(c1, [1, 1], [1, -1]);
    const p = pad(a, [[1, 0], [0, 2]]);
    for (const be of [cpu, gpu]) {
      const [v1, v0, vs, vp] = await runOn(be, [c1, c0, s, p], feeds);
      expect(Array.from(v1), be.name).toEqual([1, 2, 5, 3, 4, 6]);
      expect(Array.from(v0), be.name).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(vs), be.name).toEqual([4, 6]);
      expect(Array.from(vp), be.name).toEqual([0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0]);
    }
  });
});

// ---- gradient checks ----

// Central differences on the CPU, as in test/gradcheck.test.ts: eps 1e-2, atol 2e-3, rtol 1e-2. The ops are linear,
// so the difference quotient is exact up to float32 rounding of L.
async function gradcheck(c: Case, seed: number): Promise<void> {
  const { xs, L, grads, feeds } = build(c, seed);
  await finiteDifferenceCheck(cpu, { wrt: xs, L, grads, feeds }, { name: c.name });
}

describe('shape ops: gradients vs central finite differences (CPU)', () => {
  const cases: Case[] = [
    { name: 'concat [2,3] [4,3] axis 0', shapes: [[2, 3], [4, 3]], f: (a, b) => concat([a, b], 0) },
    { name: 'concat [3,1] [3,2] [3,4] axis -1', shapes: [[3, 1], [3, 2], [3, 4]], f: (a, b, c) => concat([a, b, c], -1) },
    { name: 'concat [2,1,3] [2,2,3] axis 1', shapes: [[2, 1, 3], [2, 2, 3]], f: (a, b) => concat([a, b], 1) },
    { name: 'concat of 9 inputs [1,2] (nested)', shapes: Array(9).fill([1, 2]), f: (...xs) => concat(xs, 0) },
    { name: 'concat of an input with itself', shapes: [[2, 3]], f: (a) => concat([a, ops.tanh(a), a], 1) },
    { name: 'slice [4,5] begin [1,2] size [2,-1]', shapes: [[4, 5]], f: (x) => slice(x, [1, 2], [2, -1]) },
    { name: 'slice [2,3,4] begin [1,0,1] size [1,3,2]', shapes: [[2, 3, 4]], f: (x) => slice(x, [1, 0, 1], [1, 3, 2]) },
    { name: 'pad [2,3] [[1,0],[2,1]]', shapes: [[2, 3]], f: (x) => pad(x, [[1, 0], [2, 1]]) },
    { name: 'pad [2,2,3] [[0,1],[0,0],[1,1]]', shapes: [[2, 2, 3]], f: (x) => pad(x, [[0, 1], [0, 0], [1, 1]]) },
    // Their gradients join into one concat (autodiff/grad.ts, joinPads): checked here against finite differences,
    // since both backends run the joined graph.
    { name: 'adjacent slices, used out of order (joined gradients)', shapes: [[6, 7]], f: (x) => ops.mul(concat([[4, 2], [0, 3], [6, 1], [3, 1]].map(([b, n]) => slice(x, [0, b], [6, n])), 1), x) },
    { name: 'slices of 3 along 0, one twice (joined, then summed)', shapes: [[3, 2, 3]], f: (x) => ops.add(concat([0, 1, 2].map((i) => ops.tanh(slice(x, [i, 0, 0], [1, 2, 3]))), 0), slice(x, [1, 0, 0], [1, 2, 3])) },
    { name: 'composite: slice(pad(concat(a, b)))', shapes: [[2, 3], [2, 2]], f: (a, b) => slice(pad(concat([a, b], 1), [[1, 1], [1, 0]]), [0, 1], [3, 4]) },
  ];
  cases.forEach((c, i) => it(c.name, async () => { await gradcheck(c, 3000 + 13 * i); }));
});

// ---- parity ----

describe('shape ops: the WebGPU copy merges dims', () => {
  it('merges a dim into the one before it where every source spans it whole, at offset 0', () => {
    // slice [1, 2, 4] at [1, 0, 0] of [3, 2, 4]: one run of 8 floats at 8.
    expect(collapseCopy([3, 2, 4], [{ offset: [-1, 0, 0], shape: [1, 2, 4] }])).toEqual({ shape: [24], sources: [{ offset: [-8], shape: [8] }] });
    // concat along 1 of [2, 3, 5] and [2, 1, 5]: the last dim merges, the first cannot (the sources split dim 1).
    expect(collapseCopy([2, 4, 5], [{ offset: [0, 0, 0], shape: [2, 3, 5] }, { offset: [0, 3, 0], shape: [2, 1, 5] }]))
      .toEqual({ shape: [2, 20], sources: [{ offset: [0, 0], shape: [2, 15] }, { offset: [0, 15], shape: [2, 5] }] });
    // pad of the last dim: nothing merges.
    expect(collapseCopy([2, 5], [{ offset: [0, 1], shape: [2, 3] }])).toEqual({ shape: [2, 5], sources: [{ offset: [0, 1], shape: [2, 3] }] });
  });
});

describe('shape ops: WebGPU vs CPU reference, forward and backward (exact)', () => {
  const cases: Case[] = [
    { name: 'concat [257,33] [7,33] [1,33] axis 0', shapes: [[257, 33], [7, 33], [1, 33]], f: (a, b, c) => concat([a, b, c], 0) },
    { name: 'concat [33,1] [33,7] [33,257] axis 1', shapes: [[33, 1], [33, 7], [33, 257]], f: (a, b, c) => concat([a, b, c], 1) },
    { name: 'concat [7,1,33] [7,33,33] axis 1', shapes: [[7, 1, 33], [7, 33, 33]], f: (a, b) => concat([a, b], 1) },
    { name: 'concat [7,33,1] [7,33,257] axis 2', shapes: [[7, 33, 1], [7, 33, 257]], f: (a, b) => concat([a, b], 2) },
    { name: 'concat of 7 inputs [1..257] (every source binding)', shapes: [1, 7, 33, 257, 2, 3, 5].map((d) => [7, d]), f: (...xs) => concat(xs, 1) },
    { name: 'concat of 17 inputs (nested)', shapes: Array.from({ length: 17 }, (_, i) => [1 + (i % 3), 33]), f: (...xs) => concat(xs, 0) },
    { name: 'concat [1] [1] (rank 1)', shapes: [[1], [1]], f: (a, b) => concat([a, b]) },
    { name: 'concat of an input with itself (gradients add)', shapes: [[33, 7]], f: (a) => concat([a, a], 0) },
    { name: 'concat rank 6 axis 3', shapes: [[2, 3, 1, 7, 2, 3], [2, 3, 1, 1, 2, 3]], f: (a, b) => concat([a, b], 3) },
    { name: 'slice [257,33] begin [7,1] size [33,-1]', shapes: [[257, 33]], f: (x) => slice(x, [7, 1], [33, -1]) },
    { name: 'slice [7,33,257] begin [1,0,33] size [1,33,7]', shapes: [[7, 33, 257]], f: (x) => slice(x, [1, 0, 33], [1, 33, 7]) },
    { name: 'slice [257] begin [256] size [1]', shapes: [[257]], f: (x) => slice(x, [256], [1]) },
    { name: 'pad [257,33] [[1,0],[7,33]]', shapes: [[257, 33]], f: (x) => pad(x, [[1, 0], [7, 33]]) },
    { name: 'pad [1,7,33,33] [[0,0],[0,0],[1,1],[2,0]] (NCHW)', shapes: [[1, 7, 33, 33]], f: (x) => pad(x, [[0, 0], [0, 0], [1, 1], [2, 0]]) },
    { name: 'pad [1] [[7,33]]', shapes: [[1]], f: (x) => pad(x, [[7, 33]]) },
    // Dims merge where every source spans the inner one whole (shape_ops.ts, collapseCopy): these run as rank 1-3 copies.
    { name: 'slice [3,2,5,7,3] begin [1,0,0,0,0] size [1,-1,-1,-1,-1] (q, k or v of a packed projection: rank 1)', shapes: [[3, 2, 5, 7, 3]], f: (x) => slice(x, [1, 0, 0, 0, 0], [1, -1, -1, -1, -1]) },
    { name: 'concat [2,3,4,5] [2,1,4,5] axis 1 (rank 2)', shapes: [[2, 3, 4, 5], [2, 1, 4, 5]], f: (a, b) => concat([a, b], 1) },
    { name: 'pad [2,3,4,5] [[0,0],[1,2],[0,0],[0,0]] (rank 2)', shapes: [[2, 3, 4, 5]], f: (x) => pad(x, [[0, 0], [1, 2], [0, 0], [0, 0]]) },
    { name: 'slice [4,1,6,1,5] begin [1,0,2,0,0] size [2,1,3,1,5] (size-1 dims merge)', shapes: [[4, 1, 6, 1, 5]], f: (x) => slice(x, [1, 0, 2, 0, 0], [2, 1, 3, 1, 5]) },
    { name: 'composite: pad(slice(concat))', shapes: [[33, 7], [33, 1]], f: (a, b) => pad(slice(concat([a, b], 1), [1, 1], [31, 7]), [[1, 1], [0, 257]]) },
  ];
  // Adjacent slices' gradients join into one concat (autodiff/grad.ts, joinPads); a gap or an overlap keeps the sum.
  cases.push(
    { name: 'three adjacent slices along 0 (q, k, v): gradients joined', shapes: [[3, 5, 7]], f: (x) => concat([2, 0, 1].map((i) => slice(x, [i, 0, 0], [1, 5, 7])), 1) },
    { name: 'four adjacent slices along 1 (gates), used out of order: gradients joined', shapes: [[6, 33]], f: (x) => concat([[19, 8], [0, 11], [27, 6], [11, 8]].map(([b, n]) => slice(x, [0, b], [6, n])), 1) },
    { name: 'slices with a gap and an overlap: gradients summed', shapes: [[9, 4]], f: (x) => ops.add(ops.add(slice(x, [0, 0], [3, 4]), slice(x, [4, 0], [3, 4])), slice(x, [5, 0], [3, 4])) },
  );
  cases.forEach((c, i) => it(c.name, async () => {
    const { y, grads, feeds } = build(c, 4000 + 31 * i);
    const outputs = [y, ...grads];
    const want = await runOn(cpu, outputs, feeds);
    const got = await runOn(gpu, outputs, feeds);
    outputs.forEach((t, k) => assertClose(got[k], want[k], { atol: 0, rtol: 0, what: `${c.name}: ${k ? `d L / d x${k - 1}` : 'forward'} ${JSON.stringify(t.shape)}, webgpu vs cpu` }));
  }));

  it('adjacent slices: the input gradient is one concat of the slices\' gradients, no pad or sum', () => {
    const x = input([3, 5, 7]), R = input([1, 5, 7]);
    const parts = [0, 1, 2].map((i) => slice(x, [i, 0, 0], [1, 5, 7]));
    const [dx] = grad(ops.sum(ops.mul(ops.add(ops.mul(parts[0], parts[1]), parts[2]), R)), [x]);
    expect(dx.op).toBe('concat');
    expect(topoSort([dx]).filter((t) => t.op === 'pad' || (t.op === 'add' && t.shape.length === 3 && t.shape[0] === 3))).toEqual([]);
    // Used out of order (the gradients arrive in another order than their boxes): still one concat.
    const w = input([6, 7]), parts4 = [[4, 2], [0, 3], [6, 1], [3, 1]].map(([b, n]) => slice(w, [0, b], [6, n]));
    const [dw] = grad(ops.sum(ops.mul(concat(parts4, 1), input([6, 7]))), [w]);
    expect([dw.op, dw.inputs.length]).toEqual(['concat', 4]);
    // Not side by side: each slice's gradient is padded and they add.
    const [dg] = grad(ops.sum(ops.add(slice(x, [0, 0, 0], [1, 5, 7]), slice(x, [2, 0, 0], [1, 5, 7]))), [x]);
    expect(dg.op).toBe('add');
  });

  // A slot reused from a larger value holds stale data: the pad kernel must write its zeros, not assume them.
  it('pad writes its zeros into a reused buffer slot', async () => {
    const x = input([33, 33]);
    const big = ops.tanh(ops.mul(x, 3)); // dies after the next op; its slot is reused
    const small = slice(big, [0, 0], [7, 7]);
    const y = ops.add(pad(small, [[1, 1], [1, 1]]), 0);
    const feeds: Feeds = new Map([[x, randn(x.size, 1)]]);
    const [want] = await runOn(cpu, [y], feeds);
    const [got] = await runOn(gpu, [y], feeds);
    expect(Array.from(got.subarray(0, 9))).toEqual(Array(9).fill(0));
    assertClose(got, want, { atol: 1e-6, rtol: 2e-5, what: 'pad after slot reuse' });
  });
});

// ---- copies the planner skips (src/schedule/in_place.ts) ----
// Both backends run the same plan, so parity cannot see a wrong offset: the values here are checked against host
// arithmetic, on plans whose slots are reused around the in-place values.
describe('slices and concats in place', () => {
  const x = input([3, 4, 64], 'f32', 'x'), xv = randn(x.size, 7);
  const third = (i: number) => xv.subarray(i * 256, (i + 1) * 256);
  const kinds = (p: ReturnType<typeof plan>, t: Tensor) => p.buffers[p.bufferOf.get(t)!];

  it('a slice along the first axis of a computed value is that value at an offset, not a step', async () => {
    const y = ops.mul(x, 2); // computed by a step
    const s = [0, 1, 2].map((i) => slice(y, [i, 0, 0], [1, 4, 64]));
    // Each read only after several other values took and freed slots: y must outlive its last slice's reader.
    const outs = s.map((t, i) => ops.add(ops.tanh(ops.exp(ops.mul(t, 0.1 * (i + 1)))), i));
    const p = plan(outs);
    expect(p.steps.some((t) => t.op === 'slice')).toBe(false);
    s.forEach((t, i) => expect([kinds(p, t).kind, kinds(p, t).offset, kinds(p, t).parent]).toEqual(['slice', i * 1024, p.bufferOf.get(y)]));
    for (const be of [cpu, gpu]) {
      const got = await runOn(be, outs, new Map([[x, xv]]));
      got.forEach((g, i) => assertClose(g, third(i).map((v) => Math.tanh(Math.exp(2 * v * 0.1 * (i + 1))) + i), { atol: 1e-6, rtol: 1e-5, what: `${be.name} slice ${i}` }));
    }
  });

  it('a concat along the first axis has its inputs computed in its buffer, and is no step', async () => {
    const parts = [0, 1, 2].map((i) => ops.mul(slice(x, [i, 0, 0], [1, 4, 64]), i + 1));
    const c = concat(parts, 0);
    const out = ops.add(ops.tanh(c), 1); // read after the parts' own slots would have been freed
    const p = plan([out, parts[1]]);
    expect(p.steps.some((t) => t.op === 'concat')).toBe(false);
    parts.forEach((t, i) => expect([kinds(p, t).kind, kinds(p, t).offset, kinds(p, t).parent]).toEqual(['slice', i * 1024, p.bufferOf.get(c)]));
    for (const be of [cpu, gpu]) {
      const [o, p1] = await runOn(be, [out, parts[1]], new Map([[x, xv]]));
      assertClose(o, xv.map((v, k) => Math.tanh(v * (Math.floor(k / 256) + 1)) + 1), { atol: 1e-6, rtol: 1e-5, what: `${be.name} concat` });
      assertClose(p1, third(1).map((v) => 2 * v), { atol: 0, rtol: 0, what: `${be.name} a part read on its own` });
    }
  });

  it("a part read after its concat's last reader keeps the concat's buffer: no later value is computed over it", async () => {
    const parts = [0, 1, 2].map((i) => ops.mul(slice(x, [i, 0, 0], [1, 4, 64]), i + 1));
    const early = ops.tanh(concat(parts, 0)), late = ops.mul(ops.exp(parts[0]), parts[0]);
    const p = plan([early, late]);
    expect(p.steps.some((t) => t.op === 'concat')).toBe(false);
    for (const be of [cpu, gpu]) {
      const [e, l] = await runOn(be, [early, late], new Map([[x, xv]]));
      assertClose(e, xv.map((v, k) => Math.tanh(v * (Math.floor(k / 256) + 1))), { atol: 1e-6, rtol: 1e-5, what: `${be.name} early` });
      assertClose(l, third(0).map((v) => Math.exp(v) * v), { atol: 1e-6, rtol: 1e-5, what: `${be.name} late` });
    }
  });

  it('the qkv split and its gradient: slices in place forward, one concat of gradients in place backward, as finite differences say', async () => {
    const w = input([3, 4, 64], 'f32', 'w');
    const qkv = ops.mul(x, w);
    const [q, k, v] = [0, 1, 2].map((i) => ops.reshape(slice(qkv, [i, 0, 0], [1, 4, 64]), [4, 64]));
    const L = ops.sum(ops.mul(ops.tanh(ops.mul(q, k)), v));
    const [dx] = grad(L, [x]);
    const p = plan([L, dx]);
    expect(p.steps.filter((t) => t.op === 'slice' || t.op === 'concat' || t.op === 'pad')).toEqual([]);
    const feeds: Feeds = new Map([[x, xv], [w, randn(w.size, 8)]]);
    const [cpuDx] = await runOn(cpu, [dx], feeds), [gpuDx] = await runOn(gpu, [dx], feeds);
    assertClose(gpuDx, cpuDx, { atol: 1e-6, rtol: 1e-5, what: 'dx, CPU vs WebGPU' });
    await finiteDifferenceCheck(cpu, { wrt: [x], L, grads: [dx], feeds }, { name: 'qkv split in place' });
  });

  it('keeps the copy where a run is not bindable, not contiguous, or would be read and written in one dispatch', () => {
    const y = ops.mul(input([3, 4, 5], 'f32', 'y'), 2);
    const steps = (outs: Tensor[]) => plan(outs).steps.map((t) => t.op);
    expect(steps([slice(y, [1, 0, 0], [1, 4, 5])])).toContain('slice'); // offset 20 floats: not a multiple of 256 bytes
    expect(steps([slice(ops.mul(x, 2), [0, 0, 0], [3, 2, 64])])).toContain('slice'); // rows 0-1 of each: not contiguous
    expect(steps([slice(ops.mul(x, 2), [0, 0, 0], [1, 4, 63])])).toContain('slice'); // 252 floats
    const w = input([3, 4, 64], 'f32', 'w');
    expect(steps([slice(ops.mul(w, 1), [1, 0, 0], [1, 4, 64])])).not.toContain('slice');
    // A chain: the second part is computed from the first, which would be read from the buffer being written.
    const a = ops.mul(slice(x, [0, 0, 0], [1, 4, 64]), 2), b = ops.tanh(a);
    expect(steps([concat([a, b], 0)])).toContain('concat');
    expect(steps([concat([ops.exp(a), b], 0)])).not.toContain('concat');
    // Along a later axis the parts are interleaved.
    expect(steps([concat([ops.exp(x), ops.tanh(x)], 1)])).toContain('concat');
  });
});
