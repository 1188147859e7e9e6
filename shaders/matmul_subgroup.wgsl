// GEMM for SIMD-8 CPU adapters (lavapipe/llvmpipe): C[b] = op(A[b]) · op(B[b]), row-major, op = identity or
// transpose (override TRANS_A / TRANS_B), any M, N, K. The workgroup is one subgroup of 8 lanes computing a TM x TN
// tile of C: TM = 32 rows (16 with ROWS16, for outputs of 16 rows or fewer such as a small conv layer's channels),
// TN = 32 columns, or 64 with WIDE; lane j holds all TM rows for its 4 (WIDE: 8) adjacent columns.
//
// Why not the shared-memory tiles of matmul.wgsl: llvmpipe runs the 8 lanes as one AVX2 vector, and every load whose
// address differs between lanes (storage or workgroup memory alike) becomes a scalar loop over the lanes with a
// branch and, for storage, a bounds check per component: about ten x86 instructions per float loaded, against two for
// a multiply-add. So the count that matters is multiply-adds per float each lane loads. Here each lane loads its own
// columns of B (8 floats per k with WIDE) and just TM / 8 of the rows of A; the other rows reach it by
// subgroupBroadcast with a constant lane, which llvmpipe compiles to a register shuffle. With TM 32 and WIDE that is
// 256 multiply-adds per 12 floats loaded, against 64 per 16 for matmul.wgsl's 8x8 blocks, and no barriers. Measured
// on lavapipe (2 cores), 1024^3: the 32 x 32 tile about 2x matmul.wgsl, 32 x 64 (WIDE) 2.5-4x; 16 x 64 about 3x. Lanes
// only ever broadcast constant lane indices and index the accumulator arrays by constants, so the accumulators stay
// out of indexed scratch memory.
//
// K4: four k a step, each accumulator updated by a chain of four multiply-adds, as in matmul_packed.wgsl. The
// accumulators (256 a lane) live on the stack, and llvmpipe compiles every multiply-add into a multiply, a load of
// the accumulator, an add, a blend with the loop's lane mask and a store; four k a step pay the load, blend and store
// once for four. (Unrolling the k loop alone measured no faster: each multiply-add still paid all five.) The chain
// adds in k order, so the sums round as the one-k loop's do. Which products take it: subgroupK4 in kernels.ts.
enable subgroups;

override TRANS_A: bool = false;
override TRANS_B: bool = false;

