// Reference kernels for convolution and pooling: plain loops over the window, float64 accumulation. The backward
// ops scatter (each window adds into the pixels it read), the plainest statement of an adjoint; the WebGPU kernels
// gather instead, so parity tests compare two independent formulations.
import { Tensor } from '../../graph/tensor.js';
import { Geom, geometry, poolCount, WindowOp } from '../../graph/conv.js';
import type { Node } from '../../graph/op_table.js';
import type { Arr, CpuKernels } from './loops.js';

/** The geometry of a node whose image is its input (im2col, pooling) or its output (col2im, the pooling grads). */
const geomOf = (n: Node<WindowOp>, image: Tensor) => geometry(n.op, image.shape, n.attrs.win);

/**
 * Visit every (image, channel, window tap, output position): the flat column index in the node's layout ('image':
 * [N, C·KH·KW, OH·OW], 'channel': [C·KH·KW, N, OH·OW]), and the flat input pixel the tap reads, or -1 where it falls
 * on padding.
 */
function forEachTap(g: Geom, node: Node<'im2col' | 'col2im'>, visit: (col: number, pixel: number) => void): void {
  const P = g.OH * g.OW, CK = g.C * g.kh * g.kw, channelMajor = node.attrs.layout === 'channel';
  for (let n = 0; n < g.N; n++) for (let c = 0; c < g.C; c++) {
    const plane = (n * g.C + c) * g.H * g.W;
    for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
      const ck = (c * g.kh + i) * g.kw + j;
      const row = channelMajor ? (ck * g.N + n) * P : (n * CK + ck) * P;
      for (let oh = 0; oh < g.OH; oh++) {
        const h = oh * g.sh - g.ph + i * g.dh;
        for (let ow = 0; ow < g.OW; ow++) {
          const w = ow * g.sw - g.pw + j * g.dw;
          visit(row + oh * g.OW + ow, h >= 0 && h < g.H && w >= 0 && w < g.W ? plane + h * g.W + w : -1);
        }
      }
    }
  }
}

function im2col(n: Node<'im2col'>, [x]: Arr[], out: Float32Array): void {
  forEachTap(geomOf(n, n.inputs[0]), n, (col, p) => { out[col] = p < 0 ? 0 : x[p]; });
}

function col2im(n: Node<'col2im'>, [cols]: Arr[], out: Float32Array): void {
  const acc = new Float64Array(out.length);
  forEachTap(geomOf(n, n), n, (col, p) => { if (p >= 0) acc[p] += cols[col]; });
  out.set(acc);
}

/** Visit every output window: its flat output index and the flat input pixels inside the image, in row-major order. */
function forEachWindow(g: Geom, visit: (o: number, oh: number, ow: number, pixels: number[]) => void): void {
  const pixels: number[] = [];
  let o = 0;
  for (let nc = 0; nc < g.N * g.C; nc++) {
    for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
      pixels.length = 0;
      for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
        const h = oh * g.sh - g.ph + i * g.dh, w = ow * g.sw - g.pw + j * g.dw;
        if (h >= 0 && h < g.H && w >= 0 && w < g.W) pixels.push((nc * g.H + h) * g.W + w);
      }
      visit(o++, oh, ow, pixels);
    }
  }
}

/** The first pixel holding the window's maximum (strict >, so ties go to the earliest in row-major order). */
function argmax(x: Arr, pixels: number[]): number {
  let best = pixels[0];
  for (const p of pixels) if (x[p] > x[best]) best = p;
  return best;
}

function maxpool(n: Node<'maxpool'>, [x]: Arr[], out: Float32Array): void {
  forEachWindow(geomOf(n, n.inputs[0]), (o, _, __, px) => { out[o] = x[argmax(x, px)]; });
}

function maxpoolGrad(n: Node<'maxpool_grad'>, [x, dy]: Arr[], out: Float32Array): void {
  const acc = new Float64Array(out.length);
  forEachWindow(geomOf(n, n), (o, _, __, px) => { acc[argmax(x, px)] += dy[o]; });
  out.set(acc);
}

function avgpool(n: Node<'avgpool'>, [x]: Arr[], out: Float32Array): void {
  const g = geomOf(n, n.inputs[0]), cip = n.attrs.countIncludePad;
  forEachWindow(g, (o, oh, ow, px) => {
    let s = 0;
    for (const p of px) s += x[p];
    out[o] = s / poolCount(g, oh, ow, cip);
  });
}

function avgpoolGrad(n: Node<'avgpool_grad'>, [dy]: Arr[], out: Float32Array): void {
  const g = geomOf(n, n), cip = n.attrs.countIncludePad;
  const acc = new Float64Array(out.length);
  forEachWindow(g, (o, oh, ow, px) => {
    const share = dy[o] / poolCount(g, oh, ow, cip);
    for (const p of px) acc[p] += share;
  });
  out.set(acc);
}

export const CONV_CPU_KERNELS = {
  im2col, col2im, maxpool, maxpool_grad: maxpoolGrad, avgpool, avgpool_grad: avgpoolGrad,
} satisfies CpuKernels;
