// Shape ops that move data without arithmetic: concat, slice and (zero) pad. Each is a strided copy, and each one's
// gradient is another: concat → slices of dy, slice → pad of dy, pad → slice of dy.
//
// All three are described to the kernels the same way (see `copySources`): every output coordinate c reads source k
// at coordinate c - offset_k if that falls inside source k's shape, and is 0 where no source covers it.
import { Tensor } from './tensor.js';
import { Shape, ShapeError, fmt, normAxes } from './shape.js';
import { node, needF32 } from './ops.js';
import { isOp, Node } from './op_table.js';

/**
 * At most this many inputs per concat node. A WebGPU shader stage may bind only 8 storage buffers unless the adapter
 * allows more (the spec's guaranteed minimum), and the copy kernel binds every input plus the output.
 * A longer concat becomes a concat of concats, which costs one extra copy of the data.
 */
export const MAX_CONCAT_INPUTS = 7;

/** Join tensors along `axis`; every other dim must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat', 'expected at least one tensor, got none');
  needF32('concat', ...xs);
  const r = xs[0].rank;
  const shapes = xs.map((x) => fmt(x.shape)).join(', ');
  if (r === 0) throw new ShapeError('concat', `cannot concatenate scalars (${shapes}); expected tensors of rank >= 1`);
  const [ax] = normAxes('concat', axis, r);
  for (const x of xs) {
    if (x.rank !== r || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new ShapeError('concat', `shapes ${shapes} differ outside axis ${ax} (expected the same rank and equal dims except along the axis)`);
    }
  }
  if (xs.length === 1) return xs[0];
  if (xs.length > MAX_CONCAT_INPUTS) {
    const groups: Tensor[] = [];
    for (let i = 0; i < xs.length; i += MAX_CONCAT_INPUTS) groups.push(concat(xs.slice(i, i + MAX_CONCAT_INPUTS), ax));
    return concat(groups, ax);
  }
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  return node('concat', [...xs], shape, 'f32', { axis: ax });
}

/** The box of `x` that starts at `begin` and spans `size` (-1: to the end of that dim), one entry per dim. */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  needF32('slice', x);
  const what = `begin ${fmt(begin)} size ${fmt(size)} of ${fmt(x.shape)}`;
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new ShapeError('slice', `${what}: expected one begin and one size per dim (${x.rank})`);
  }
  const sz = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
  x.shape.forEach((d, i) => {
    if (!Number.isInteger(begin[i]) || !Number.isInteger(sz[i]) || begin[i] < 0 || sz[i] < 1 || begin[i] + sz[i] > d) {
      throw new ShapeError('slice', `${what}: dim ${i} asks for [${begin[i]}, ${begin[i] + sz[i]}) (expected a non-empty range within [0, ${d}))`);
    }
  });
  if (sz.every((s, i) => s === x.shape[i])) return x;
  return node('slice', [x], sz, 'f32', { begin: [...begin] });
}

/** Zero padding: `pads[i] = [before, after]` zeros added to dim i. */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[]): Tensor {
  needF32('pad', x);
  if (pads.length !== x.rank || pads.some((p) => p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0))) {
    throw new ShapeError('pad', `pads ${JSON.stringify(pads)} for ${fmt(x.shape)}: expected one [before, after] pair of integers >= 0 per dim (${x.rank})`);
  }
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  return node('pad', [x], x.shape.map((d, i) => pads[i][0] + d + pads[i][1]), 'f32', { pads: pads.map(([a, b]) => [a, b]) });
}

/** One source of a copy: out coordinate c reads `x` at c - offset when that lies within x's shape. */
export interface CopySource { x: Tensor; offset: number[] }

/** The sources of a concat, slice or pad node, in input order. */
export function copySources(n: Node<'concat' | 'slice' | 'pad'>): CopySource[] {
  if (isOp(n, 'concat')) {
    const ax = n.attrs.axis;
    let start = 0;
    return n.inputs.map((x) => {
      const offset = x.shape.map((_, i) => (i === ax ? start : 0));
      start += x.shape[ax];
      return { x, offset };
    });
  }
  if (isOp(n, 'slice')) return [{ x: n.inputs[0], offset: n.attrs.begin.map((b) => -b) }];
  if (isOp(n, 'pad')) return [{ x: n.inputs[0], offset: n.attrs.pads.map(([b]) => b) }];
  throw new Error(`copySources: ${n} is not a concat, slice or pad`);
}

/** The shape of the zero padding that takes a slice `begin`/`size` of `full` back to `full`. */
export const padsAround = (full: Shape, begin: readonly number[], size: Shape): [number, number][] =>
  full.map((d, i) => [begin[i], d - begin[i] - size[i]]);