// groups: the accumulator blocks to store, (TM / 8) x (CW / 4) (see storeBlocks in gemm_subgroup.wgsl).
#include matmul_subgroup_dims
@group(0) @binding(0) var<uniform> dims: Dims;
#include half_types
#if VEC_A
// A untransposed with K a multiple of 4 (with K4 only): a row's four k are one aligned vec4, one lane-loop instead of
// four.
@group(0) @binding(1) var<storage, read> A: array<vec4<T1>>;
#elif VEC_AT
// A transposed with M a multiple of 4 (with K4, 32-row tiles): four adjacent rows at one k are one aligned vec4, so
// lane j loads rows 4j .. 4j+3 of the tile, not j, j+8, j+16, j+24: four lane-loops per four k instead of sixteen.
@group(0) @binding(1) var<storage, read> A: array<vec4<T1>>;
#else
@group(0) @binding(1) var<storage, read> A: array<T1>;
#endif
#if VEC_B
// B untransposed with N a multiple of 4: a lane's 4 columns are one aligned vec4, loaded with one lane-loop instead
// of four (about 10% faster at 1024^3).
@group(0) @binding(2) var<storage, read> B: array<vec4<T2>>;
#elif VEC_BT
// B transposed with K a multiple of 4 (with K4): a column's four k are one aligned vec4, so a lane's 4 columns at
// four k are four lane-loops instead of sixteen (the attention backward's q·kᵀ and dy·vᵀ).
@group(0) @binding(2) var<storage, read> B: array<vec4<T2>>;
#else
@group(0) @binding(2) var<storage, read> B: array<T2>;
#endif
@group(0) @binding(3) var<storage, read_write> C: array<T3>;
#if ATTN_V4
// The attention epilogue's C with N a multiple of 4: a lane's four columns are one vec4, stored (and P loaded) with
// one lane-loop instead of four. The plain store, which would read C, is not called under ATTN.
@group(0) @binding(3) var<storage, read_write> C4: array<vec4<f32>>;
#endif
#if STORE_V4
// C with N a multiple of 4: a lane's four columns of a row are one vec4, stored (with the epilogue's bias or
// activation values read as one vec4, gemm_store's epilogue4) with one lane-loop instead of four (llvmpipe's loop over
// the lanes, with a bounds check each, is what a store costs): causal attention [32, 256, 32], dv + dq + dk 5.90 ->
// 5.71 ms GPU (medians of 15 rounds, 4 of 4 alternations won, load 1.0). The four-scalar store of gemm_store, which
// reads C, is not called here.
@group(0) @binding(3) var<storage, read_write> C4: array<vec4<T3>>;
fn storeBlocks4(base: u32, row0: u32, col: u32, rowGroups: u32, out: ptr<function, array<array<vec4<f32>, 8>, BLOCKS>>) {
  for (var q = 0u; q < dims.groups; q++) {
    let r = row0 + 8u * (q % rowGroups);
    let c = col + 4u * (q / rowGroups);
    for (var i = 0u; i < 8u; i++) {
      let at = base + (r + i) * dims.N + c;
      if (r + i < dims.M && c < dims.N) { let v = epilogue4((*out)[q][i], at, c); C4[at / 4u] = vec4<T3>(to_T3(v.x), to_T3(v.y), to_T3(v.z), to_T3(v.w)); }
    }
  }
}
// storeBlocks4's epilogue (gemm_store's, four at a time): four adjacent outputs from flat index i and column c
// (multiples of 4), the bias or the activation's values read as one vec4.
#if EPILOGUE
@group(0) @binding(4) var<storage, read> bias4: array<vec4<T4>>;
fn epilogue4(v: vec4<f32>, i: u32, c: u32) -> vec4<f32> {
  let b = v + vec4<f32>(bias4[c / 4u]);
  return vec4<f32>(unary_by(ACT, b.x, 0.0), unary_by(ACT, b.y, 0.0), unary_by(ACT, b.z, 0.0), unary_by(ACT, b.w, 0.0));
}
#elif EPILOGUE_GRAD
@group(0) @binding(4) var<storage, read> act_out4: array<vec4<T4>>;
fn epilogue4(v: vec4<f32>, i: u32, c: u32) -> vec4<f32> {
  let y = vec4<f32>(act_out4[i / 4u]);
  return vec4<f32>(act_grad(y.x, v.x), act_grad(y.y, v.y), act_grad(y.z, v.z), act_grad(y.w, v.w));
}
#else
fn epilogue4(v: vec4<f32>, i: u32, c: u32) -> vec4<f32> { return v; }
#endif
#endif
// Rows and columns past the edge are clamped to the last one: their sums are computed and never stored.
#if VEC_A
#elif VEC_AT
#else
fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return f32(A[base + k * dims.M + m]); }
  return f32(A[base + m * dims.K + k]);
}
#endif

// n holds the lane's 4 columns, clamped to the matrix (with VEC_B to N - 4, so n.x stays a multiple of 4).
#if VEC_BT
// The lane's 4 columns at k .. k+3 (k a multiple of 4): [i] holds k + i.
fn loadBT4(base: u32, k: u32, n: vec4<u32>) -> mat4x4<f32> {
  let K = dims.K;
  return transpose(mat4x4<f32>(vec4<f32>(B[(base + n.x * K + k) / 4u]), vec4<f32>(B[(base + n.y * K + k) / 4u]),
                               vec4<f32>(B[(base + n.z * K + k) / 4u]), vec4<f32>(B[(base + n.w * K + k) / 4u])));
}
#endif
fn loadB(base: u32, k: u32, n: vec4<u32>) -> vec4<f32> {
#if VEC_B
  return vec4<f32>(B[(base + k * dims.N + n.x) / 4u]);
#elif VEC_BT
  return vec4<f32>(0.0); // unused: VEC_BT loads through loadBT4
#else
  if (TRANS_B) { return vec4<f32>(f32(B[base + n.x * dims.K + k]), f32(B[base + n.y * dims.K + k]), f32(B[base + n.z * dims.K + k]), f32(B[base + n.w * dims.K + k])); }
  let r = base + k * dims.N;
  return vec4<f32>(f32(B[r + n.x]), f32(B[r + n.y]), f32(B[r + n.z]), f32(B[r + n.w]));
#endif
}

