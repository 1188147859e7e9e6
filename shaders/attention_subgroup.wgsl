// Fused attention for adapters whose subgroups are 8 lanes wide, as CPU SIMD drivers such as lavapipe's are: the
// same passes as shaders/attention.wgsl (FWD) and shaders/attention_grad.wgsl (STATS, and DQ, DK, DV by MODE), with the
// same arithmetic and masks, for workgroups of one 8-lane subgroup; and MODE 4 (DKV), dk and dv in one pass over the
// queries, which computes each weight p_ij and dp_ij once for both.
//
// Why: llvmpipe runs the 8 lanes as one AVX2 vector and turns every load into a loop over the lanes (about ten
// instructions per float), even where all lanes read the same address, so a kernel in which each lane reads every key
// (or query) row spends most of its time loading. Here each lane owns R output rows (RF in FWD; queries for FWD, STATS
// and DQ; keys for DK, DV and DKV) in registers and, per block of 8 rows of the other side, loads just one of them; the other 7
// reach it by subgroupBroadcast with a constant lane, a register shuffle. Loads per multiply-add drop 8·R-fold. Loops
// over blocks stay rolled, so a pipeline compiles in seconds with a cold shader cache.
enable subgroups;

#include attention_dims
override DH4: u32 = 4u; // head size / 4, at most DH4_MAX
override CAUSAL: u32 = 0u;
override MODE: u32 = 1u; // without FWD or STATS: 1 DQ, 2 DK, 3 DV, 4 DK and DV (DKV)
override D_BLOCKS: u32 = 1u; // STATS_D: blocks of RB rows a workgroup (fewer workgroups: attention.ts)
const DH4_MAX = 16u;
const B = 8u; // the subgroup and workgroup size, and the rows per block of the other side
// Output rows per lane: lane l owns rows r0 + l + B·u, u < R. Each row loaded is then used by B·R outputs; R rows
// also raise the multiply-adds per float loaded R-fold.
const R = 4u;
const RB = 32u; // R · B, the rows of a workgroup
// Query rows a lane of FWD, written out in main as rows q0..q5: at T = 256, dh = 32 the forward took 0.87 of its time
// with 4 and 0.80 with 8 (one process, best of 20, load 3), and its pipeline 3.7, 6.4 and 10.9 s to compile with an
// empty shader cache (4, 6 and 8); the forward's workgroup is RF · B = 48 rows (SUBGROUP_FORWARD_ROWS). With each
// row group skipping the blocks past its rows (main), 8 measured 5.41 -> 5.24 ms GPU (median of 8 alternations,
// 4 won, load 1.3) for 3 s more of cold compile (the fwd+bwd graph's pipelines 13.5 -> 16.6 s): not worth it.
const RF = 6u;
// Keys a lane of DKV and queries a lane of DQ: at T = 256 DKV with 2 ran in 0.43 of its time with 4 and 0.58 of
// its time with 1; DQ with 4 in 0.6 of its time with 2 (one process, best of 15).
const RD = 2u;
const RQ = R;

@group(0) @binding(0) var<uniform> dims: Dims;
#if FWD
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
#elif STATS
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
#else
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;
#endif
// lengths: after q, k, v in FWD (out then follows it), last in the other passes.
#if FWD_LENGTHS
@group(0) @binding(4) var<storage, read> lengths: array<i32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
#elif FWD
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
#endif
// FWD_STATS: the forward also writes each row's logsumexp L into stats (where the gradient step reads it), and the
// gradient's STATS_D pass adds just D, with no pass over the keys.
#if FWD_STATS
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;
#endif
// FWD_SCORES (with FWD_STATS, Tk a multiple of 4): the forward also stores each scaled score S·scale it computes,
// [N, Tq, Tk] row-major, for the GEMM backward's first product, which then computes only dP = dy·vᵀ and turns the
// scores into P in place (src/backends/webgpu/attention.ts, savedScores). Masked entries hold their unmasked score or
// nothing; the backward masks them again.
#if FWD_SCORES
@group(0) @binding(7) var<storage, read_write> scores: array<vec4<f32>>;
#endif
#if STATS_LENGTHS
@group(0) @binding(6) var<storage, read> lengths: array<i32>;
#endif
// DKV (MODE 4): dk into out and dv into dv, one pass sharing the recomputed weights.
#if DKV_LENGTHS
@group(0) @binding(7) var<storage, read_write> dv: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> lengths: array<i32>;
#elif DKV
@group(0) @binding(7) var<storage, read_write> dv: array<vec4<f32>>;
#elif GRAD_LENGTHS
@group(0) @binding(7) var<storage, read> lengths: array<i32>;
#endif

