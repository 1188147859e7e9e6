// GEMM for SIMD-8 CPU adapters (lavapipe/llvmpipe): C[b] = op(A[b]) · op(B[b]), row-major, op = identity or
// transpose (override TRANS_A / TRANS_B), any M, N, K. The workgroup is one subgroup of 8 lanes computing a 32 x 32
// tile of C; lane j holds the tile's 32 rows for the four columns 4j..4j+3.
//
// Why not the shared-memory tiles of matmul.wgsl: llvmpipe runs the 8 lanes as one AVX2 vector, and every load whose
// address differs between lanes (storage or workgroup memory alike) becomes a scalar loop over the lanes with a
// branch and, for storage, a bounds check per component: about ten x86 instructions per float loaded, against two for
// a multiply-add. So the count that matters is multiply-adds per float each lane loads. Here each lane loads its own
// four columns of B (4 floats per k) and just four of the 32 rows of A (4 floats per k); the other 28 rows reach it by
// subgroupBroadcast with a constant lane, which llvmpipe compiles to a register shuffle. That is 128 multiply-adds per
// 8 floats loaded, against 64 per 16 for matmul.wgsl's 8x8 blocks, and no barriers. Measured at 1024^3 on lavapipe
// (2 cores): 2-2.8x matmul.wgsl. Lanes only ever broadcast constant indices, so the accumulators are 32 named vec4s
// that stay out of indexed scratch memory.
enable subgroups;

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Dims { M: u32, N: u32, K: u32, batch: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
#if EPILOGUE
// The fused epilogue of a dense layer: C = act(A·B + bias), bias one value per column; ACT as in matmul.wgsl.
@group(0) @binding(4) var<storage, read> bias: array<f32>;
override ACT: u32 = 0u;
#include unary
#endif

// Rows and columns past the edge are clamped to the last one: their sums are computed and never stored.
fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return A[base + k * dims.M + m]; }
  return A[base + m * dims.K + k];
}

fn loadB(base: u32, k: u32, n: vec4<u32>) -> vec4<f32> {
  if (TRANS_B) { return vec4<f32>(B[base + n.x * dims.K + k], B[base + n.y * dims.K + k], B[base + n.z * dims.K + k], B[base + n.w * dims.K + k]); }
  let r = base + k * dims.N;
  return vec4<f32>(B[r + n.x], B[r + n.y], B[r + n.z], B[r + n.w]);
}

// acc[l] += (lane l's a) * b for the eight rows whose A value lanes 0..7 hold.
fn rows8(a: f32, b: vec4<f32>, acc: ptr<function, array<vec4<f32>, 8>>) {
  (*acc)[0] = fma(vec4<f32>(subgroupBroadcast(a, 0u)), b, (*acc)[0]);
  (*acc)[1] = fma(vec4<f32>(subgroupBroadcast(a, 1u)), b, (*acc)[1]);
  (*acc)[2] = fma(vec4<f32>(subgroupBroadcast(a, 2u)), b, (*acc)[2]);
  (*acc)[3] = fma(vec4<f32>(subgroupBroadcast(a, 3u)), b, (*acc)[3]);
  (*acc)[4] = fma(vec4<f32>(subgroupBroadcast(a, 4u)), b, (*acc)[4]);
  (*acc)[5] = fma(vec4<f32>(subgroupBroadcast(a, 5u)), b, (*acc)[5]);
  (*acc)[6] = fma(vec4<f32>(subgroupBroadcast(a, 6u)), b, (*acc)[6]);
  (*acc)[7] = fma(vec4<f32>(subgroupBroadcast(a, 7u)), b, (*acc)[7]);
}

fn epilogue(v: f32, c: u32) -> f32 {
#if EPILOGUE
  return unary_by(ACT, v + bias[c], 0.0);
#else
  return v;
#endif
}

fn store(base: u32, r: u32, c: u32, v: vec4<f32>) {
  if (r >= dims.M) { return; }
  for (var e = 0u; e < 4u; e++) {
    if (c + e < dims.N) { C[base + r * dims.N + c + e] = epilogue(v[e], c + e); }
  }
}

// The accumulators are copied out before the loop indexes them: indexing c0..c3 themselves by a variable would move
// them, in the main loop too, from registers to scratch memory.
fn store8(base: u32, r: u32, c: u32, acc: array<vec4<f32>, 8>) {
  var out = acc;
  for (var i = 0u; i < 8u; i++) { store(base, r + i, c, out[i]); }
}

@compute @workgroup_size(8)
fn main(@builtin(subgroup_invocation_id) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = dims.M; let N = dims.N; let K = dims.K;
  let row0 = wid.y * 32u;
  let col = wid.x * 32u + 4u * j;
  let aBase = wid.z * M * K;
  let bBase = wid.z * K * N;
  // This lane loads rows j, j+8, j+16, j+24 of the tile and columns col..col+3.
  let m0 = min(row0 + j, M - 1u); let m1 = min(row0 + j + 8u, M - 1u);
  let m2 = min(row0 + j + 16u, M - 1u); let m3 = min(row0 + j + 24u, M - 1u);
  let n = min(vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u));
  var c0: array<vec4<f32>, 8>; var c1: array<vec4<f32>, 8>;
  var c2: array<vec4<f32>, 8>; var c3: array<vec4<f32>, 8>;
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let a0 = vec4<f32>(loadA(aBase, m0, k), loadA(aBase, m0, k + 1u), loadA(aBase, m0, k + 2u), loadA(aBase, m0, k + 3u));
    let a1 = vec4<f32>(loadA(aBase, m1, k), loadA(aBase, m1, k + 1u), loadA(aBase, m1, k + 2u), loadA(aBase, m1, k + 3u));
    let a2 = vec4<f32>(loadA(aBase, m2, k), loadA(aBase, m2, k + 1u), loadA(aBase, m2, k + 2u), loadA(aBase, m2, k + 3u));
    let a3 = vec4<f32>(loadA(aBase, m3, k), loadA(aBase, m3, k + 1u), loadA(aBase, m3, k + 2u), loadA(aBase, m3, k + 3u));
    let b0 = loadB(bBase, k, n); let b1 = loadB(bBase, k + 1u, n);
    let b2 = loadB(bBase, k + 2u, n); let b3 = loadB(bBase, k + 3u, n);
    rows8(a0.x, b0, &c0); rows8(a1.x, b0, &c1); rows8(a2.x, b0, &c2); rows8(a3.x, b0, &c3);
    rows8(a0.y, b1, &c0); rows8(a1.y, b1, &c1); rows8(a2.y, b1, &c2); rows8(a3.y, b1, &c3);
    rows8(a0.z, b2, &c0); rows8(a1.z, b2, &c1); rows8(a2.z, b2, &c2); rows8(a3.z, b2, &c3);
    rows8(a0.w, b3, &c0); rows8(a1.w, b3, &c1); rows8(a2.w, b3, &c2); rows8(a3.w, b3, &c3);
  }
  for (; k < K; k++) {
    let b = loadB(bBase, k, n);
    rows8(loadA(aBase, m0, k), b, &c0); rows8(loadA(aBase, m1, k), b, &c1);
    rows8(loadA(aBase, m2, k), b, &c2); rows8(loadA(aBase, m3, k), b, &c3);
  }
  let cBase = wid.z * M * N;
  store8(cBase, row0, col, c0); store8(cBase, row0 + 8u, col, c1);
  store8(cBase, row0 + 16u, col, c2); store8(cBase, row0 + 24u, col, c3);
}
