// WebGPU launches for convolution and pooling. Every kernel here is one invocation per output element on a 1-D grid;
// the backward ops gather, so none needs atomics. conv2d's GEMM is the core matmul kernel.
import { Tensor } from '../../graph/tensor.js';
import { geometry, windowAttr } from '../../graph/conv.js';
import { Launch, grid, u32s } from './launch.js';
import im2col from '../../../shaders/im2col.wgsl';
import col2im from '../../../shaders/col2im.wgsl';
import pool from '../../../shaders/pool.wgsl';

export const CONV_SHADERS: Record<string, string> = { im2col, col2im, pool };

const WG = 256; // the shaders' default WG

/**
 * The shaders' Geom uniform, for the node `n` whose image (the NCHW side) is `image`. One invocation per element
 * of `n`, whatever its side.
 */
function launch(n: Tensor, image: Tensor, shader: string, defines?: Record<string, boolean>): Launch {
  const g = geometry(n.op, image.shape, windowAttr(n));
  return {
    shader,
    defines,
    uniform: u32s([g.N, g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, n.size, +!!n.attrs.countIncludePad]),
    bindings: [...n.inputs, n],
    workgroups: grid(n.op, Math.ceil(n.size / WG)),
  };
}

export const CONV_WEBGPU_KERNELS: Record<string, (n: Tensor) => Launch> = {
  im2col: (n) => launch(n, n.inputs[0], 'im2col'),
  col2im: (n) => launch(n, n, 'col2im'),
  maxpool: (n) => launch(n, n.inputs[0], 'pool', { MAX: true, GRAD: false }),
  maxpool_grad: (n) => launch(n, n, 'pool', { MAX: true, GRAD: true }),
  avgpool: (n) => launch(n, n.inputs[0], 'pool', { MAX: false, GRAD: false }),
  avgpool_grad: (n) => launch(n, n, 'pool', { MAX: false, GRAD: true }),
};