/** How many keys row n has (its length, or all of them). */
fn rowLength(n: u32) -> u32 {
#if LENGTHS
  return min(dims.Tk, u32(max(lengths[n], 0)));
#else
  return dims.Tk;
#endif
}

/** The keys query i of row n sees: [0, keyEnd). */
fn keyEnd(n: u32, i: u32) -> u32 {
  var end = rowLength(n);
  if (CAUSAL == 1u) { end = min(end, i + dims.Tk - dims.Tq + 1u); }
  return end;
}

/** The keys some query of the workgroup's `rows` from query i0 may see (lengths aside: the bound must be the same in every lane). */
fn blockEnd(i0: u32, rows: u32) -> u32 {
  if (CAUSAL == 1u) { return min(dims.Tk, min(i0 + rows, dims.Tq) + dims.Tk - dims.Tq); }
  return dims.Tk;
}

// Lane c's x. The lane must be a constant; c is the same in every lane, so the switch is a uniform branch (or folds
// away where the loop over c unrolls).
fn bc(x: vec4<f32>, c: u32) -> vec4<f32> {
  switch (c) {
    case 0u: { return subgroupBroadcast(x, 0u); }
    case 1u: { return subgroupBroadcast(x, 1u); }
    case 2u: { return subgroupBroadcast(x, 2u); }
    case 3u: { return subgroupBroadcast(x, 3u); }
    case 4u: { return subgroupBroadcast(x, 4u); }
    case 5u: { return subgroupBroadcast(x, 5u); }
    case 6u: { return subgroupBroadcast(x, 6u); }
    default: { return subgroupBroadcast(x, 7u); }
  }
}

fn bc1(x: f32, c: u32) -> f32 {
  switch (c) {
    case 0u: { return subgroupBroadcast(x, 0u); }
    case 1u: { return subgroupBroadcast(x, 1u); }
    case 2u: { return subgroupBroadcast(x, 2u); }
    case 3u: { return subgroupBroadcast(x, 3u); }
    case 4u: { return subgroupBroadcast(x, 4u); }
    case 5u: { return subgroupBroadcast(x, 5u); }
    case 6u: { return subgroupBroadcast(x, 6u); }
    default: { return subgroupBroadcast(x, 7u); }
  }
}

fn hsum(x: vec4<f32>) -> f32 { return x.x + x.y + x.z + x.w; }

#if FWD
// Where the forward's time goes (causal [32, 256, 32], GPU time about 5.3 ms, variants with a part removed, one
// process, alternated): the p·v update with v's loads and broadcasts about 2.4 ms (the broadcasts alone 0.5), the
// score stores (FWD_SCORES) 0.8, the exps next to nothing. What did not pay: v's rows reaching the lanes by loads
// at an address the same in every lane instead of one load and 7 broadcasts (k alone +4 ms, k and v +8: llvmpipe's
// uniform loads are no cheaper than its lane-loops); the p·v update with d outermost, each v vec4 broadcast into
// registers and applied to all six rows, instead of staging the block in bk (12.8 against 10.2 ms, loaded machine,
// 0 of 6 won); exp2 with log2 e folded into the scale (2 of 8 won: llvmpipe's exp is exp2 and one multiply);
// the workgroups in reverse order, heaviest first (4 of 8 won); a mask-free path for blocks wholly inside the mask
// (its bound, the masks dropped everywhere, a wrong kernel: 4 of 8 won); each row's 8 scores stored as one mat2x4
// rather than two vec4s (5 of 8, medians 5.34 against 5.47: not merged into one wider store); the score stores
// gathered in one loop before the softmax (2 of 8 won) or after the p·v update (1 of 8) rather than beside each row's
// softmax.
// The forward's per-row arrays and their loops (see main): each loop runs over d only.
alias Row = array<vec4<f32>, DH4_MAX>;
/** The block's 8 rows of K or V, row c's d-th vec4 at d·B + c. */
alias Block = array<vec4<f32>, B * DH4_MAX>;