#if ROWS16
const TM = 16u;
#else
const TM = 32u;
#endif
#if WIDE
const CW = 8u; // columns per lane
#else
const CW = 4u;
#endif

// Accumulator blocks: TM / 8 row groups by two column halves (the second one used with WIDE only).
const BLOCKS = TM / 4u;
#include gemm_subgroup

// acc[l] += (lane l's a) * b for the eight rows whose A values lanes 0..7 hold (lane l's value reaches every lane by
// subgroupBroadcast with a constant lane, a register shuffle on llvmpipe); with WIDE also acc2[l] += a * b2.
fn rows8(a: f32, b: vec4<f32>, b2: vec4<f32>, acc: ptr<function, array<vec4<f32>, 8>>, acc2: ptr<function, array<vec4<f32>, 8>>) {
  let s0 = vec4<f32>(subgroupBroadcast(a, 0u)); let s1 = vec4<f32>(subgroupBroadcast(a, 1u));
  let s2 = vec4<f32>(subgroupBroadcast(a, 2u)); let s3 = vec4<f32>(subgroupBroadcast(a, 3u));
  let s4 = vec4<f32>(subgroupBroadcast(a, 4u)); let s5 = vec4<f32>(subgroupBroadcast(a, 5u));
  let s6 = vec4<f32>(subgroupBroadcast(a, 6u)); let s7 = vec4<f32>(subgroupBroadcast(a, 7u));
  (*acc)[0] = fma(s0, b, (*acc)[0]); (*acc)[1] = fma(s1, b, (*acc)[1]);
  (*acc)[2] = fma(s2, b, (*acc)[2]); (*acc)[3] = fma(s3, b, (*acc)[3]);
  (*acc)[4] = fma(s4, b, (*acc)[4]); (*acc)[5] = fma(s5, b, (*acc)[5]);
  (*acc)[6] = fma(s6, b, (*acc)[6]); (*acc)[7] = fma(s7, b, (*acc)[7]);
#if WIDE
  (*acc2)[0] = fma(s0, b2, (*acc2)[0]); (*acc2)[1] = fma(s1, b2, (*acc2)[1]);
  (*acc2)[2] = fma(s2, b2, (*acc2)[2]); (*acc2)[3] = fma(s3, b2, (*acc2)[3]);
  (*acc2)[4] = fma(s4, b2, (*acc2)[4]); (*acc2)[5] = fma(s5, b2, (*acc2)[5]);
  (*acc2)[6] = fma(s6, b2, (*acc2)[6]); (*acc2)[7] = fma(s7, b2, (*acc2)[7]);
#endif
}

#if K4
// Row m's A values at k .. k+3 (k1 .. k3 clamped to K - 1), zero where live is.
fn loadA4(base: u32, m: u32, k: u32, k1: u32, k2: u32, k3: u32, live: vec4<f32>) -> vec4<f32> {
#if VEC_A
  return vec4<f32>(A[(base + m * dims.K + k) / 4u]);
#elif VEC_AT
  return vec4<f32>(0.0); // unused: VEC_AT loads through loadAT4
#else
  return vec4<f32>(loadA(base, m, k), loadA(base, m, k1), loadA(base, m, k2), loadA(base, m, k3)) * live;
#endif
}

