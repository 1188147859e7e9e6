// WebGPU launches for concat, slice and pad: one strided-copy kernel (shaders/strided_copy.wgsl) for all three, one
// invocation per output element, which writes every element of the output (0 where no source covers it).
import type { Node } from '../../graph/op_table.js';
import { copySources, MAX_CONCAT_INPUTS } from '../../graph/shape_ops.js';
import { Launch, WebGpuKernels, grid, u32s, pad, checkRank } from './launch.js';
import strided_copy from '../../../shaders/strided_copy.wgsl';

export const SHAPE_OPS_SHADERS: Record<string, string> = { strided_copy };

function copy(n: Node<'concat' | 'slice' | 'pad'>): Launch {
  checkRank(n.op, n.shape);
  const srcs = copySources(n);
  if (srcs.length > MAX_CONCAT_INPUTS) throw new Error(`webgpu: ${n} has ${srcs.length} sources, over the ${MAX_CONCAT_INPUTS} the copy kernel binds`);
  const words = [n.size, n.rank, srcs.length, 0, ...pad(n.shape), 0, 0];
  for (const s of srcs) words.push(...pad(s.offset.map((o) => o >>> 0)), ...pad(s.x.shape));
  const defines: Record<string, boolean> = {};
  for (let k = 2; k <= MAX_CONCAT_INPUTS; k++) defines[`IN${k}`] = srcs.length >= k;
  return {
    shader: 'strided_copy',
    defines,
    uniform: u32s(words, 24 * 16), // the shader's params array, whatever the number of sources
    bindings: [n, ...n.inputs], // the output first, so its binding does not move with the number of sources
    workgroups: grid(n.op, Math.ceil(n.size / 256)),
  };
}

export const SHAPE_OPS_WEBGPU_KERNELS = { concat: copy, slice: copy, pad: copy } satisfies WebGpuKernels;