fn loadQuery(r: ptr<function, Row>, n: u32, i: u32) {
  for (var d = 0u; d < DH4; d++) { (*r)[d] = q[(n * dims.Tq + i) * DH4 + d] * dims.scale; }
}

fn zeroRow(r: ptr<function, Row>) {
  for (var d = 0u; d < DH4; d++) { (*r)[d] = vec4<f32>(0.0); }
}

fn broadcastRow(b: ptr<function, Block>, d: u32, x: vec4<f32>) {
  (*b)[d * B] = subgroupBroadcast(x, 0u);
  (*b)[d * B + 1u] = subgroupBroadcast(x, 1u);
  (*b)[d * B + 2u] = subgroupBroadcast(x, 2u);
  (*b)[d * B + 3u] = subgroupBroadcast(x, 3u);
  (*b)[d * B + 4u] = subgroupBroadcast(x, 4u);
  (*b)[d * B + 5u] = subgroupBroadcast(x, 5u);
  (*b)[d * B + 6u] = subgroupBroadcast(x, 6u);
  (*b)[d * B + 7u] = subgroupBroadcast(x, 7u);
}

/** Query r's scores against the block's rows c0..c0+3. */
fn scores4(r: ptr<function, Row>, b: ptr<function, Block>, c0: u32) -> vec4<f32> {
  var s = vec4<f32>(0.0);
  for (var d = 0u; d < DH4; d++) {
    let x = (*r)[d];
    s += vec4<f32>(dot(x, (*b)[d * B + c0]), dot(x, (*b)[d * B + c0 + 1u]), dot(x, (*b)[d * B + c0 + 2u]), dot(x, (*b)[d * B + c0 + 3u]));
  }
  return s;
}

/** a = a·corr + the block's rows weighted by pl (rows 0..3) and ph (4..7). */
fn accumulate(a: ptr<function, Row>, b: ptr<function, Block>, pl: vec4<f32>, ph: vec4<f32>, corr: f32) {
  for (var d = 0u; d < DH4; d++) {
    var x = (*a)[d] * corr;
    x = fma(vec4<f32>(pl.x), (*b)[d * B], x);
    x = fma(vec4<f32>(pl.y), (*b)[d * B + 1u], x);
    x = fma(vec4<f32>(pl.z), (*b)[d * B + 2u], x);
    x = fma(vec4<f32>(pl.w), (*b)[d * B + 3u], x);
    x = fma(vec4<f32>(ph.x), (*b)[d * B + 4u], x);
    x = fma(vec4<f32>(ph.y), (*b)[d * B + 5u], x);
    x = fma(vec4<f32>(ph.z), (*b)[d * B + 6u], x);
    (*a)[d] = fma(vec4<f32>(ph.w), (*b)[d * B + 7u], x);
  }
}

fn storeRow(a: ptr<function, Row>, n: u32, i: u32, l: f32, m: f32, end: u32) {
  if (i < dims.Tq) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var d = 0u; d < DH4; d++) { out[(n * dims.Tq + i) * DH4 + d] = (*a)[d] * inv; }
#if FWD_STATS
    stats[(n * dims.Tq + i) * 2u] = select(3.0e38, m + log(l), end > 0u);
#endif
  }
}
#endif

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y;
  let Tq = dims.Tq;
  let Tk = dims.Tk;
  let r0 = wid.x * RB; // the workgroup's first output row
  var acc: array<vec4<f32>, R * DH4_MAX>;
  for (var e = 0u; e < R * DH4; e++) { acc[e] = vec4<f32>(0.0); }