#if VEC_AT
// Rows m4 .. m4+3 (m4 a multiple of 4) at k .. k+3, transposed: [c] holds row m4 + c's values at the four k.
fn loadAT4(base: u32, m4: u32, k: u32, k1: u32, k2: u32, k3: u32, live: vec4<f32>) -> mat4x4<f32> {
  let M = dims.M;
  return transpose(mat4x4<f32>(vec4<f32>(A[(base + k * M + m4) / 4u]), vec4<f32>(A[(base + k1 * M + m4) / 4u]) * live.y,
                               vec4<f32>(A[(base + k2 * M + m4) / 4u]) * live.z, vec4<f32>(A[(base + k3 * M + m4) / 4u]) * live.w));
}

// The accumulators of VEC_AT, whose x[c][l] holds row 4l + c, re-dealt as the store reads them: [q][i] row 8q + i.
fn rowsBy8(x0: array<vec4<f32>, 8>, x1: array<vec4<f32>, 8>, x2: array<vec4<f32>, 8>, x3: array<vec4<f32>, 8>) -> array<array<vec4<f32>, 8>, 4> {
  var x = array<array<vec4<f32>, 8>, 4>(x0, x1, x2, x3);
  var o: array<array<vec4<f32>, 8>, 4>;
  for (var q = 0u; q < 4u; q++) { for (var i = 0u; i < 8u; i++) { o[q][i] = x[i % 4u][2u * q + i / 4u]; } }
  return o;
}
#endif

#include gemm_k4
#endif

#include gemm_store

#if CAUSAL
// The products of a causal attention backward (src/backends/webgpu/attention.ts), whose [queries, keys] matrices are
// zero past the diagonal, query i seeing keys j <= i + DIAG (DIAG = Tk - Tq). The skipped work is work on zeros: a
// tile of C wholly past the diagonal (CAUSAL_MODE 1: C is [queries, keys]) runs no k and stores zeros; a product
// reducing over keys (2: A is [queries, keys]) stops at the last key the tile's last query sees; one reducing over
// queries (3: A transposed, [queries, keys] read as [keys, queries]) starts at the first query that sees the tile's
// first key, rounded down to a multiple of 4 so that the four-k chains group as the full loop's. With A zero past
// the diagonal, the result is the plain kernel's (the sums skip only exact zeros).
override CAUSAL_MODE: u32 = 1u;
override DIAG: u32 = 0u;
// [first k, end k) of the tile from row row0 and column col0 (the same in every lane).
fn causalK(row0: u32, col0: u32) -> vec2<u32> {
  let last = min(row0 + TM, dims.M) - 1u;
  if (CAUSAL_MODE == 1u) { return vec2<u32>(0u, select(dims.K, 0u, col0 > last + DIAG)); }
  if (CAUSAL_MODE == 2u) { return vec2<u32>(0u, min(dims.K, last + DIAG + 1u)); }
  return vec2<u32>(select(0u, (row0 - DIAG) & ~3u, row0 > DIAG), dims.K);
}
#endif

