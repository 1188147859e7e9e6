// WebGPU launches for concat, slice and pad: one strided-copy kernel (shaders/strided_copy.wgsl) for all three, one
// invocation per output element, which writes every element of the output (0 where no source covers it).
import type { Node } from '../../graph/op_table.js';
import { copySources, MAX_CONCAT_INPUTS } from '../../graph/shape_ops.js';
import { Launch, WebGpuKernels, spread, pad, checkRank } from './launch.js';
import { STRIDED_COPY_PARAMS } from './contracts.js';

function copy(n: Node<'concat' | 'slice' | 'pad'>): Launch {
  checkRank(n.op, n.shape);
  const srcs = copySources(n);
  if (srcs.length > MAX_CONCAT_INPUTS) throw new Error(`webgpu: ${n} has ${srcs.length} sources, over the ${MAX_CONCAT_INPUTS} the copy kernel binds`);
  const sources = srcs.flatMap((s) => [...pad(s.offset.map((o) => o >>> 0)), ...pad(s.x.shape)]);
  const defines: Record<string, boolean> = {};
  for (let k = 2; k <= MAX_CONCAT_INPUTS; k++) defines[`IN${k}`] = srcs.length >= k;
  return {
    shader: 'strided_copy',
    defines,
    uniform: STRIDED_COPY_PARAMS.pack({ n: n.size, rank: n.rank, sourceCount: srcs.length, outShape: n.shape, sources }),
    bindings: [n, ...n.inputs], // the output first, so its binding does not move with the number of sources
    ...spread(n.op, n.size, 256),
  };
}

export const SHAPE_OPS_WEBGPU_KERNELS = { concat: copy, slice: copy, pad: copy } satisfies WebGpuKernels;