#if FWD
  // One array per row for its scaled query and its accumulator, written out for RF = 6 rows: each is indexed by d
  // alone, in loops short enough that the compiler unrolls them, so every index is a constant and the arrays stay in
  // registers. lavapipe keeps an array with any variable index in memory and loads, masks and stores it lane by
  // lane on every access, which cost more than the arithmetic (as chain4's comment in shaders/gemm_subgroup.wgsl).
  var q0: Row;
  var q1: Row;
  var q2: Row;
  var q3: Row;
  var q4: Row;
  var q5: Row;
  var a0: Row;
  var a1: Row;
  var a2: Row;
  var a3: Row;
  var a4: Row;
  var a5: Row;
  // The rows past the last query that the last workgroup would hold (288 rows for 256 queries) go before the first
  // one instead: rf0 wraps below zero there, those rows compare as past Tq (u32) and are computed but never stored,
  // and causal, the first workgroup sees the fewest keys, so they cost least there (T = 256: 122 -> 102 blocks a row).
  let pad = ((Tq + RF * B - 1u) / (RF * B)) * RF * B - Tq;
  let rf0 = wid.x * RF * B - pad;
  var end: array<u32, RF>;
  for (var u = 0u; u < RF; u++) { end[u] = keyEnd(n, min(rf0 + lid + B * u, Tq - 1u)); }
  loadQuery(&q0, n, min(rf0 + lid + 0u * B, Tq - 1u));
  loadQuery(&q1, n, min(rf0 + lid + 1u * B, Tq - 1u));
  loadQuery(&q2, n, min(rf0 + lid + 2u * B, Tq - 1u));
  loadQuery(&q3, n, min(rf0 + lid + 3u * B, Tq - 1u));
  loadQuery(&q4, n, min(rf0 + lid + 4u * B, Tq - 1u));
  loadQuery(&q5, n, min(rf0 + lid + 5u * B, Tq - 1u));
  zeroRow(&a0);
  zeroRow(&a1);
  zeroRow(&a2);
  zeroRow(&a3);
  zeroRow(&a4);
  zeroRow(&a5);
  // The online softmax: per block of 8 keys, its scores and their max, then one exp per score. The block's 8 key
  // (then value) rows reach every lane by broadcast, into bk; row u's 8 scores are two vec4s, sc[2u] for keys
  // t0..t0+3 and sc[2u + 1] for the next 4, then its weights; each accumulator takes one update per d and block.
  var m: array<f32, RF>;
  var l: array<f32, RF>;
  for (var u = 0u; u < RF; u++) { m[u] = -3.0e38; l[u] = 0.0; }
  let lane4 = vec4<u32>(0u, 1u, 2u, 3u);
  // Causal, the blocks that rows u of the workgroup see end at uEnd[u] (the same in every lane), before the
  // workgroup's last block for all but the last 8 rows: a block past it skips their scores, softmax and update, a
  // uniform branch (llvmpipe jumps over it). Rows wholly before the first query (the dead rows above: their last row
  // wraps past Tq) skip every block. Their scores are then not stored either; the backward masks them. (Causal
  // [32, 256, 32], forward GPU time 5.83 -> 5.28 ms, medians of 8 alternations, each won, load 1.1-1.3.)
  var uEnd: array<u32, RF>;
  for (var u = 0u; u < RF; u++) { uEnd[u] = select(0u, blockEnd(rf0 + B * u, B), rf0 + B * u + B - 1u < Tq); }
  for (var t0 = 0u; t0 < blockEnd(rf0, RF * B); t0 += B) {
    let kb = (n * Tk + min(t0 + lid, Tk - 1u)) * DH4;
    var bk: Block;
    for (var d = 0u; d < DH4; d++) { broadcastRow(&bk, d, k[kb + d]); }
    var sc: array<vec4<f32>, 2u * RF>;
    if (t0 < uEnd[0]) { sc[0] = scores4(&q0, &bk, 0u); sc[1] = scores4(&q0, &bk, 4u); }
    if (t0 < uEnd[1]) { sc[2] = scores4(&q1, &bk, 0u); sc[3] = scores4(&q1, &bk, 4u); }
    if (t0 < uEnd[2]) { sc[4] = scores4(&q2, &bk, 0u); sc[5] = scores4(&q2, &bk, 4u); }
    if (t0 < uEnd[3]) { sc[6] = scores4(&q3, &bk, 0u); sc[7] = scores4(&q3, &bk, 4u); }
    if (t0 < uEnd[4]) { sc[8] = scores4(&q4, &bk, 0u); sc[9] = scores4(&q4, &bk, 4u); }
    if (t0 < uEnd[5]) { sc[10] = scores4(&q5, &bk, 0u); sc[11] = scores4(&q5, &bk, 4u); }
    var corr: array<f32, RF>;
    for (var u = 0u; u < RF; u++) {
      if (t0 >= uEnd[u]) { continue; }
#if FWD_SCORES
      // Without a branch: a row past Tq (or before the first query) writes to the spare row N·Tq, which nothing
      // reads, and where Tk is 4 past a multiple of 8 the last block writes its first vec4 twice. (T = 256, GPU time,
      // load 2: the stores cost the forward 2.6 ms behind `if`s, 1.1 without.)
      let i = rf0 + lid + B * u;
      let at = (select(n * Tq + i, dims.N * Tq, i >= Tq) * Tk + t0) / 4u;
      let full = t0 + 4u < Tk;
      scores[at] = sc[2u * u];
      scores[at + select(0u, 1u, full)] = select(sc[2u * u], sc[2u * u + 1u], full);
#endif
      let e = vec4<u32>(end[u]);
      let inLo = lane4 + t0 < e;
      let inHi = lane4 + (t0 + 4u) < e;
      let lo = select(vec4<f32>(-3.0e38), sc[2u * u], inLo);
      let hi = select(vec4<f32>(-3.0e38), sc[2u * u + 1u], inHi);
      let mb = max(lo, hi);
      let mt = max(m[u], max(max(mb.x, mb.y), max(mb.z, mb.w)));
      corr[u] = exp(m[u] - mt);
      m[u] = mt;
      let pl = select(vec4<f32>(0.0), exp(lo - mt), inLo);
      let ph = select(vec4<f32>(0.0), exp(hi - mt), inHi);
      sc[2u * u] = pl;
      sc[2u * u + 1u] = ph;
      l[u] = l[u] * corr[u] + hsum(pl + ph);
    }
    for (var d = 0u; d < DH4; d++) { broadcastRow(&bk, d, v[kb + d]); }
    if (t0 < uEnd[0]) { accumulate(&a0, &bk, sc[0], sc[1], corr[0]); }
    if (t0 < uEnd[1]) { accumulate(&a1, &bk, sc[2], sc[3], corr[1]); }
    if (t0 < uEnd[2]) { accumulate(&a2, &bk, sc[4], sc[5], corr[2]); }
    if (t0 < uEnd[3]) { accumulate(&a3, &bk, sc[6], sc[7], corr[3]); }
    if (t0 < uEnd[4]) { accumulate(&a4, &bk, sc[8], sc[9], corr[4]); }
    if (t0 < uEnd[5]) { accumulate(&a5, &bk, sc[10], sc[11], corr[5]); }
  }
  storeRow(&a0, n, rf0 + lid + 0u * B, l[0], m[0], end[0]);
  storeRow(&a1, n, rf0 + lid + 1u * B, l[1], m[1], end[1]);
  storeRow(&a2, n, rf0 + lid + 2u * B, l[2], m[2], end[2]);
  storeRow(&a3, n, rf0 + lid + 3u * B, l[3], m[3], end[3]);
  storeRow(&a4, n, rf0 + lid + 4u * B, l[4], m[4], end[4]);
  storeRow(&a5, n, rf0 + lid + 5u * B, l[5], m[5], end[5]);