#if ATTN
// The attention backward's weights and their gradient as the epilogue of C = [queries, keys] products, batch b one
// attention row (src/backends/webgpu/attention.ts): with S = q·kᵀ, P = exp(S·ATTN_SCALE − L) (L the row's
// logsumexp); with ATTN_DS and dP = dy·vᵀ, dS = P∘(dP − D)·ATTN_SCALE (D = Σ P∘dP, P read back from binding 5).
// Masked entries (past the diagonal with CAUSAL, past the row's length with ATTN_LENGTHS) are 0, so the products
// that reduce over them add zeros.
// [batch, M]: (L, D) of each row. Lane l loads row l's of each 8-row group of the tile, and the epilogue's rows take
// theirs by shuffle: one lane-loop per 8 rows instead of one or two per row, each a branchy loop over the lanes on
// llvmpipe although every lane reads the same address (causal [32, 256, 32], the ATTN_S product 4.65 -> 4.33 ms GPU,
// median of 3 alternations, one process, load 1.5;
// at T = 512 the joint ATTN_SP product 42.9 -> 40.2 ms, median of 3 pairs, load 1.8).
@group(0) @binding(4) var<storage, read> stats: array<vec2<f32>>;
#if ATTN_SP
// S and dP in one pass (ATTN_SP, 32-column tiles): A·Bᵀ = q·kᵀ into the c accumulators and A2·B2ᵀ = dy·vᵀ into the
// d ones, which the 32-column tile leaves free; the epilogue stores P into binding 5, for dv = Pᵀ·dy, and dS into C.
// One launch instead of two, and P is not read back. A2 is shaped as A, B2 as B (both [rows, K]).
#if ATTN_V4
@group(0) @binding(5) var<storage, read_write> P4: array<vec4<f32>>;
#else
@group(0) @binding(5) var<storage, read_write> P: array<f32>;
#endif
#if VEC_A
@group(0) @binding(7) var<storage, read> A2: array<vec4<f32>>;
#else
@group(0) @binding(7) var<storage, read> A2: array<f32>;
#endif
#if VEC_BT
@group(0) @binding(8) var<storage, read> B2: array<vec4<f32>>;
fn loadB2T4(base: u32, k: u32, n: vec4<u32>) -> mat4x4<f32> {
  let K = dims.K;
  return transpose(mat4x4<f32>(B2[(base + n.x * K + k) / 4u], B2[(base + n.y * K + k) / 4u], B2[(base + n.z * K + k) / 4u], B2[(base + n.w * K + k) / 4u]));
}
#else
@group(0) @binding(8) var<storage, read> B2: array<f32>;
#endif
fn loadA2(base: u32, m: u32, k: u32) -> f32 {
#if VEC_A
  return A2[(base + m * dims.K + k) / 4u][k % 4u];
#else
  return A2[base + m * dims.K + k];
#endif
}
fn loadA24(base: u32, m: u32, k: u32, k1: u32, k2: u32, k3: u32, live: vec4<f32>) -> vec4<f32> {
#if VEC_A
  return A2[(base + m * dims.K + k) / 4u];
#else
  return vec4<f32>(loadA2(base, m, k), loadA2(base, m, k1), loadA2(base, m, k2), loadA2(base, m, k3)) * live;
#endif
}
fn loadB2(base: u32, k: u32, n: vec4<u32>) -> vec4<f32> {
#if VEC_BT
  return vec4<f32>(0.0); // unused: VEC_BT loads through loadB2T4
#else
  return vec4<f32>(B2[base + n.x * dims.K + k], B2[base + n.y * dims.K + k], B2[base + n.z * dims.K + k], B2[base + n.w * dims.K + k]);
#endif
}
#elif ATTN_S
// ATTN_S (with ATTN_DS: C = dP = dy·vᵀ): binding 5 holds the scaled scores S·ATTN_SCALE that the forward saved
// (attention_subgroup.wgsl's FWD_SCORES), which the epilogue turns into P in place, for dv = Pᵀ·dy: the q·kᵀ product
// is not computed again, and the tile may be WIDE, having no second accumulator set (not causal: attention.ts).
// Causal [32, 256, 32], about 4.0 ms GPU: the product 1.6 (its loads of dy and v, 64 lane-loops a tile, and its
// multiply-adds), loading S, its exps and storing P 1.1 (the store of P alone 0.4, the exps 0.1), the rest
// storing dS and the tile's overhead: three lane-loops a vec4 of the tile, each about ten instructions a float. What
// did not pay: tiles wholly inside the mask taking an unmasked epilogue (a uniform branch; 2 of 8 won; with the mask
// dropped everywhere, a wrong kernel, 4-6 of 8); the store loop over a constant 4 blocks instead of dims.groups (no
// faster); and the row's L and D taken without the shuffle (a wrong kernel, no faster either): the cost is in the
// lane-loops. The 896 of 2048 tiles wholly past the diagonal that return at once cost under 0.1 ms (all 2048
// returning at once: 0.2 ms), so a grid of the lower triangle alone would not pay either.
#if ATTN_V4
@group(0) @binding(5) var<storage, read_write> P4: array<vec4<f32>>;
#else
@group(0) @binding(5) var<storage, read_write> P: array<f32>;
#endif
#elif ATTN_V4
#if ATTN_DS
@group(0) @binding(5) var<storage, read> P4: array<vec4<f32>>;
#endif
#elif ATTN_DS
@group(0) @binding(5) var<storage, read> P: array<f32>;
#endif
#if ATTN_LENGTHS
@group(0) @binding(6) var<storage, read> lengths: array<i32>;
#endif
override ATTN_SCALE: f32 = 1.0;
override SKIP_MASKED: bool = true;

