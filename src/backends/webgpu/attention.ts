// WebGPU launches of the sequence-model ops (src/graph/attention.ts). Attention itself and RMSNorm are composites and
// run on the GEMM, softmax and elementwise kernels.
import { Tensor } from '../../graph/tensor.js';
import { softmaxRows } from '../../graph/attention.js';
import { Launch, Scratch, WebGpuKernels, grid, u32s } from './launch.js';
import type { Node } from '../../graph/op_table.js';
import { ShapeError, fmt } from '../../graph/shape.js';
import embeddingSrc from '../../../shaders/embedding.wgsl';
import softmaxSrc from '../../../shaders/softmax.wgsl';
import topkSrc from '../../../shaders/topk.wgsl';
import label_count from '../../../shaders/label_count.wgsl';
import attentionSrc from '../../../shaders/attention.wgsl';
import attention_grad from '../../../shaders/attention_grad.wgsl';
import type { Fused } from '../../schedule/fuse.js';
import { f32bits } from './launch.js';

export const ATTENTION_SHADERS: Record<string, string> = { embedding: embeddingSrc, softmax: softmaxSrc, topk: topkSrc, label_count, attention: attentionSrc, attention_grad };

const EMBEDDING = { COUNT: false, LIST: false, GATHER: false };

function embedding(n: Node<'embedding'>): Launch {
  const [ids, table] = n.inputs, [V, D] = table.shape;
  return { shader: 'embedding', defines: EMBEDDING, uniform: u32s([ids.size, D, V]), bindings: [ids, table, n], workgroups: grid(n.op, Math.ceil(n.size / 256)) };
}

/** d table in three launches (shaders/embedding.wgsl): count each id's positions, list them in order, gather-sum dy. */
function embeddingGrad(n: Node<'embedding_grad'>): Launch {
  const [ids, dy] = n.inputs, [V, D] = n.shape, uniform = u32s([ids.size, D, V]);
  if (V > 65535) throw new ShapeError('embedding', `a vocabulary of ${V} rows exceeds the 65535 workgroups per grid dimension its gradient kernel uses (table ${fmt(n.shape)})`);
  const counts: Scratch = { scratch: 2, bytes: 8 * V }, positions: Scratch = { scratch: 3, bytes: 4 * Math.max(ids.size, 1) };
  const perId: [number, number, number] = [Math.ceil(V / 64), 1, 1];
  return {
    shader: 'embedding', defines: { ...EMBEDDING, GATHER: true }, uniform, bindings: [counts, positions, dy, n], workgroups: [Math.ceil(D / 64), V, 1],
    before: [
      { shader: 'embedding', defines: { ...EMBEDDING, COUNT: true }, uniform, bindings: [ids, counts], workgroups: perId },
      { shader: 'embedding', defines: { ...EMBEDDING, LIST: true }, uniform, bindings: [ids, counts, positions], workgroups: perId },
    ],
  };
}

function softmax(n: Node<'softmax'>): Launch {
  const s = softmaxRows(n);
  return {
    shader: 'softmax', defines: { LENGTHS: s.lengths }, constants: { CAUSAL: +s.causal },
    uniform: u32s([s.rows, s.C, s.Tq, s.perBatch]), bindings: [...n.inputs, n], workgroups: grid(n.op, Math.ceil(s.rows / 64)),
  };
}

function topk(n: Node<'topk'>): Launch {
  const x = n.inputs[0], C = x.shape[x.rank - 1], rows = x.size / C;
  return { shader: 'topk', uniform: u32s([rows, C, n.attrs.k]), bindings: [x, n], workgroups: grid(n.op, Math.ceil(rows / 64)) };
}

const labelCount = (n: Node<'label_count'>): Launch =>
  ({ shader: 'label_count', uniform: u32s([n.inputs[0].size, n.attrs.ignore]), bindings: [n.inputs[0], n], workgroups: [1, 1, 1] });

export const ATTENTION_WEBGPU_KERNELS = {
  embedding, embedding_grad: embeddingGrad, softmax, topk, label_count: labelCount,
} satisfies WebGpuKernels;

/** The fused attention forward (schedule/fuse.ts): reads the region's q, k, v (and lengths); one workgroup per 64 queries of a row. */
function fusedAttention(n: Tensor, g: Fused): Launch {
  const [q, k] = g.inputs, [N, Tq, dh] = q.shape, Tk = k.shape[1];
  return {
    shader: 'attention', defines: { LENGTHS: g.inputs.length === 4 }, constants: { DH4: dh / 4, CAUSAL: g.pattern!.attrs.causal },
    uniform: u32s([N, Tq, Tk, f32bits(g.pattern!.attrs.scale)]), bindings: [...g.inputs, n], workgroups: [Math.ceil(Tq / 64), N, 1],
  };
}

/**
 * A gradient of fused attention (shaders/attention_grad.wgsl): the row statistics into scratch first, then dq (one
 * invocation per query), dk or dv (one per key). g.inputs: q, k, v, dy, and lengths if the region has them.
 */
function fusedAttentionGrad(mode: 1 | 2 | 3) {
  return (n: Tensor, g: Fused): Launch => {
    const [q, k, v, dy, lengths] = g.inputs, [N, Tq, dh] = q.shape, Tk = k.shape[1];
    const stats: Scratch = { scratch: 4, bytes: 8 * N * Tq };
    const uniform = u32s([N, Tq, Tk, f32bits(g.pattern!.attrs.scale)]), constants = { DH4: dh / 4, CAUSAL: g.pattern!.attrs.causal };
    const len = lengths ? [lengths] : [];
    const defines = (statsPass: boolean) => ({ STATS: statsPass, LENGTHS: !!lengths, STATS_LENGTHS: statsPass && !!lengths, GRAD_LENGTHS: !statsPass && !!lengths });
    return {
      shader: 'attention_grad', defines: defines(false), constants: { ...constants, MODE: mode }, uniform,
      bindings: [q, k, v, dy, stats, n, ...len], workgroups: [Math.ceil((mode === 1 ? Tq : Tk) / 64), N, 1],
      before: [{ shader: 'attention_grad', defines: defines(true), constants: { ...constants, MODE: 1 }, uniform, bindings: [q, k, v, dy, stats, ...len], workgroups: [Math.ceil(Tq / 64), N, 1] }],
    };
  };
}

export const ATTENTION_FUSED_LAUNCHES: Record<string, (n: Tensor, g: Fused) => Launch> = {
  attention: fusedAttention, attention_dq: fusedAttentionGrad(1), attention_dk: fusedAttentionGrad(2), attention_dv: fusedAttentionGrad(3),
};