#elif STATS_D
  for (var u = 0u; u < R * D_BLOCKS; u++) {
    let i = wid.x * RB * D_BLOCKS + lid + B * u;
    if (i < Tq) {
      let qb = (n * Tq + i) * DH4;
      var D = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { D += dy[qb + d] * o[qb + d]; }
      stats[(n * Tq + i) * 2u + 1u] = hsum(D);
    }
  }
#elif STATS
  var qi: array<vec4<f32>, R * DH4_MAX>;
  var end: array<u32, R>;
  for (var u = 0u; u < R; u++) {
    let ic = min(r0 + lid + B * u, Tq - 1u);
    end[u] = keyEnd(n, ic);
    for (var d = 0u; d < DH4; d++) { qi[u * DH4 + d] = q[(n * Tq + ic) * DH4 + d] * dims.scale; }
  }
  var m: array<f32, R>;
  var l: array<f32, R>;
  for (var u = 0u; u < R; u++) { m[u] = -3.0e38; l[u] = 0.0; }
  for (var t0 = 0u; t0 < blockEnd(r0, RB); t0 += B) {
    let kb = (n * Tk + min(t0 + lid, Tk - 1u)) * DH4;
    var kr: array<vec4<f32>, DH4_MAX>;
    for (var d = 0u; d < DH4; d++) { kr[d] = k[kb + d]; }
    var s: array<f32, RB>;
    var mt = m;
    for (var c = 0u; c < B; c++) {
      var kc: array<vec4<f32>, DH4_MAX>;
      for (var d = 0u; d < DH4; d++) { kc[d] = bc(kr[d], c); }
      for (var u = 0u; u < R; u++) {
        var sv = vec4<f32>(0.0);
        for (var d = 0u; d < DH4; d++) { sv += qi[u * DH4 + d] * kc[d]; }
        s[u * B + c] = select(-3.0e38, hsum(sv), t0 + c < end[u]);
        mt[u] = max(mt[u], s[u * B + c]);
      }
    }
    for (var u = 0u; u < R; u++) {
      var lt = 0.0;
      for (var c = 0u; c < B; c++) { lt += select(0.0, exp(s[u * B + c] - mt[u]), t0 + c < end[u]); }
      l[u] = l[u] * exp(m[u] - mt[u]) + lt;
      m[u] = mt[u];
    }
  }
  for (var u = 0u; u < R; u++) {
    let i = r0 + lid + B * u;
    if (i < Tq) {
      let qb = (n * Tq + i) * DH4;
      var D = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { D += dy[qb + d] * o[qb + d]; }
      stats[(n * Tq + i) * 2u] = select(3.0e38, m[u] + log(l[u]), end[u] > 0u);
      stats[(n * Tq + i) * 2u + 1u] = hsum(D);
    }
  }
