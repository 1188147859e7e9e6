// WebGPU launches of the sequence-model ops (src/graph/attention.ts), and the fused attention kernels that replace
// the attention composite's region (schedule/fuse.ts). RMSNorm is a composite and runs on the core kernels.
import { Tensor } from '../../graph/tensor.js';
import { softmaxRows } from '../../graph/attention.js';
import { ShapeError, fmt } from '../../graph/shape.js';
import type { Node } from '../../graph/op_table.js';
import type { Fused, FusedKernel } from '../../schedule/fuse.js';
import { Launch, Scratch, WebGpuKernels, spread } from './launch.js';
import { UNIFORMS } from './contracts.js';
import type { GemmKernel } from './device.js';

const EMBEDDING = { COUNT: false, LIST: false, GATHER: false };

function embedding(n: Node<'embedding'>): Launch {
  const [ids, table] = n.inputs, [V, D] = table.shape;
  return { shader: 'embedding', defines: EMBEDDING, uniform: UNIFORMS.embedding_dims.pack({ N: ids.size, D, V }), bindings: [ids, table, n], ...spread(n.op, n.size, 256) };
}

/** d table in three launches (shaders/embedding.wgsl): count each id's positions, list them in order, gather-sum dy. */
function embeddingGrad(n: Node<'embedding_grad'>): Launch {
  const [ids, dy] = n.inputs, [V, D] = n.shape, uniform = UNIFORMS.embedding_dims.pack({ N: ids.size, D, V });
  if (V > 65535) throw new ShapeError('embedding', `a vocabulary of ${V} rows exceeds the 65535 workgroups per grid dimension its gradient kernel uses (table ${fmt(n.shape)})`);
  const counts: Scratch = { scratch: 2, bytes: 8 * V }, positions: Scratch = { scratch: 3, bytes: 4 * Math.max(ids.size, 1) };
  return {
    shader: 'embedding', defines: { ...EMBEDDING, GATHER: true }, uniform, bindings: [counts, positions, dy, n],
    workgroupSize: [64], constants: { WG: 64 }, workgroups: [Math.ceil(D / 64), V, 1],
    before: [
      { shader: 'embedding', defines: { ...EMBEDDING, COUNT: true }, uniform, bindings: [ids, counts], ...spread(n.op, V, 64) },
      { shader: 'embedding', defines: { ...EMBEDDING, LIST: true }, uniform, bindings: [ids, counts, positions], ...spread(n.op, V, 64) },
    ],
  };
}

function softmax(n: Node<'softmax'>): Launch {
  const s = softmaxRows(n), sp = spread(n.op, s.rows, 64);
  return {
    shader: 'softmax', defines: { LENGTHS: s.lengths }, ...sp, constants: { ...sp.constants, CAUSAL: +s.causal },
    uniform: UNIFORMS.softmax_dims.pack({ rows: s.rows, C: s.C, Tq: s.Tq, perBatch: s.perBatch }), bindings: [...n.inputs, n],
  };
}

function topk(n: Node<'topk'>): Launch {
  const x = n.inputs[0], C = x.shape[x.rank - 1], rows = x.size / C;
  return { shader: 'topk', uniform: UNIFORMS.topk_dims.pack({ rows, C, k: n.attrs.k }), bindings: [x, n], ...spread(n.op, rows, 64) };
}

const labelCount = (n: Node<'label_count'>): Launch => ({
  shader: 'label_count', uniform: UNIFORMS.label_count_dims.pack({ N: n.inputs[0].size, ignore: n.attrs.ignore }), bindings: [n.inputs[0], n],
  workgroupSize: [64], workgroups: [1, 1, 1],
});

export const ATTENTION_WEBGPU_KERNELS = {
  embedding, embedding_grad: embeddingGrad, softmax, topk, label_count: labelCount,
} satisfies WebGpuKernels;

const attentionDims = (g: Fused) => {
  const [q, k] = g.inputs;
  return UNIFORMS.attention_dims.pack({ N: q.shape[0], Tq: q.shape[1], Tk: k.shape[1], scale: g.pattern!.attrs.scale });
};

/**
 * Whether the attention kernels take their subgroup versions (shaders/attention_subgroup.wgsl): where the GEMMs do,
 * on adapters with 8-lane subgroups (CPU drivers), which the device then enables, and for head sizes up to 32: at 64
 * the 4 rows per lane compile in minutes in lavapipe's LLVM (cold cache), so larger heads take the workgroup kernels.
 */
const subgroups = (gemm: GemmKernel, dh: number) => gemm !== 'tiled' && dh <= 32;
/** Output rows per workgroup of the subgroup kernels: 8 lanes of R = 4 rows (RB in the shader). */
const SUBGROUP_ROWS = 32;
/** Keys per workgroup of the subgroup kernel's joint dk and dv pass: 8 lanes of RD = 2 keys. */
const DKV_ROWS = 16;

/**
 * The fused attention forward: reads the region's q, k, v (and lengths); one workgroup per 64 queries of a row, or
 * with subgroups one 8-lane workgroup per 8 queries.
 */