fn storeAttn(b: u32, row0: u32, col: u32, rowGroups: u32, lane: u32, out: ptr<function, array<array<vec4<f32>, 8>, BLOCKS>>) {
  let M = dims.M; let N = dims.N;
#if ATTN_LENGTHS
  let len = min(N, u32(max(lengths[b], 0)));
#else
  let len = N;
#endif
  for (var q = 0u; q < dims.groups; q++) {
    let c = col + 4u * (q / rowGroups);
    let own = stats[b * M + min(row0 + 8u * (q % rowGroups) + lane, M - 1u)];
    for (var i = 0u; i < 8u; i++) {
      let r = min(row0 + 8u * (q % rowGroups) + i, M - 1u);
      let live = row0 + 8u * (q % rowGroups) + i < M;
#if CAUSAL
      let end = min(len, r + DIAG + 1u);
#else
      let end = len;
#endif
      let row = b * M + r;
      let L = subgroupShuffle(own.x, i);
      let D = subgroupShuffle(own.y, i);
#if ATTN_SP
      let dp = (*out)[q + rowGroups][i];
#endif
      let v = (*out)[q][i];
#if ATTN_V4
      let cs = vec4<u32>(c) + vec4<u32>(0u, 1u, 2u, 3u);
      let seen = cs < vec4<u32>(end);
      if (live && c < N) {
#if ATTN_SP
        let p = select(vec4<f32>(0.0), exp(v * ATTN_SCALE - L), seen);
        P4[(row * N + c) / 4u] = p;
        C4[(row * N + c) / 4u] = select(vec4<f32>(0.0), p * (dp - D) * ATTN_SCALE, seen);
#elif ATTN_S
        let p = select(vec4<f32>(0.0), exp(P4[(row * N + c) / 4u] - L), seen);
        P4[(row * N + c) / 4u] = p;
        C4[(row * N + c) / 4u] = select(vec4<f32>(0.0), p * (v - D) * ATTN_SCALE, seen);
#elif ATTN_DS
        C4[(row * N + c) / 4u] = select(vec4<f32>(0.0), P4[(row * N + c) / 4u] * (v - D) * ATTN_SCALE, seen);
#else
        C4[(row * N + c) / 4u] = select(vec4<f32>(0.0), exp(v * ATTN_SCALE - L), seen);
#endif
      }
#else
      for (var e = 0u; e < 4u; e++) {
        let idx = row * N + c + e;
        if (live && c + e < N) {
#if ATTN_SP
          let p = select(0.0, exp(v[e] * ATTN_SCALE - L), c + e < end);
          P[idx] = p;
          C[idx] = to_T3(select(0.0, p * (dp[e] - D) * ATTN_SCALE, c + e < end));
#elif ATTN_S
          let p = select(0.0, exp(P[idx] - L), c + e < end);
          P[idx] = p;
          C[idx] = to_T3(select(0.0, p * (v[e] - D) * ATTN_SCALE, c + e < end));
#elif ATTN_DS
          C[idx] = to_T3(select(0.0, P[idx] * (v[e] - D) * ATTN_SCALE, c + e < end));
#else
          C[idx] = to_T3(select(0.0, exp(v[e] * ATTN_SCALE - L), c + e < end));
#endif
        }
      }
#endif
    }
  }
}
#endif

