// GEMM on packed panels for SIMD-8 CPU adapters (lavapipe/llvmpipe): C[b] = A[b] · B[b], any M, N, K, where A and B
// were first copied by gemm_pack.wgsl into panels of 64 rows (A) and 64 columns (B): for each k, a panel's 64 values
// sit together as 16 vec4s in the order this kernel's lanes read them, zero past the matrix's edge. The workgroup is
// one subgroup of 8 lanes computing a 64 x 64 tile of C; lane j holds columns 8j .. 8j+7 of all 64 rows.
//
// Why pack, as CPU BLAS libraries do (GotoBLAS): on llvmpipe every load is a loop over the 8 lanes with a bounds
// check per component, so the cost that matters is per float loaded, and a vec4 costs a quarter of four scalars.
// Unpacked, A's rows are read one float at a time (matmul_subgroup.wgsl); packed, each lane reads all its floats as
// 4 vec4s per k (2 of A, 2 of B), from one panel that the k loop walks contiguously. With the loads that cheap, the
// tile is doubled to 64 rows, which halves A's loads per multiply-add again. Measured on lavapipe (2 cores), 1024^3,
// kernel alone: 32 x 64 unpacked (matmul_subgroup) 13.8-14.7 GFLOP/s, packed 32 x 64 15.4-15.8, packed 64 x 64 17.0
// (64 x 128: 14.4, 128 x 64: 17.0, 128 x 128: 16.1; a k chained two deep 17.3, within noise); the two packing passes
// cost about 5 ms of the 134. The 512 accumulators live on the stack, as the 32 x 64 tile's 256 did. Which products
// take this kernel: packedGemm in src/backends/webgpu/kernels.ts.
enable subgroups;

// groups: the accumulator blocks to store, always 16 (see storeBlocks in gemm_subgroup.wgsl).
struct Dims { M: u32, N: u32, K: u32, batch: u32, MT: u32, NT: u32, groups: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> Ap: array<vec4<f32>>; // [batch][MT][K][16]
@group(0) @binding(2) var<storage, read> Bp: array<vec4<f32>>; // [batch][NT][K][16]
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
#if EPILOGUE
// The fused epilogue of a dense layer: C = act(A·B + bias), bias one value per column; ACT as in matmul.wgsl.
@group(0) @binding(4) var<storage, read> bias: array<f32>;
override ACT: u32 = 0u;
#include unary
#endif

const BLOCKS = 16u;
#include gemm_subgroup

#include gemm_store

@compute @workgroup_size(8)
fn main(@builtin(subgroup_invocation_id) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let K = dims.K;
  // Lane j reads vec4s 2j and 2j+1 of each k: of A, rows j, j+8, .., j+56 of the panel (see gemm_pack.wgsl); of B,
  // columns 8j .. 8j+7.
  var ai = (wid.z * dims.MT + wid.y) * K * 16u + 2u * j;
  var bi = (wid.z * dims.NT + wid.x) * K * 16u + 2u * j;
  var c0: array<vec4<f32>, 8>; var c1: array<vec4<f32>, 8>; var c2: array<vec4<f32>, 8>; var c3: array<vec4<f32>, 8>;
  var c4: array<vec4<f32>, 8>; var c5: array<vec4<f32>, 8>; var c6: array<vec4<f32>, 8>; var c7: array<vec4<f32>, 8>;
  var d0: array<vec4<f32>, 8>; var d1: array<vec4<f32>, 8>; var d2: array<vec4<f32>, 8>; var d3: array<vec4<f32>, 8>;
  var d4: array<vec4<f32>, 8>; var d5: array<vec4<f32>, 8>; var d6: array<vec4<f32>, 8>; var d7: array<vec4<f32>, 8>;
  for (var k = 0u; k < K; k++) {
    let a0 = Ap[ai]; let a1 = Ap[ai + 1u];
    let b = Bp[bi]; let b2 = Bp[bi + 1u];
    ai += 16u; bi += 16u;
    // Row group q (rows q·8 .. q·8+7 of the tile) is component q % 4 of vec4 q / 4 across the lanes.
    rows8(a0.x, b, b2, &c0, &d0); rows8(a0.y, b, b2, &c1, &d1); rows8(a0.z, b, b2, &c2, &d2); rows8(a0.w, b, b2, &c3, &d3);
    rows8(a1.x, b, b2, &c4, &d4); rows8(a1.y, b, b2, &c5, &d5); rows8(a1.z, b, b2, &c6, &d6); rows8(a1.w, b, b2, &c7, &d7);
  }
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, c2, c3, c4, c5, c6, c7, d0, d1, d2, d3, d4, d5, d6, d7);
  storeBlocks(wid.z * dims.M * dims.N, wid.y * 64u, wid.x * 64u + 8u * j, 8u, &out);
}