function fusedAttention(n: Tensor, g: Fused, gemm: GemmKernel = 'tiled'): Launch {
  const [q] = g.inputs, [N, Tq, dh] = q.shape, lengths = g.inputs.length === 4;
  const constants = { DH4: dh / 4, CAUSAL: g.pattern!.attrs.causal };
  if (subgroups(gemm, dh)) {
    // Where the region's gradient step is fused too, the row logsumexps go to it (Fused.link) through scratch.
    const stats = g.link === undefined ? [] : lengths ? [linkedStats(g)] : [null, linkedStats(g)]; // at binding 6
    return {
      shader: 'attention_subgroup', defines: { ...SUBGROUP_PASS, FWD: true, FWD_LENGTHS: lengths, LENGTHS: lengths, FWD_STATS: g.link !== undefined }, constants,
      uniform: attentionDims(g), bindings: [...g.inputs, n, ...stats], workgroupSize: [8], workgroups: [Math.ceil(Tq / SUBGROUP_ROWS), N, 1],
    };
  }
  return {
    shader: 'attention', defines: { LENGTHS: lengths }, constants: { WG: 64, ...constants },
    uniform: attentionDims(g), bindings: [...g.inputs, n], workgroupSize: [64], workgroups: [Math.ceil(Tq / 64), N, 1],
  };
}

const SUBGROUP_PASS = { FWD: false, FWD_LENGTHS: false, FWD_STATS: false, STATS: false, STATS_D: false, STATS_LENGTHS: false, GRAD_LENGTHS: false, DKV: false, DKV_LENGTHS: false, LENGTHS: false };

/**
 * The scratch through which a region's forward hands its rows' logsumexp to the gradient step (Fused.link): a slot of
 * its own per region, since other regions' steps run in between. [N, Tq, 2]: L, then D, which the gradient adds.
 */
const LINKED_SCRATCH = 8;
const linkedStats = (g: Fused): Scratch => ({ scratch: LINKED_SCRATCH + g.link!, bytes: 8 * g.inputs[0].shape[0] * g.inputs[0].shape[1] });

/** Rows per staged tile of the attention kernels: two tiles of TILE_V4 = 448 vec4s fit 16 KiB with their stats. */
export const attentionTile = (dh: number) => Math.min(64, Math.floor(448 / (dh / 4)));

/**
 * The gradients of fused attention, one step (shaders/attention_grad.wgsl): the row statistics (logsumexp L and
 * D = dy·o per query) into scratch once, then dq (one invocation per query), dk and dv (one per key), 64 rows per
 * workgroup, each pass only for a gradient the plan asks for. g.inputs: q, k, v, dy, the forward's output o, and
 * lengths if the region has them; g.outputs: dq, dk, dv.
 */
function fusedAttentionGrad(_n: Tensor, g: Fused, gemm: GemmKernel = 'tiled'): Launch {
  const [q, k, v, dy, o, lengths] = g.inputs, [N, Tq, dh] = q.shape, Tk = k.shape[1];
  const sg = subgroups(gemm, dh), linked = sg && g.link !== undefined;
  const stats: Scratch = linked ? linkedStats(g) : { scratch: 4, bytes: 8 * N * Tq };
  const uniform = attentionDims(g), len = lengths ? [lengths] : [];
  const defines = (statsPass: boolean) => ({ STATS: statsPass, LENGTHS: !!lengths, STATS_LENGTHS: statsPass && !!lengths, GRAD_LENGTHS: !statsPass && !!lengths });
  const WG = sg ? 8 : 64, perGroup = sg ? SUBGROUP_ROWS : 64;
  const constants = { DH4: dh / 4, CAUSAL: g.pattern!.attrs.causal, ...(sg ? {} : { WG, TILE: attentionTile(dh) }) };
  const shader = sg ? 'attention_subgroup' : 'attention_grad';
  const extra: Record<string, boolean> = sg ? { FWD: false, FWD_LENGTHS: false, FWD_STATS: false, STATS_D: false, DKV: false, DKV_LENGTHS: false } : {};
  const pass = (mode: number, out: Tensor, dv?: Tensor): Launch => ({
    shader, defines: { ...extra, ...defines(false), ...(dv ? { DKV: true, DKV_LENGTHS: !!lengths, GRAD_LENGTHS: false } : {}) },
    constants: { ...constants, MODE: mode }, uniform, workgroupSize: [WG],
    bindings: [q, k, v, dy, stats, out, ...(dv ? [dv] : []), ...len], workgroups: [Math.ceil((mode === 1 ? Tq : Tk) / (mode === 4 ? DKV_ROWS : perGroup)), N, 1],
  });
  // Linked to the forward, which wrote L, the stats pass adds D alone (STATS_D), reading dy and o only.
  const statsPass: Launch = {
    shader, defines: { ...extra, ...defines(true), ...(linked ? { STATS_D: true, STATS_LENGTHS: false, LENGTHS: false } : {}) }, constants: { ...constants, MODE: 1 }, uniform, workgroupSize: [WG],
    bindings: linked ? [null, null, dy, o, stats] : [q, k, dy, o, stats, ...len], workgroups: [Math.ceil(Tq / perGroup), N, 1],
  };
  const [dq, dk, dv] = g.outputs ?? [];
  // With subgroups dk and dv are one pass (MODE 4), which recomputes the weights once for both.
  const passes = sg && dk && dv ? [...(dq ? [pass(1, dq)] : []), pass(4, dk, dv)] : (g.outputs ?? []).flatMap((t, i) => (t ? [pass(i + 1, t)] : []));
  if (!passes.length) throw new Error(`webgpu: the attention gradient step of ${_n} writes no gradient`);
  return { ...passes[passes.length - 1], before: [statsPass, ...passes.slice(0, -1)] };
}

export const ATTENTION_FUSED_LAUNCHES = {
  attention: fusedAttention, attention_grad: fusedAttentionGrad,
} satisfies Partial<Record<FusedKernel, (n: Tensor, g: Fused, gemm?: GemmKernel) => Launch>>;
