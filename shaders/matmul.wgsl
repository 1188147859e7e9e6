// Tiled GEMM: C[b] = op(A[b]) · op(B[b]), op = identity or transpose (override TRANS_A / TRANS_B), row-major.
// A workgroup of TSX x TSY invocations computes a (R·TSY) x (R·TSX) tile of C, each invocation an R x R block held in
// vec4 registers. Non-square tiles (TSY < TSX) keep the 8x8 block for outputs with a few dozen rows, such as a conv
// layer's [channels, batch·pixels]. BLOCK8 (R = 8, sixteen vec4s, 64 FMAs per four vec4 loads from workgroup memory) for large outputs;
// otherwise R = 4, whose smaller tiles waste less on outputs of a few dozen rows or columns (conv layers, small
// batches). Indices into the register block are constants, so LLVM-based drivers such as lavapipe keep it out of
// indexed scratch memory (with 16 vector registers the 8x8 block still spills to the stack). On Mesa 25.0 llvmpipe
// every load inside a loop, uniform address or not, becomes a per-lane scalar loop (the exec mask is live in loops)
// and a storage-buffer load also re-checks its bounds per lane, so what counts is FMAs per loaded vec4: hence the
// large block and vec4 loads from workgroup memory. Operands are staged through workgroup memory TK deep in K,
// stored k-major so each invocation reads its rows of A and columns of B as whole vec4s. Out-of-range reads load 0
// and writes are guarded, so any M, N, K is correct, sizes that divide no tile included. TS and TK are override
// constants chosen per adapter.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TSX: u32 = 16u;
override TSY: u32 = 16u;
override TK: u32 = 16u;

#include matmul_dims
@group(0) @binding(0) var<uniform> dims: Dims;
#include half_types
@group(0) @binding(1) var<storage, read> A: array<T1>;
@group(0) @binding(2) var<storage, read> B: array<T2>;
@group(0) @binding(3) var<storage, read_write> C: array<T3>;
#if BLOCK8
const R = 8u;
#else
const R = 4u;
#endif
const V4 = R / 4u; // vec4s per invocation along a tile row

var<workgroup> As: array<vec4<f32>, TK * TSY * V4>; // [TK][R·TSY / 4]
var<workgroup> Bs: array<vec4<f32>, TK * TSX * V4>; // [TK][R·TSX / 4]

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= dims.M || k >= dims.K) { return 0.0; }
  if (TRANS_A) { return f32(A[base + k * dims.M + m]); }
  return f32(A[base + m * dims.K + k]);
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= dims.K || n >= dims.N) { return 0.0; }
  if (TRANS_B) { return f32(B[base + n * dims.K + k]); }
  return f32(B[base + k * dims.N + n]);
}

#include gemm_store

@compute @workgroup_size(TSX, TSY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let TM = R * TSY; // tile rows
  let TN = R * TSX; // tile columns
  let VA = V4 * TSY; // vec4s per staged row of A
  let VB = V4 * TSX; // vec4s per staged row of B
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let aBase = wid.z * dims.M * dims.K;
  let bBase = wid.z * dims.K * dims.N;
  let tid = lid.y * TSX + lid.x;
  var c: array<vec4<f32>, 16>;
  for (var k0 = 0u; k0 < dims.K; k0 += TK) {
    // Each invocation stages its share of each operand, walking the operand's contiguous direction in memory.
    for (var e = tid; e < TK * TM; e += TSX * TSY) {
      var m: u32; var ka: u32;
      if (TRANS_A) { m = e % TM; ka = e / TM; } else { m = e / TK; ka = e % TK; }
      As[ka * VA + m / 4u][m % 4u] = loadA(aBase, row0 + m, k0 + ka);
    }
    for (var e = tid; e < TK * TN; e += TSX * TSY) {
      var n: u32; var kb: u32;
      if (TRANS_B) { n = e / TK; kb = e % TK; } else { n = e % TN; kb = e / TN; }
      Bs[kb * VB + n / 4u][n % 4u] = loadB(bBase, k0 + kb, col0 + n);
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
#if BLOCK8
      let a0 = As[k * VA + lid.y * 2u];
      let a1 = As[k * VA + lid.y * 2u + 1u];
      let b0 = Bs[k * VB + lid.x * 2u];
      let b1 = Bs[k * VB + lid.x * 2u + 1u];
      c[0] = fma(vec4<f32>(a0.x), b0, c[0]); c[1] = fma(vec4<f32>(a0.x), b1, c[1]);
      c[2] = fma(vec4<f32>(a0.y), b0, c[2]); c[3] = fma(vec4<f32>(a0.y), b1, c[3]);
      c[4] = fma(vec4<f32>(a0.z), b0, c[4]); c[5] = fma(vec4<f32>(a0.z), b1, c[5]);
      c[6] = fma(vec4<f32>(a0.w), b0, c[6]); c[7] = fma(vec4<f32>(a0.w), b1, c[7]);
      c[8] = fma(vec4<f32>(a1.x), b0, c[8]); c[9] = fma(vec4<f32>(a1.x), b1, c[9]);
      c[10] = fma(vec4<f32>(a1.y), b0, c[10]); c[11] = fma(vec4<f32>(a1.y), b1, c[11]);
      c[12] = fma(vec4<f32>(a1.z), b0, c[12]); c[13] = fma(vec4<f32>(a1.z), b1, c[13]);
      c[14] = fma(vec4<f32>(a1.w), b0, c[14]); c[15] = fma(vec4<f32>(a1.w), b1, c[15]);
#else
      let a = As[k * VA + lid.y];
      let b = Bs[k * VB + lid.x];
      c[0] = fma(vec4<f32>(a.x), b, c[0]);
      c[1] = fma(vec4<f32>(a.y), b, c[1]);
      c[2] = fma(vec4<f32>(a.z), b, c[2]);
      c[3] = fma(vec4<f32>(a.w), b, c[3]);
#endif
    }
    workgroupBarrier();
  }
  let r0 = row0 + lid.y * R;
  let col = col0 + lid.x * R;
  let cBase = wid.z * dims.M * dims.N;
  for (var i = 0u; i < R; i++) {
    for (var j = 0u; j < V4; j++) { store(cBase, r0 + i, col + 4u * j, c[V4 * i + j]); }
  }
}