@compute @workgroup_size(8)
fn main(@builtin(subgroup_invocation_id) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = dims.M; let N = dims.N; let K = dims.K;
  let row0 = wid.y * TM;
  let col = wid.x * 8u * CW + CW * j;
  let aBase = wid.z * M * K;
  let bBase = wid.z * K * N;
  // This lane loads rows j, j+8, .. of the tile and columns col..col+CW-1, clamped to the matrix.
  let m0 = min(row0 + j, M - 1u); let m1 = min(row0 + j + 8u, M - 1u);
  let m2 = min(row0 + j + 16u, M - 1u); let m3 = min(row0 + j + 24u, M - 1u);
  // VEC_AT: rows 4j .. 4j+3 (clamped to the last four, rows past M never stored).
  let mt = min(row0 + 4u * j, M - 4u);
#if VEC_B
  let last = N - 4u;
#else
  let last = N - 1u;
#endif
  let n = min(vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
  let n2 = min(vec4<u32>(col + 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
  var c0: array<vec4<f32>, 8>; var c1: array<vec4<f32>, 8>; var d0: array<vec4<f32>, 8>; var d1: array<vec4<f32>, 8>;
#if ROWS16
#else
  var c2: array<vec4<f32>, 8>; var c3: array<vec4<f32>, 8>; var d2: array<vec4<f32>, 8>; var d3: array<vec4<f32>, 8>;
#endif
#if CAUSAL
  let kr = causalK(row0, wid.x * 8u * CW);
#if ATTN
  // A tile wholly past the diagonal stores nothing: the products that read P and dS (CAUSAL_MODE 2 and 3) never
  // reach it, their k ranges ending (starting) within the last (first) tile a row sees, rounded by 4 inside it.
  // (SKIP_MASKED is on only where P and dS are stored by one product: ATTN_SP, or ATTN_S.)
  if (SKIP_MASKED && kr.y == 0u) { return; }
#endif
#endif
#if K4
  // Four k a step, each accumulator updated by a chain of four additions in k order (see K4 above). k past K reads
  // the last k's values, zeroed, so the sums are those of the one-k loop.
#if CAUSAL
  for (var k = kr.x; k < kr.y; k += 4u) {
#else
  for (var k = 0u; k < K; k += 4u) {
#endif
    let k1 = min(k + 1u, K - 1u); let k2 = min(k + 2u, K - 1u); let k3 = min(k + 3u, K - 1u);
    let live = vec4<f32>(1.0, select(0.0, 1.0, k + 1u < K), select(0.0, 1.0, k + 2u < K), select(0.0, 1.0, k + 3u < K));
#if VEC_BT
    let b = loadBT4(bBase, k, n);
#else
    let b = mat4x4<f32>(loadB(bBase, k, n), loadB(bBase, k1, n) * live.y, loadB(bBase, k2, n) * live.z, loadB(bBase, k3, n) * live.w);
#endif
#if WIDE
#if VEC_BT
    let b2 = loadBT4(bBase, k, n2);
#else
    let b2 = mat4x4<f32>(loadB(bBase, k, n2), loadB(bBase, k1, n2) * live.y, loadB(bBase, k2, n2) * live.z, loadB(bBase, k3, n2) * live.w);
#endif
#else
    let b2 = b;
#endif
#if VEC_AT
    let t = loadAT4(aBase, mt, k, k1, k2, k3, live);
    rows8k4(t[0], b, b2, &c0, &d0); rows8k4(t[1], b, b2, &c1, &d1); rows8k4(t[2], b, b2, &c2, &d2); rows8k4(t[3], b, b2, &c3, &d3);
#else
    let a0 = loadA4(aBase, m0, k, k1, k2, k3, live); let a1 = loadA4(aBase, m1, k, k1, k2, k3, live);
#if ATTN_SP
    // Not WIDE: acc2 is never written, so the second product's calls hand the c set there.
#if VEC_BT
    let e = loadB2T4(bBase, k, n);
#else
    let e = mat4x4<f32>(loadB2(bBase, k, n), loadB2(bBase, k1, n) * live.y, loadB2(bBase, k2, n) * live.z, loadB2(bBase, k3, n) * live.w);
#endif
    let g0 = loadA24(aBase, m0, k, k1, k2, k3, live); let g1 = loadA24(aBase, m1, k, k1, k2, k3, live);
#if ROWS16
    rows8k4(a0, b, b2, &c0, &d0); rows8k4(a1, b, b2, &c1, &d1);
    rows8k4(g0, e, e, &d0, &c0); rows8k4(g1, e, e, &d1, &c1);
#else
    let a2 = loadA4(aBase, m2, k, k1, k2, k3, live); let a3 = loadA4(aBase, m3, k, k1, k2, k3, live);
    let g2 = loadA24(aBase, m2, k, k1, k2, k3, live); let g3 = loadA24(aBase, m3, k, k1, k2, k3, live);
    rows8k4(a0, b, b2, &c0, &d0); rows8k4(a1, b, b2, &c1, &d1); rows8k4(a2, b, b2, &c2, &d2); rows8k4(a3, b, b2, &c3, &d3);
    rows8k4(g0, e, e, &d0, &c0); rows8k4(g1, e, e, &d1, &c1); rows8k4(g2, e, e, &d2, &c2); rows8k4(g3, e, e, &d3, &c3);
#endif
#elif ROWS16
    rows8k4(a0, b, b2, &c0, &d0); rows8k4(a1, b, b2, &c1, &d1);
#else
    let a2 = loadA4(aBase, m2, k, k1, k2, k3, live); let a3 = loadA4(aBase, m3, k, k1, k2, k3, live);
    rows8k4(a0, b, b2, &c0, &d0); rows8k4(a1, b, b2, &c1, &d1); rows8k4(a2, b, b2, &c2, &d2); rows8k4(a3, b, b2, &c3, &d3);
#endif
#endif
  }
#else
#if CAUSAL
  for (var k = kr.x; k < kr.y; k++) {
#else
  for (var k = 0u; k < K; k++) {
#endif
    // Every load first: each is a branchy loop over the lanes in llvmpipe, and multiply-adds between them would
    // split the straight-line block the accumulators are scheduled in.
    let b = loadB(bBase, k, n);
#if WIDE
    let b2 = loadB(bBase, k, n2);
#else
    let b2 = b;
#endif
    let a0 = loadA(aBase, m0, k); let a1 = loadA(aBase, m1, k);
#if ATTN_SP
    let e = loadB2(bBase, k, n);
    let g0 = loadA2(aBase, m0, k); let g1 = loadA2(aBase, m1, k);
#if ROWS16
    rows8(a0, b, b2, &c0, &d0); rows8(a1, b, b2, &c1, &d1);
    rows8(g0, e, e, &d0, &c0); rows8(g1, e, e, &d1, &c1);
#else
    let a2 = loadA(aBase, m2, k); let a3 = loadA(aBase, m3, k);
    let g2 = loadA2(aBase, m2, k); let g3 = loadA2(aBase, m3, k);
    rows8(a0, b, b2, &c0, &d0); rows8(a1, b, b2, &c1, &d1); rows8(a2, b, b2, &c2, &d2); rows8(a3, b, b2, &c3, &d3);
    rows8(g0, e, e, &d0, &c0); rows8(g1, e, e, &d1, &c1); rows8(g2, e, e, &d2, &c2); rows8(g3, e, e, &d3, &c3);
#endif
#elif ROWS16
    rows8(a0, b, b2, &c0, &d0); rows8(a1, b, b2, &c1, &d1);
#else
    let a2 = loadA(aBase, m2, k); let a3 = loadA(aBase, m3, k);
    rows8(a0, b, b2, &c0, &d0); rows8(a1, b, b2, &c1, &d1); rows8(a2, b, b2, &c2, &d2); rows8(a3, b, b2, &c3, &d3);
#endif
  }
#endif
#if ROWS16
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, d0, d1);
#elif VEC_AT
  let cs = rowsBy8(c0, c1, c2, c3); let ds = rowsBy8(d0, d1, d2, d3);
  var out = array<array<vec4<f32>, 8>, BLOCKS>(cs[0], cs[1], cs[2], cs[3], ds[0], ds[1], ds[2], ds[3]);
#else
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, c2, c3, d0, d1, d2, d3);
#endif
#if ATTN
  storeAttn(wid.z, row0, col, TM / 8u, j, &out);
#elif STORE_V4
  storeBlocks4(wid.z * M * N, row0, col, TM / 8u, &out);
#else
  storeBlocks(wid.z * M * N, row0, col, TM / 8u, &out);
#endif
}
