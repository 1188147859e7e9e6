// WebGPU launches for concat, slice and pad: one strided-copy kernel (shaders/strided_copy.wgsl) for all three, one
// invocation per output element, which writes every element of the output (0 where no source covers it).
import type { Node } from '../../graph/op_table.js';
import { copySources, MAX_CONCAT_INPUTS } from '../../graph/shape_ops.js';
import { Launch, WebGpuKernels, spread, pad, checkRank } from './launch.js';
import { STRIDED_COPY_PARAMS } from './contracts.js';

/**
 * The copy with adjacent dims merged where every source spans the inner one whole (its size the output's, its offset
 * 0): a slice of [3, B, H, T, dh] along the first axis is then [3, B·H·T·dh] against [1, B·H·T·dh]. Fewer dims,
 * less index arithmetic per element; a dim of size 1 everywhere goes.
 */
export function collapseCopy(shape: readonly number[], srcs: readonly { offset: readonly number[]; shape: readonly number[] }[]) {
  let out = [...shape], sources = srcs.map((s) => ({ offset: [...s.offset], shape: [...s.shape] }));
  for (let d = out.length - 2; d >= 0; d--) {
    const inner = d + 1;
    if (!sources.every((s) => s.shape[inner] === out[inner] && s.offset[inner] === 0)) continue;
    const S = out[inner];
    out = [...out.slice(0, d), out[d] * S, ...out.slice(inner + 1)];
    sources = sources.map((s) => ({ offset: [...s.offset.slice(0, d), s.offset[d] * S, ...s.offset.slice(inner + 1)], shape: [...s.shape.slice(0, d), s.shape[d] * S, ...s.shape.slice(inner + 1)] }));
  }
  return { shape: out, sources };
}

function copy(n: Node<'concat' | 'slice' | 'pad'>): Launch {
  checkRank(n.op, n.shape);
  const srcs = copySources(n);
  if (srcs.length > MAX_CONCAT_INPUTS) throw new Error(`webgpu: ${n} has ${srcs.length} sources, over the ${MAX_CONCAT_INPUTS} the copy kernel binds`);
  const c = collapseCopy(n.shape, srcs.map((s) => ({ offset: s.offset, shape: s.x.shape })));
  const sources = c.sources.flatMap((s) => [...pad(s.offset.map((o) => o >>> 0)), ...pad(s.shape)]);
  const defines: Record<string, boolean> = {};
  for (let k = 2; k <= MAX_CONCAT_INPUTS; k++) defines[`IN${k}`] = srcs.length >= k;
  const sp = spread(n.op, n.size, 256);
  return {
    shader: 'strided_copy',
    defines,
    uniform: STRIDED_COPY_PARAMS.pack({ n: n.size, outShape: c.shape, sources }),
    bindings: [n, ...n.inputs], // the output first, so its binding does not move with the number of sources
    ...sp,
    // The rank and the source count as pipeline constants: the loops over them unroll and the coordinates stay in
    // registers (lavapipe keeps an array it indexes by a variable in memory, a loop over the lanes at every access).
    constants: { ...sp.constants, RANK: c.shape.length, SOURCES: srcs.length },
  };
}

export const SHAPE_OPS_WEBGPU_KERNELS = { concat: copy, slice: copy, pad: copy } satisfies WebGpuKernels;
