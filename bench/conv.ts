// Convolution throughput: conv2d over NCHW images (im2col + GEMM, src/graph/conv.ts), forward and backward (the input
// and weight gradients, built by `grad`), on our WebGPU kernels, the CPU reference and (with compare) TF.js WebGPU on
// the same adapter and TF.js WASM, in NHWC, TF.js's native layout, measured in the same run.
// Inputs stay on the device (Variables here, resident tensors in TF.js), so no upload is timed; each timed iteration
// ends in a sync (TF.js: a one-element read), not a readback of the whole output.
// GFLOP/s counts 2·N·O·C·KH·KW·OH·OW per forward; a backward is two such products (input and weight gradients).
import { Tensor, Variable } from '../src/graph/tensor.js';
import { conv2d, outSize } from '../src/graph/conv.js';
import { sum, mul } from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { CpuBackend } from '../src/backends/cpu/cpu_backend.js';
import type { Backend } from '../src/backends/backend.js';
import { UsageError } from '../src/util/usage_error.js';
import { timeIt, seededUniform } from './timing.js';
import { loadTfjs } from './tfjs.js';

type TfTensor = import('@tensorflow/tfjs-core').Tensor;

export type ConvPass = 'forward' | 'backward';

/** One measurement; a row TF.js cannot run (a kernel its backend lacks) has a note and no figures. */
export interface ConvRow { shape: string; pass: ConvPass; impl: string; gflops?: number; ms?: number; min?: number; max?: number; note?: string }

/** A conv problem: input [N,C,H,W], weights [O,C,KH,KW], the same padding and stride on both spatial dims. */
export interface ConvShape { N: number; C: number; H: number; W: number; O: number; KH: number; KW: number; pad: number; stride: number }

export const CONV_SHAPES = '64x1x28x28:16x5x5:p2,64x16x14x14:32x5x5:p2,32x64x32x32:64x3x3:p1';

/** Parses `NxCxHxW:OxKHxKW[:pP][:sS]`, e.g. 64x1x28x28:16x5x5:p2 (padding 0 and stride 1 when left out). */
export function parseConvShape(spec: string): ConvShape {
  const bad = (why: string) => new UsageError(`bench conv: bad shape '${spec}': ${why} (expected NxCxHxW:OxKHxKW[:pP][:sS], e.g. 64x1x28x28:16x5x5:p2)`);
  const [img, ker, ...opts] = spec.trim().split(':');
  const dims = (s: string | undefined, n: number, what: string) => {
    const d = (s ?? '').split('x').map(Number);
    if (d.length !== n || d.some((v) => !Number.isInteger(v) || v < 1)) throw bad(`${what} must be ${n} positive integers joined by x`);
    return d;
  };
  const [N, C, H, W] = dims(img, 4, 'the input NxCxHxW');
  const [O, KH, KW] = dims(ker, 3, 'the kernel OxKHxKW');
  let pad = 0, stride = 1;
  for (const o of opts) {
    const m = /^([ps])(\d+)$/.exec(o);
    if (!m) throw bad(`unknown option '${o}' (pP for padding, sS for stride)`);
    if (m[1] === 'p') pad = Number(m[2]); else stride = Number(m[2]);
  }
  if (stride < 1) throw bad('the stride must be >= 1');
  const s = { N, C, H, W, O, KH, KW, pad, stride };
  if (outH(s) < 1 || outW(s) < 1) throw bad(`the ${KH}x${KW} kernel does not fit the ${H}x${W} input padded by ${pad}`);
  return s;
}

const outH = (s: ConvShape) => outSize(s.H, s.KH, s.stride, s.pad, 1);
const outW = (s: ConvShape) => outSize(s.W, s.KW, s.stride, s.pad, 1);
export const shapeName = (s: ConvShape) => `${s.N}x${s.C}x${s.H}x${s.W}:${s.O}x${s.KH}x${s.KW}:p${s.pad}${s.stride === 1 ? '' : `:s${s.stride}`}`;
/** Multiply-adds times two of one forward conv; a backward does twice as many. */
export const convFlops = (s: ConvShape) => 2 * s.N * s.O * s.C * s.KH * s.KW * outH(s) * outW(s);
const passFlops = (s: ConvShape, pass: ConvPass) => convFlops(s) * (pass === 'forward' ? 1 : 2);


