// Copies the planner can skip: a slice whose box is one contiguous run of its input is that input's buffer at an
// offset, and a concat whose inputs are each one contiguous run of its output can have them computed there. GPT's
// attention takes q, k and v as slices of one [3, ...] tensor along its first axis, and its backward joins their
// gradients with a concat along that axis (the gradients of adjacent slices, src/autodiff/grad.ts): 12 copies a step.
//
// A buffer is bound at an offset only where WebGPU allows it: a multiple of minStorageBufferOffsetAlignment, which is
// at most 256 bytes on every adapter. And a run's length is a whole number of vec4s, so that a kernel reading vec4s
// never binds past it.
import { Tensor } from '../graph/tensor.js';
import type { Node } from '../graph/op_table.js';

/** Elements an offset must be a multiple of: 256 bytes of float32. */
export const OFFSET_ALIGN = 64;

const strides = (shape: readonly number[]) => {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
};
const bindable = (offset: number, size: number) => offset % OFFSET_ALIGN === 0 && size % 4 === 0;

/**
 * Where slice `n`'s box starts in its input, in elements, if the box is one contiguous, bindable run of it: its dims
 * before some axis are 1, and those after it are whole.
 */
export function sliceRun(n: Node<'slice'>): number | undefined {
  const x = n.inputs[0].shape, begin = n.attrs.begin as readonly number[];
  const partial = n.shape.findIndex((d, i) => d !== x[i]);
  if (n.shape.some((d, i) => (i < partial && d !== 1) || (i > partial && d !== x[i]))) return undefined;
  const st = strides(x), offset = begin.reduce((o, b, i) => o + b * st[i], 0);
  return bindable(offset, n.size) ? offset : undefined;
}

/** Where each input of concat `n` starts in its output, in elements, if every input is one contiguous, bindable run. */
export function concatRuns(n: Node<'concat'>): number[] | undefined {
  const ax = n.attrs.axis;
  if (n.shape.slice(0, ax).some((d) => d !== 1)) return undefined;
  const st = strides(n.shape);
  let at = 0;
  const offsets = n.inputs.map((x: Tensor) => { const o = at * st[ax]; at += x.shape[ax]; return o; });
  return n.inputs.every((x: Tensor, i: number) => bindable(offsets[i], x.size)) ? offsets : undefined;
}
