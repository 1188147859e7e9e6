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
import { SUBGROUP_PLAIN, subgroupK4, subgroupTile } from './gemm_tile.js';

const EMBEDDING = { COUNT: false, LIST: false, GATHER: false, VEC4: false };

/** Elements (vec4s where rows are a multiple of 4 long) an invocation of the lookup copies: shaders/embedding.wgsl. */
const EMBEDDING_CHUNK = 16;

function embedding(n: Node<'embedding'>): Launch {
  const [ids, table] = n.inputs, [V, D] = table.shape, vec4 = D % 4 === 0;
  const sp = spread(n.op, ids.size * Math.ceil((vec4 ? D / 4 : D) / EMBEDDING_CHUNK), 64);
  return {
    shader: 'embedding', defines: { ...EMBEDDING, VEC4: vec4 }, uniform: UNIFORMS.embedding_dims.pack({ N: ids.size, D, V }), bindings: [ids, table, n],
    ...(vec4 ? { vec4: true as const } : {}), ...sp, constants: { ...sp.constants, CHUNK: EMBEDDING_CHUNK },
  };
}

/** d table in three launches (shaders/embedding.wgsl): count each id's positions, list them in order, gather-sum dy. */
function embeddingGrad(n: Node<'embedding_grad'>): Launch {
  const [ids, dy] = n.inputs, [V, D] = n.shape, uniform = UNIFORMS.embedding_dims.pack({ N: ids.size, D, V });
  if (V > 65535) throw new ShapeError('embedding', `a vocabulary of ${V} rows exceeds the 65535 workgroups per grid dimension its gradient kernel uses (table ${fmt(n.shape)})`);
  const counts: Scratch = { scratch: 2, bytes: 8 * V }, positions: Scratch = { scratch: 3, bytes: 4 * Math.max(ids.size, 1) };
  const vec4 = D % 4 === 0;
  return {
    shader: 'embedding', defines: { ...EMBEDDING, GATHER: true, VEC4: vec4 }, uniform, bindings: [counts, positions, dy, n],
    ...(vec4 ? { vec4: true as const } : {}), workgroupSize: [64], constants: { WG: 64 }, workgroups: [Math.ceil((vec4 ? D / 4 : D) / 64), V, 1],
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
/** Output rows per workgroup of the subgroup gradient passes: 8 lanes of R = 4 rows (RB in the shader). */
const SUBGROUP_ROWS = 32;
/** Query rows per workgroup of the subgroup forward: 8 lanes of RF = 6 rows (RF · B in the shader). */
const SUBGROUP_FORWARD_ROWS = 48;
/** Keys per workgroup of the subgroup kernel's joint dk and dv pass: 8 lanes of RD = 2 keys. */
const DKV_ROWS = 16;

/**
 * The fused attention forward: reads the region's q, k, v (and lengths); one workgroup per 64 queries of a row, or
 * with subgroups one 8-lane workgroup per 48 queries.
 */
function fusedAttention(n: Tensor, g: Fused, gemm: GemmKernel = 'tiled'): Launch {
  const [q] = g.inputs, [N, Tq, dh] = q.shape, lengths = g.inputs.length === 4;
  const constants = { DH4: dh / 4, CAUSAL: g.pattern!.attrs.causal };
  if (subgroups(gemm, dh)) {
    // Where the region's gradient step is fused too, the row logsumexps go to it (Fused.link) through scratch.
    // And where that step runs the GEMM backward, the scores too (savedScores), at binding 7.
    const saved = savedScores(g, gemm), stats = g.link === undefined ? [] : [...(lengths ? [] : [null]), linkedStats(g), ...(saved ? [saved] : [])]; // at binding 6
    return {
      shader: 'attention_subgroup', defines: { ...SUBGROUP_PASS, FWD: true, FWD_LENGTHS: lengths, LENGTHS: lengths, FWD_STATS: g.link !== undefined, FWD_SCORES: !!saved }, constants,
      uniform: attentionDims(g), bindings: [...g.inputs, n, ...stats], workgroupSize: [8], workgroups: [Math.ceil(Tq / SUBGROUP_FORWARD_ROWS), N, 1],
    };
  }
  return {
    shader: 'attention', defines: { LENGTHS: lengths }, constants: { WG: 64, ...constants },
    uniform: attentionDims(g), bindings: [...g.inputs, n], workgroupSize: [64], workgroups: [Math.ceil(Tq / 64), N, 1],
  };
}

const SUBGROUP_PASS = { FWD: false, FWD_LENGTHS: false, FWD_STATS: false, FWD_SCORES: false, STATS: false, STATS_D: false, STATS_LENGTHS: false, GRAD_LENGTHS: false, DKV: false, DKV_LENGTHS: false, LENGTHS: false };

/**
 * The scratch through which a region's forward hands its rows' logsumexp to the gradient step (Fused.link): a slot of
 * its own per region, since other regions' steps run in between. [N, Tq, 2]: L, then D, which the gradient adds.
 * Slots LINKED_SCRATCH + 2·link; the next one holds the region's saved scores (savedScores).
 */
const LINKED_SCRATCH = 8;
const linkedStats = (g: Fused): Scratch => ({ scratch: LINKED_SCRATCH + 2 * g.link!, bytes: 8 * g.inputs[0].shape[0] * g.inputs[0].shape[1] });

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
  const extra: Record<string, boolean> = sg ? { FWD: false, FWD_LENGTHS: false, FWD_STATS: false, FWD_SCORES: false, STATS_D: false, DKV: false, DKV_LENGTHS: false } : {};
  const pass = (mode: number, out: Tensor, dv?: Tensor): Launch => ({
    shader, defines: { ...extra, ...defines(false), ...(dv ? { DKV: true, DKV_LENGTHS: !!lengths, GRAD_LENGTHS: false } : {}) },
    constants: { ...constants, MODE: mode }, uniform, workgroupSize: [WG],
    bindings: [q, k, v, dy, stats, out, ...(dv ? [dv] : []), ...len], workgroups: [Math.ceil((mode === 1 ? Tq : Tk) / (mode === 4 ? DKV_ROWS : perGroup)), N, 1],
  });
  // Linked to the forward, which wrote L, the stats pass adds D alone (STATS_D), reading dy and o only, and a
  // workgroup takes up to ATTENTION_GEMM_BACKWARD.dRows rows, D_BLOCKS blocks of perGroup: at causal [32, 256, 32]
  // the pass took 0.44 -> 0.34 ms GPU with 256 rows (one workgroup per attention row) against 32 (trimmed means of 20
  // alternated rounds of 3, 20 of 20 won, load 1.0; 128 rows about as fast, 512 slower: half the rows past Tq);
  // T = 512 1.23 -> 0.72 ms (15 of 16 won), 128 0.23 -> 0.18 (29 of 30), 64 no change (0.21 both, 13 of 30; load 1.7).
  // A row a step instead (the lanes across dh, summed by subgroupAdd): 0.318 against 0.313, no gain.
  const dBlocks = linked && ATTENTION_GEMM_BACKWARD.dRows > perGroup ? Math.min(Math.ceil(Tq / perGroup), Math.floor(ATTENTION_GEMM_BACKWARD.dRows / perGroup)) : 1;
  const statsPass: Launch = {
    shader, defines: { ...extra, ...defines(true), ...(linked ? { STATS_D: true, STATS_LENGTHS: false, LENGTHS: false } : {}) }, constants: { ...constants, MODE: 1, ...(dBlocks > 1 ? { D_BLOCKS: dBlocks } : {}) }, uniform, workgroupSize: [WG],
    bindings: linked ? [null, null, dy, o, stats] : [q, k, dy, o, stats, ...len], workgroups: [Math.ceil(Tq / (perGroup * dBlocks)), N, 1],
  };
  const [dq, dk, dv] = g.outputs ?? [];
  if (gemmBackward(gemm, N, Tq, Tk)) {
    const products = gemmBackwardProducts(g, stats, savedScores(g, gemm), dq, dk, dv);
    return { ...products[products.length - 1], before: [statsPass, ...products.slice(0, -1)] };
  }
  // With subgroups dk and dv are one pass (MODE 4), which recomputes the weights once for both.
  const passes = sg && dk && dv ? [...(dq ? [pass(1, dq)] : []), pass(4, dk, dv)] : (g.outputs ?? []).flatMap((t, i) => (t ? [pass(i + 1, t)] : []));
  if (!passes.length) throw new Error(`webgpu: the attention gradient step of ${_n} writes no gradient`);
  return { ...passes[passes.length - 1], before: [statsPass, ...passes.slice(0, -1)] };
}

/**
 * maxBytes: the most scratch the GEMM backward's [N, Tq, Tk] matrices (P and dS, two of them) may take; longer rows
 * take the fused gradient kernels, whose memory is O(T). joint: S = q·kᵀ and dP = dy·vᵀ in one product whose epilogue
 * stores both P and dS (matmul_subgroup.wgsl's ATTN_SP), rather than P first and dS from it: on lavapipe, causal
 * [32, 256, 32], forward + backward 58.5 -> 55.4 ms (best of 6 alternated pairs, load 2.5-2.9, each pair won). vecBT:
 * those products read kᵀ and vᵀ (B transposed, K a multiple of 4) as vec4s along K (VEC_BT): 54.9 -> 52.0 ms (load
 * 2.7-2.9, each of 6 pairs won; an earlier 6 gave 53.2 -> 51.5, 4 of 6 won). skipMasked: the joint product stores
 * nothing in a tile wholly past the causal diagonal, which no later product reads: 27.2 -> 24.2 ms (load 2.4-2.8,
 * each of 6 pairs won). saveScores: the forward saves the scores and the first product computes dP alone
 * (savedScores): 25.5 -> 25.1 ms (median of 10 alternations of best-of-3, load 0.9, 9 of 10 won); with the
 * forward's stores branch-free and 32-column dP tiles, 42.9 -> 40.0 ms (16 of 16 won, load 2.3: another process
 * on one of the two cores); with the forward's dead rows moved first, 46.8 -> 43.0 ms (16 of 16 won, load 2.5-3.0).
 * In GPU time (timestamps, load 1.2) the forward pays about 0.6 ms for the stores and the first product saves
 * about 2 (q·kᵀ no longer computed).
 * dRows: the rows a workgroup of the linked stats pass takes (D alone; fusedAttentionGrad has the figures).
 * Read as a plan is compiled: tests and benchmarks set them to compare the strategies on one backend.
 */
export const ATTENTION_GEMM_BACKWARD = { maxBytes: 64 * 2 ** 20, joint: true, vecBT: true, skipMasked: true, saveScores: true, maxSavedBytes: 16 * 2 ** 20, storeV4: true, dRows: 256 };
/** The scratch slots of P and dS (the GEMM backward). */
const P_SCRATCH = 5, DS_SCRATCH = 6;

/**
 * Whether the gradient step recomputes the weights through the subgroup GEMM (gemmBackwardProducts) rather than the
 * fused gradient kernels: where that GEMM runs and P and dS fit ATTENTION_GEMM_BACKWARD.maxBytes.
 */
export const gemmBackward = (gemm: GemmKernel, N: number, Tq: number, Tk: number) => gemm !== 'tiled' && 2 * 4 * N * Tq * Tk <= ATTENTION_GEMM_BACKWARD.maxBytes;

/**
 * The scratch in which a linked region's forward saves its scaled scores S·scale, [N, Tq, Tk], for the GEMM backward
 * (ATTENTION_GEMM_BACKWARD.saveScores): its first product then computes dP = dy·vᵀ alone and turns S into P in
 * place, instead of computing q·kᵀ again beside dP. A slot per region, after its stats' (other regions' forwards run
 * in between), so each linked region holds N·Tq·Tk floats from its forward to its gradient step: only up to
 * maxSavedBytes a region, and with Tk a multiple of 4 (vec4 rows). Undefined where the region does not save them.
 * (At T = 512, causal [32, 512, 32], 32 MB a region, saving measured 138 -> 128 ms fwd+bwd, 7 of 8 alternations won,
 * load 2.6; the cap stays at 16 MB since a model holds one such buffer per attention layer.)
 */
function savedScores(g: Fused, gemm: GemmKernel): Scratch | undefined {
  const [q, k] = g.inputs, [N, Tq, dh] = q.shape, Tk = k.shape[1], bytes = 4 * N * Tq * Tk;
  const { saveScores, maxSavedBytes } = ATTENTION_GEMM_BACKWARD;
  if (!saveScores || g.link === undefined || !subgroups(gemm, dh) || !gemmBackward(gemm, N, Tq, Tk) || Tk % 4 !== 0 || bytes > maxSavedBytes) return undefined;
  return { scratch: LINKED_SCRATCH + 2 * g.link + 1, bytes: bytes + 4 * Tk }; // and a spare row (FWD_SCORES)
}

/**
 * One batched product of the GEMM backward on matmul_subgroup.wgsl, C[b] = op(A[b])·op(B[b]) (M x Nc, reduction K),
 * skipping the masked triangle with `causal` (that shader's CAUSAL_MODE: 1 C is [queries, keys], 2 A is, 3 A
 * transposed is), and with `attn` storing P (or dS) through the epilogue that reads the row statistics.
 *
 * The causal dv = Pᵀ·dy, dq = dS·k, dk = dSᵀ·q (modes 3, 2, 3) stay 32 x 32 tiles, four k a step. Their k loop, as
 * llvmpipe compiles it (perf samples of the JIT code, its bytes read from /proc/self/mem and disassembled), is one
 * 27 KB block of about 5,400 x86 instructions per step of 4,096 multiply-adds: about 1,050 multiplies and adds,
 * 2,300 in the 8 loads (each lane of each vec4 tests its mask bit, reloads the buffer's address and size, and checks
 * and loads each component alone), 130 accumulator blends, 1,000 register and stack moves; the diagonal's masked
 * half of each 32 x 32 block (12.5% of the multiply-adds) is computed. What would share loads or skip that half
 * grows the block (past the core's 32 KB instruction cache, we think: this VM has no hardware counters to show it)
 * or splits it, and lost (causal [32, 256, 32], GPU time,
 * one process, alternated rounds, load 1-2.6 with another helper's tests on the 2 cores; A/B of the products
 * normalised by the untouched dP product of the same run): 64-row tiles (rows 32..63 in the d accumulators, each B
 * load feeding 64 rows, the loop in three segments at the diagonal) 6.23 -> 6.62 ms for the three (0 of 6 won),
 * in one loop 7.21; 48-row tiles for mode 3 (rows 32..47 through a second vec4 load of which lanes 4..7 went unused:
 * a 41 KB loop, 8,074 instructions per 6,144 multiply-adds, the same ratio) +7-9% (3 of 30 won); eight k a step (one blend and store per eight multiply-adds) 6.03 -> 7.08 (0 of 6);
 * 16-row tiles 5.44 -> 6.29 (0 of 6); dq's row groups past their last key skipped by three more loops +15-20%,
 * by branches in the one loop no change; a workgroup looping over its column's 8 row tiles (fewer workgroups, as
 * paid for the stats pass) +4-6% (2 of 20 won); dq's row loads each next to its multiply-adds (shorter live
 * ranges, but the block split at each load's lane branches) +15% (5 of 30 won); no k clamp or zeroing where K is a multiple of 4, no change; the
 * store from the accumulators by constant index, dv and dk -1.5% in two runs, +0.5% in a third, dq +9% (7 of 40
 * won); A loaded at one address in every lane instead of one row a lane and broadcast: 12x slower (this llvmpipe
 * still loads lane by lane); B through textureLoad: the loop 4,011 instructions, 21.6 KB, but the fetches run in
 * the sampler's own functions and the dispatch was no faster.
 */
function attentionProduct(
  A: Tensor | Scratch, B: Tensor, C: Tensor | Scratch, [M, Nc, K, batch]: number[], transA: boolean, transB: boolean,
  o: { causal: 0 | 1 | 2 | 3; diag: number; attn?: { stats: Scratch; scale: number; p?: Scratch; lengths?: Tensor; joint?: [Tensor, Tensor]; fromScores?: boolean } },
): Launch {
  // The joint S and dP pass keeps its second accumulator set where WIDE's second column half would be: 32 columns.
  // dP from saved scores, causal, takes 32 columns too: its epilogue's loads and stores outweigh its products, and
  // 32 x 32 tiles along the diagonal store 56% of [queries, keys] rather than 62.5% (causal [32, 256, 32],
  // fwd+bwd: 42.2 -> 40.0 ms, each of 12 alternations won, load 1.5-1.7 with another process on one core; 16-row
  // tiles 41.9 -> 44.5, none won; not causal, WIDE stays: 59.9 against 60.7, 8 of 10 won).
  const joint = o.attn?.joint, tile = subgroupTile(M, Nc), k4 = subgroupK4(K);
  const { rows16, wide, TM, TN } = joint || (o.attn?.fromScores && o.causal) ? { ...tile, wide: false, TN: 32 } : tile;
  const defines = {
    ...SUBGROUP_PLAIN, EPILOGUE: false, EPILOGUE_GRAD: false, ROWS16: rows16, WIDE: wide, VEC_B: !transB && Nc % 4 === 0, K4: k4,
    VEC_BT: ATTENTION_GEMM_BACKWARD.vecBT && k4 && transB && K % 4 === 0,
    VEC_A: k4 && !transA && K % 4 === 0, VEC_AT: k4 && transA && !rows16 && M % 4 === 0,
    CAUSAL: o.causal > 0, STORE_V4: ATTENTION_GEMM_BACKWARD.storeV4 && !o.attn && Nc % 4 === 0, ATTN: !!o.attn, ATTN_DS: !!o.attn?.p && !joint, ATTN_SP: !!joint, ATTN_S: !!o.attn?.fromScores, ATTN_LENGTHS: !!o.attn?.lengths, ATTN_V4: !!o.attn && Nc % 4 === 0,
  };
  const constants: Record<string, number> = { TRANS_A: +transA, TRANS_B: +transB };
  if (o.causal) Object.assign(constants, { CAUSAL_MODE: o.causal, DIAG: o.diag });
  if (o.attn) constants.ATTN_SCALE = o.attn.scale;
  if (o.attn && o.causal) constants.SKIP_MASKED = +(ATTENTION_GEMM_BACKWARD.skipMasked && (!!joint || !!o.attn.fromScores));
  const a = o.attn, epilogue = a ? [a.stats, a.p ?? null, ...(a.lengths || joint ? [a.lengths ?? null] : []), ...(joint ?? [])] : [];
  return {
    shader: 'matmul_subgroup', defines, constants, uniform: UNIFORMS.matmul_subgroup_dims.pack({ M, N: Nc, K, batch, groups: (TM / 8) * (TN / 32) }),
    bindings: [A, B, C, ...epilogue], workgroupSize: [8], workgroups: [Math.ceil(Nc / TN), Math.ceil(M / TM), batch],
  };
}

/**
 * The gradients of attention as batched products, after the stats pass (L and D per query in `stats`): P =
 * exp(q·kᵀ·scale − L) into scratch, dS = P∘(dy·vᵀ − D)·scale into scratch (both through the GEMM's epilogue, masked;
 * where the forward saved the scores (`saved`, savedScores), one product computing dy·vᵀ alone and P from them in
 * place; else one computing q·kᵀ and dy·vᵀ together with ATTENTION_GEMM_BACKWARD.joint, or two),
 * then dv = Pᵀ·dy, dq = dS·k, dk = dSᵀ·q. Causal, each product skips the tiles and k the mask zeroes. Where the
 * fused kernels recompute each weight in a lane-private loop over the other side, these are tiles of the GEMM that
 * every product of the engine runs: on lavapipe at T = 256, causal, about half the fused kernels' time (bench/results/2026-12-06-attention-lavapipe.json).
 */
function gemmBackwardProducts(g: Fused, stats: Scratch, saved: Scratch | undefined, dq?: Tensor, dk?: Tensor, dv?: Tensor): Launch[] {
  const [q, k, v, dy, , lengths] = g.inputs, [N, Tq, dh] = q.shape, Tk = k.shape[1];
  const { scale, causal } = g.pattern!.attrs, diag = Tk - Tq, c = causal ? 1 : 0;
  const bytes = 4 * N * Tq * Tk, P: Scratch = saved ?? { scratch: P_SCRATCH, bytes }, dS: Scratch = { scratch: DS_SCRATCH, bytes };
  const scores = [Tq, Tk, dh, N], byKeys = [Tq, dh, Tk, N], byQueries = [Tk, dh, Tq, N];
  const out: Launch[] = saved ? [
    attentionProduct(dy, v, dS, scores, false, true, { causal: c as 0 | 1, diag, attn: { stats, scale, p: saved, lengths, fromScores: true } }),
  ] : ATTENTION_GEMM_BACKWARD.joint ? [
    attentionProduct(q, k, dS, scores, false, true, { causal: c as 0 | 1, diag, attn: { stats, scale, p: P, lengths, joint: [dy, v] } }),
  ] : [
    attentionProduct(q, k, P, scores, false, true, { causal: c as 0 | 1, diag, attn: { stats, scale, lengths } }),
    attentionProduct(dy, v, dS, scores, false, true, { causal: c as 0 | 1, diag, attn: { stats, scale, p: P, lengths } }),
  ];
  if (dv) out.push(attentionProduct(P, dy, dv, byQueries, true, false, { causal: causal ? 3 : 0, diag }));
  if (dq) out.push(attentionProduct(dS, k, dq, byKeys, false, false, { causal: causal ? 2 : 0, diag }));
  if (dk) out.push(attentionProduct(dS, q, dk, byQueries, true, false, { causal: causal ? 3 : 0, diag }));
  return out;
}

export const ATTENTION_FUSED_LAUNCHES = {
  attention: fusedAttention, attention_grad: fusedAttentionGrad,
} satisfies Partial<Record<FusedKernel, (n: Tensor, g: Fused, gemm?: GemmKernel) => Launch>>;