async function ours(be: Backend, s: ConvShape, pass: ConvPass, impl: string): Promise<ConvRow> {
  const oh = outH(s), ow = outW(s);
  const x = new Variable(seededUniform(s.N * s.C * s.H * s.W, 1), [s.N, s.C, s.H, s.W], 'x');
  const w = new Variable(seededUniform(s.O * s.C * s.KH * s.KW, 2), [s.O, s.C, s.KH, s.KW], 'w');
  const y = conv2d(x.tensor, w.tensor, { padding: s.pad, stride: s.stride });
  let outputs: Tensor[] = [y];
  if (pass === 'backward') {
    // sum(y · dy) has gradient dy with respect to y: the backward of a conv fed a given output gradient. Only the
    // gradients are outputs, so the forward GEMM is not run (the weight gradient does need im2col's columns).
    const dy = new Variable(seededUniform(s.N * s.O * oh * ow, 3), [s.N, s.O, oh, ow], 'dy');
    outputs = grad(sum(mul(y, dy.tensor)), [x.tensor, w.tensor]);
  }
  const ex = be.compile(outputs);
  const t = await timeIt(async () => { ex.run(new Map()); await be.sync(); }, { minIterations: be.name === 'cpu' ? 2 : 5, warmup: 1 });
  ex.dispose();
  return { shape: shapeName(s), pass, impl, gflops: passFlops(s, pass) / t.ms / 1e6, ...t };
}

async function tfjs(backend: 'webgpu' | 'wasm', s: ConvShape, pass: ConvPass): Promise<ConvRow> {
  const tf = await loadTfjs(backend);
  const impl = `tfjs-${backend}`;
  // The backward is the two kernels tf.grad runs for conv2d's gradient (Conv2DBackpropInput, Conv2DBackpropFilter),
  // called directly so that, as on our side, no forward conv is timed with it.
  if (pass === 'backward' && !tf.getKernel('Conv2DBackpropFilter', backend)) {
    return { shape: shapeName(s), pass, impl, note: `skipped: TF.js ${backend} has no Conv2DBackpropFilter kernel (conv2d's weight gradient)` };
  }
  const oh = outH(s), ow = outW(s);
  const x = tf.tensor4d(seededUniform(s.N * s.H * s.W * s.C, 1), [s.N, s.H, s.W, s.C]);
  const w = tf.tensor4d(seededUniform(s.KH * s.KW * s.C * s.O, 2), [s.KH, s.KW, s.C, s.O]);
  const dy = tf.tensor4d(seededUniform(s.N * oh * ow * s.O, 3), [s.N, oh, ow, s.O]);
  const step = (): TfTensor[] => {
    if (pass === 'forward') return [tf.conv2d(x, w, s.stride, s.pad)];
    const dx = tf.conv2dTranspose(dy, w, [s.N, s.H, s.W, s.C], s.stride, s.pad);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [s.stride, s.stride], pad: s.pad, dataFormat: 'NHWC', filterShape: [s.KH, s.KW, s.C, s.O] });
    return [dx, dw as TfTensor];
  };
  const t = await timeIt(async () => {
    const outs = step();
    // Reading one element of each result waits for the queue without timing a whole readback.
    const ones = outs.map((o) => o.slice(new Array(o.rank).fill(0), new Array(o.rank).fill(1)));
    await Promise.all(ones.map((o) => o.data()));
    tf.dispose([...outs, ...ones]);
  }, { minIterations: 5, warmup: 1 });
  tf.dispose([x, w, dy]);
  return { shape: shapeName(s), pass, impl, gflops: passFlops(s, pass) / t.ms / 1e6, ...t };
}

/** The CPU reference runs shapes up to 1 GFLOP a forward (both MNIST-CNN convs, not the bigger 3x3 one). */
const CPU_MAX_FLOPS = 1e9;

export async function benchConv(shapes: ConvShape[], o: { compare?: boolean; cpu?: boolean } = {}): Promise<ConvRow[]> {
  const passes: ConvPass[] = ['forward', 'backward'];
  const rows: ConvRow[] = [];
  const gpu = await WebGpuBackend.create();
  for (const s of shapes) for (const p of passes) rows.push(await ours(gpu, s, p, 'wgtrain-webgpu'));
  gpu.dispose();
  if (o.cpu) for (const s of shapes.filter((s) => convFlops(s) <= CPU_MAX_FLOPS)) for (const p of passes) rows.push(await ours(new CpuBackend(), s, p, 'wgtrain-cpu'));
  if (o.compare) {
    for (const s of shapes) for (const p of passes) rows.push(await tfjs('webgpu', s, p));
    for (const s of shapes) for (const p of passes) rows.push(await tfjs('wasm', s, p));
  }
  return rows;
}