#else
  if (MODE == 1u) {
    let q0 = wid.x * B * RQ; // the workgroup's first query
    var qi: array<vec4<f32>, R * DH4_MAX>;
    var dyi: array<vec4<f32>, R * DH4_MAX>;
    var end: array<u32, R>;
    var L: array<f32, R>;
    var D: array<f32, R>;
    for (var u = 0u; u < RQ; u++) {
      let ic = min(q0 + lid + B * u, Tq - 1u);
      end[u] = keyEnd(n, ic);
      L[u] = stats[(n * Tq + ic) * 2u];
      D[u] = stats[(n * Tq + ic) * 2u + 1u];
      for (var d = 0u; d < DH4; d++) {
        qi[u * DH4 + d] = q[(n * Tq + ic) * DH4 + d] * dims.scale;
        dyi[u * DH4 + d] = dy[(n * Tq + ic) * DH4 + d];
      }
    }
    for (var t0 = 0u; t0 < blockEnd(q0, B * RQ); t0 += B) {
      let kb = (n * Tk + min(t0 + lid, Tk - 1u)) * DH4;
      var kr: array<vec4<f32>, DH4_MAX>;
      var vr: array<vec4<f32>, DH4_MAX>;
      for (var d = 0u; d < DH4; d++) { kr[d] = k[kb + d]; vr[d] = v[kb + d]; }
      for (var c = 0u; c < B; c++) {
        var kc: array<vec4<f32>, DH4_MAX>;
        var vc: array<vec4<f32>, DH4_MAX>;
        for (var d = 0u; d < DH4; d++) { kc[d] = bc(kr[d], c); vc[d] = bc(vr[d], c); }
        for (var u = 0u; u < RQ; u++) {
          var sv = vec4<f32>(0.0);
          var dpv = vec4<f32>(0.0);
          for (var d = 0u; d < DH4; d++) { sv += qi[u * DH4 + d] * kc[d]; dpv += dyi[u * DH4 + d] * vc[d]; }
          let ds = select(0.0, exp(hsum(sv) - L[u]) * (hsum(dpv) - D[u]), t0 + c < end[u]);
          for (var d = 0u; d < DH4; d++) { acc[u * DH4 + d] += ds * kc[d]; }
        }
      }
    }
    for (var u = 0u; u < RQ; u++) {
      let i = q0 + lid + B * u;
      if (i < Tq) {
        for (var d = 0u; d < DH4; d++) { out[(n * Tq + i) * DH4 + d] = acc[u * DH4 + d] * dims.scale; }
      }
    }
    return;
  }
  // DKV keeps two accumulators a row: with RD keys a lane, not R, they stay within what compiles to fast code.
  let RK = select(R, RD, MODE == 4u);
  let k0 = wid.x * B * RK; // the workgroup's first key
  var kj: array<vec4<f32>, R * DH4_MAX>;
  var vj: array<vec4<f32>, R * DH4_MAX>;
  var accv: array<vec4<f32>, R * DH4_MAX>; // dv's, beside dk's in acc (MODE 4)
  for (var e = 0u; e < R * DH4; e++) { accv[e] = vec4<f32>(0.0); }
  // The queries that see key r: from the first one a causal mask lets see it, none if r is past the row's length;
  // the blocks start at the first query that sees the workgroup's first key.
  var first: array<u32, R>;
  for (var u = 0u; u < RK; u++) {
    let rc = min(k0 + lid + B * u, Tk - 1u);
    for (var d = 0u; d < DH4; d++) { kj[u * DH4 + d] = k[(n * Tk + rc) * DH4 + d] * dims.scale; vj[u * DH4 + d] = v[(n * Tk + rc) * DH4 + d]; }
    first[u] = 0u;
    if (CAUSAL == 1u && rc + Tq > Tk) { first[u] = rc + Tq - Tk; }
    if (rc >= rowLength(n)) { first[u] = Tq; }
  }
  var blockFirst = 0u;
  if (CAUSAL == 1u && k0 + Tq > Tk) { blockFirst = min(k0 + Tq - Tk, Tq); }
  for (var t0 = blockFirst; t0 < Tq; t0 += B) {
    let row = n * Tq + min(t0 + lid, Tq - 1u);
    var qr: array<vec4<f32>, DH4_MAX>;
    var dyr: array<vec4<f32>, DH4_MAX>;
    for (var d = 0u; d < DH4; d++) { qr[d] = q[row * DH4 + d]; dyr[d] = dy[row * DH4 + d]; }
    let Lr = stats[row * 2u];
    let Dr = stats[row * 2u + 1u];
    for (var c = 0u; c < B; c++) {
      var qc: array<vec4<f32>, DH4_MAX>;
      var dyc: array<vec4<f32>, DH4_MAX>;
      for (var d = 0u; d < DH4; d++) { qc[d] = bc(qr[d], c); dyc[d] = bc(dyr[d], c); }
      let Lc = bc1(Lr, c);
      let Dc = bc1(Dr, c);
      for (var u = 0u; u < RK; u++) {
        let seen = t0 + c >= first[u] && t0 + c < Tq;
        var sv = vec4<f32>(0.0);
        for (var d = 0u; d < DH4; d++) { sv += qc[d] * kj[u * DH4 + d]; }
        let p = select(0.0, exp(hsum(sv) - Lc), seen);
        if (MODE == 3u) {
          for (var d = 0u; d < DH4; d++) { acc[u * DH4 + d] += p * dyc[d]; }
        } else {
          if (MODE == 4u) {
            for (var d = 0u; d < DH4; d++) { accv[u * DH4 + d] += p * dyc[d]; }
          }
          var dpv = vec4<f32>(0.0);
          for (var d = 0u; d < DH4; d++) { dpv += dyc[d] * vj[u * DH4 + d]; }
          let ds = p * (hsum(dpv) - Dc);
          for (var d = 0u; d < DH4; d++) { acc[u * DH4 + d] += ds * qc[d]; }
        }
      }
    }
  }
  let scale = select(1.0, dims.scale, MODE != 3u);
  for (var u = 0u; u < RK; u++) {
    let r = k0 + lid + B * u;
    if (r < Tk) {
      for (var d = 0u; d < DH4; d++) { out[(n * Tk + r) * DH4 + d] = acc[u * DH4 + d] * scale; }
#if DKV
      for (var d = 0u; d < DH4; d++) { dv[(n * Tk + r) * DH4 + d] = accv[u * DH4 + d]; }
#endif
    }
  }
#endif
}
