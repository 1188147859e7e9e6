// Shapes, strides and broadcasting, shared by graph building and both backends.
import { UserError } from '../util/errors.js';
export type Shape = readonly number[];

/** Thrown for every user error in graph building: names the op, the shapes, and what was expected. */
export class ShapeError extends UserError {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'ShapeError';
  }
}

export const fmt = (s: Shape) => `[${s.join(',')}]`;
export const sizeOf = (s: Shape) => s.reduce((a, b) => a * b, 1);

export function stridesOf(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) { st[i] = acc; acc *= s[i]; }
  return st;
}

export function checkShape(op: string, s: Shape): void {
  for (const d of s) {
    if (!Number.isInteger(d) || d < 1) throw new ShapeError(op, `invalid shape ${fmt(s)}: every dimension must be a positive integer`);
  }
}

/** NumPy broadcasting: align from the right; each pair of dims must be equal or one of them 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1, db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, `shapes ${fmt(a)} and ${fmt(b)} do not broadcast (dimension ${i} from the left of the result: ${da} vs ${db}; expected equal sizes or 1)`);
    }
    out.push(Math.max(da, db));
  }
  return out;
}

/** Strides of a transposed view: output dim j reads input dim perm[j]. */
export const permutedStrides = (inShape: Shape, perm: readonly number[]) => perm.map((p) => stridesOf(inShape)[p]);

/** Strides for reading `from` as if it had shape `to` (broadcast dims get stride 0). */
export function broadcastStrides(from: Shape, to: Shape): number[] {
  const st = stridesOf(from);
  const out = new Array<number>(to.length).fill(0);
  for (let i = 0; i < from.length; i++) {
    const j = to.length - from.length + i;
    out[j] = from[i] === 1 && to[j] !== 1 ? 0 : st[i];
  }
  return out;
}

export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (!Number.isInteger(n) || n < 0 || n >= rank) throw new ShapeError(op, `axis ${a} is out of range for a tensor of rank ${rank}`);
    return n;
  });
  return [...new Set(out)].sort((x, y) => x - y);
}
