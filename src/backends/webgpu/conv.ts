// WebGPU launches for convolution and pooling, on 1-D grids; the backward ops gather, so none needs atomics.
// conv2d's GEMM is the core matmul kernel.
//
// The window geometry is passed as pipeline override constants, not as a uniform: every kernel rebuilds its indices
// with divisions and remainders by these sizes, and a division by a constant compiles to a multiply and a shift
// where a division by a uniform stays a division (scalarised, lane by lane, on CPU drivers such as lavapipe). The
// price is one pipeline per layer shape. Measured on lavapipe, cnn at batch 64: col2im 80 -> 31 ms, max-pool
// backward 126 -> 64 ms; im2col 246 -> 34 ms with this and one invocation per output row (below).
import { Tensor } from '../../graph/tensor.js';
import { Geom, geometry } from '../../graph/conv.js';
import type { Node } from '../../graph/op_table.js';
import { Launch, ShaderName, WebGpuKernels, spread } from './launch.js';
import { UNIFORMS } from './contracts.js';

const WG = 256; // workgroup size of every conv and pooling kernel

const sizes = (g: Geom) => ({ H: g.H, W: g.W, OH: g.OH, OW: g.OW, KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw, PH: g.ph, PW: g.pw });

const layout = (n: Node<'im2col' | 'col2im'>, g: Geom) => ({ DH: g.dh, DW: g.dw, C: g.C, NB: g.N, CHANNEL_MAJOR: +(n.attrs.layout === 'channel') });

/** Launch `invocations` invocations of `shader`; the uniform holds the element count of `n`. */
function launch(n: Tensor, shader: ShaderName, invocations: number, constants: Record<string, number>, defines?: Record<string, boolean>): Launch {
  const size = spread(n.op, invocations, WG);
  return { shader, defines, ...size, constants: { ...constants, ...size.constants }, uniform: UNIFORMS.window_total.pack({ n: n.size }), bindings: [...n.inputs, n] };
}

/** Pooling: `image` is the NCHW side (the input of the forward, the output of the backward). */
function poolLaunch(n: Node<'maxpool' | 'maxpool_grad' | 'avgpool' | 'avgpool_grad'>, image: Tensor, max: boolean, backward: boolean): Launch {
  const g = geometry(n.op, image.shape, n.attrs.win);
  const constants = 'countIncludePad' in n.attrs ? { ...sizes(g), COUNT_PAD: +n.attrs.countIncludePad } : sizes(g);
  // Windows that tile the image: one invocation per cell of KH x KW pixels (see TILED in shaders/pool.wgsl).
  const tiled = max && backward && g.sh === g.kh && g.sw === g.kw && g.ph === 0 && g.pw === 0;
  const invocations = tiled ? g.N * g.C * Math.ceil(g.H / g.kh) * Math.ceil(g.W / g.kw) : n.size;
  return { ...launch(n, 'pool', invocations, constants, { MAX: max, GRAD: backward, TILED: tiled }), uniform: UNIFORMS.window_total.pack({ n: invocations }) };
}

export const CONV_WEBGPU_KERNELS = {
  im2col: (n) => {
    const g = geometry(n.op, n.inputs[0].shape, n.attrs.win);
    // One invocation per output row of OW entries: the index arithmetic is per row, the inner loop a strided copy.
    return launch(n, 'im2col', n.size / g.OW, { ...sizes(g), ...layout(n, g) });
  },
  col2im: (n) => {
    const g = geometry(n.op, n.shape, n.attrs.win);
    return launch(n, 'col2im', n.size, { ...sizes(g), ...layout(n, g) });
  },
  maxpool: (n) => poolLaunch(n, n.inputs[0], true, false),
  maxpool_grad: (n) => poolLaunch(n, n, true, true),
  avgpool: (n) => poolLaunch(n, n.inputs[0], false, false),
  avgpool_grad: (n) => poolLaunch(n, n, false, true),
} satisfies WebGpuKernels;
