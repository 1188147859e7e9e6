// Reference kernels of the shape ops: plain loops that copy each source element to its place in the output.
import type { Node } from '../../graph/op_table.js';
import { stridesOf } from '../../graph/shape.js';
import { copySources } from '../../graph/shape_ops.js';
import { Arr, CpuKernels, strided } from './loops.js';

/** Zero the output, then walk each source and write every element at its coordinate plus the source's offset. */
function copy(n: Node<'concat' | 'slice' | 'pad'>, ins: Arr[], out: Float32Array): void {
  out.fill(0);
  const outStrides = stridesOf(n.shape);
  copySources(n).forEach(({ x, offset }, k) => {
    const src = ins[k];
    // Where the source is larger than the output (slice: negative offsets), walk only the part that lands in it.
    const lo = offset.map((o) => Math.max(0, -o));
    const extent = x.shape.map((d, i) => Math.min(d - lo[i], n.shape[i] - offset[i] - lo[i]));
    const inStrides = stridesOf(x.shape);
    const inBase = lo.reduce((s, l, i) => s + l * inStrides[i], 0);
    const outBase = lo.reduce((s, l, i) => s + (l + offset[i]) * outStrides[i], 0);
    strided(extent, [inStrides, outStrides], (_, [i, o]) => { out[outBase + o] = src[inBase + i]; });
  });
}

export const SHAPE_OPS_CPU_KERNELS = { concat: copy, slice: copy, pad: copy } satisfies CpuKernels;
