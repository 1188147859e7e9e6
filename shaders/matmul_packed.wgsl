// GEMM on packed panels for SIMD-8 CPU adapters (lavapipe/llvmpipe): C[b] = A[b] · B[b], any M, N, K, where A and B
// were first copied by gemm_pack.wgsl into panels of TM rows (A) and 64 columns (B): for each k, a panel's values sit
// together as vec4s in the order this kernel's lanes read them, zero past the matrix's edge and past K up to KP (a
// multiple of 4). The workgroup is one subgroup of 8 lanes computing a TM x 64 tile of C (TM = 128 with ROWS128,
// else 64); lane j holds columns 8j .. 8j+7 of all TM rows.
//
// Why pack, as CPU BLAS libraries do (GotoBLAS): on llvmpipe every load is a loop over the 8 lanes with a bounds
// check per component, so the cost that matters is per float loaded, and a vec4 costs a quarter of four scalars.
// Unpacked, A's rows are read one float at a time (matmul_subgroup.wgsl); packed, each lane reads all its floats as
// vec4s, from one panel that the k loop walks contiguously.
//
// Why four k a step, each accumulator updated by a chain of four multiply-adds: the TM x 64 accumulators (512 or
// 1024 a lane) live on the stack, and llvmpipe masks every write to a value carried round a loop with the lanes
// still in it (a blend). One k a step paid, per multiply-add, a load, a blend and a store of the accumulator around
// the multiply and add; four pay them once for four. The chain adds in k order, so the sums round as before.
// Measured on lavapipe (2 cores), 1024^3, kernel alone, medians of three: 64 x 64 one k a step 16.8 GFLOP/s, four
// 18.2-19.4; 128 x 64 two k 20.5, four 21.5 (eight: 18.1, where LLVM's spills grow). Which products take this
// kernel, and which tile: packedGemm and packedMatmul in src/backends/webgpu/kernels.ts.
enable subgroups;

// K: the padded KP. groups: the accumulator blocks to store, BLOCKS (see storeBlocks in gemm_subgroup.wgsl).
#include matmul_packed_dims
@group(0) @binding(0) var<uniform> dims: Dims;
// The panels, as textures TEXW texels wide holding the vec4s in row-major order: A [batch][MT][KP][TM / 4] and
// B [batch][NT][KP][16]. A texel fetch for 8 lanes is a vector address computation and 8 loads, where a storage
// buffer's vec4 was 32 scalar loads, each behind its own bounds-check branch: 1024^3 25 GFLOP/s against 22.5,
// kernel alone, and half the compile time.
@group(0) @binding(1) var At: texture_2d<f32>;
@group(0) @binding(2) var Bt: texture_2d<f32>;
override TEXW: u32 = 4096u; // a power of two
#include half_types
@group(0) @binding(3) var<storage, read_write> C: array<T3>;
#if ROWS128
const TM = 128u;
#else
const TM = 64u;
#endif
const BLOCKS = TM / 4u;
const VECS = TM / 4u; // vec4s of A per k
#include gemm_subgroup

#include gemm_store

// Eight rows' four k: lane l holds row l's A values at k .. k+3 (a), which reach every lane by subgroupBroadcast; each
// lane multiplies them into its columns 8j .. 8j+3 (b, one column of the matrix per k) and 8j+4 .. 8j+7 (e).
fn rows8k4Both(a: vec4<f32>, b: mat4x4<f32>, e: mat4x4<f32>, acc: ptr<function, array<vec4<f32>, 8>>, acc2: ptr<function, array<vec4<f32>, 8>>) {
  let s0 = subgroupBroadcast(a, 0u); (*acc)[0] = chain4(s0, b, (*acc)[0]); (*acc2)[0] = chain4(s0, e, (*acc2)[0]);
  let s1 = subgroupBroadcast(a, 1u); (*acc)[1] = chain4(s1, b, (*acc)[1]); (*acc2)[1] = chain4(s1, e, (*acc2)[1]);
  let s2 = subgroupBroadcast(a, 2u); (*acc)[2] = chain4(s2, b, (*acc)[2]); (*acc2)[2] = chain4(s2, e, (*acc2)[2]);
  let s3 = subgroupBroadcast(a, 3u); (*acc)[3] = chain4(s3, b, (*acc)[3]); (*acc2)[3] = chain4(s3, e, (*acc2)[3]);
  let s4 = subgroupBroadcast(a, 4u); (*acc)[4] = chain4(s4, b, (*acc)[4]); (*acc2)[4] = chain4(s4, e, (*acc2)[4]);
  let s5 = subgroupBroadcast(a, 5u); (*acc)[5] = chain4(s5, b, (*acc)[5]); (*acc2)[5] = chain4(s5, e, (*acc2)[5]);
  let s6 = subgroupBroadcast(a, 6u); (*acc)[6] = chain4(s6, b, (*acc)[6]); (*acc2)[6] = chain4(s6, e, (*acc2)[6]);
  let s7 = subgroupBroadcast(a, 7u); (*acc)[7] = chain4(s7, b, (*acc)[7]); (*acc2)[7] = chain4(s7, e, (*acc2)[7]);
}

fn Ap(i: u32) -> vec4<f32> { return textureLoad(At, vec2<u32>(i % TEXW, i / TEXW), 0); }
fn Bp(i: u32) -> vec4<f32> { return textureLoad(Bt, vec2<u32>(i % TEXW, i / TEXW), 0); }

// Lane vec4 h of A at k .. k+3, transposed: row [c] is row group 4h + c's values at the four k.
fn loadA(i: u32) -> mat4x4<f32> {
  return transpose(mat4x4<f32>(Ap(i), Ap(i + VECS), Ap(i + 2u * VECS), Ap(i + 3u * VECS)));
}

@compute @workgroup_size(8)
fn main(@builtin(subgroup_invocation_id) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let K = dims.K;
  // Lane j reads, for each k, A's vec4s (VECS / 8)·j ..: rows j, j+8, .. of the panel (see gemm_pack.wgsl); and B's
  // vec4s 2j, 2j+1: columns 8j .. 8j+7.
  var ai = (wid.z * dims.MT + wid.y) * K * VECS + (VECS / 8u) * j;
  var bi = (wid.z * dims.NT + wid.x) * K * 16u + 2u * j;
  var c0: array<vec4<f32>, 8>; var c1: array<vec4<f32>, 8>; var c2: array<vec4<f32>, 8>; var c3: array<vec4<f32>, 8>;
  var c4: array<vec4<f32>, 8>; var c5: array<vec4<f32>, 8>; var c6: array<vec4<f32>, 8>; var c7: array<vec4<f32>, 8>;
  var d0: array<vec4<f32>, 8>; var d1: array<vec4<f32>, 8>; var d2: array<vec4<f32>, 8>; var d3: array<vec4<f32>, 8>;
  var d4: array<vec4<f32>, 8>; var d5: array<vec4<f32>, 8>; var d6: array<vec4<f32>, 8>; var d7: array<vec4<f32>, 8>;
#if ROWS128
  var c8: array<vec4<f32>, 8>; var c9: array<vec4<f32>, 8>; var c10: array<vec4<f32>, 8>; var c11: array<vec4<f32>, 8>;
  var c12: array<vec4<f32>, 8>; var c13: array<vec4<f32>, 8>; var c14: array<vec4<f32>, 8>; var c15: array<vec4<f32>, 8>;
  var d8: array<vec4<f32>, 8>; var d9: array<vec4<f32>, 8>; var d10: array<vec4<f32>, 8>; var d11: array<vec4<f32>, 8>;
  var d12: array<vec4<f32>, 8>; var d13: array<vec4<f32>, 8>; var d14: array<vec4<f32>, 8>; var d15: array<vec4<f32>, 8>;
#endif
  for (var k = 0u; k < K; k += 4u) {
    let b = mat4x4<f32>(Bp(bi), Bp(bi + 16u), Bp(bi + 32u), Bp(bi + 48u));
    let e = mat4x4<f32>(Bp(bi + 1u), Bp(bi + 17u), Bp(bi + 33u), Bp(bi + 49u));
    let a0 = loadA(ai); let a1 = loadA(ai + 1u);
#if ROWS128
    let a2 = loadA(ai + 2u); let a3 = loadA(ai + 3u);
#endif
    ai += 4u * VECS; bi += 64u;
    // Row group q (rows q·8 .. q·8+7 of the tile) is component q % 4 of lane vec4 q / 4.
    rows8k4Both(a0[0], b, e, &c0, &d0); rows8k4Both(a0[1], b, e, &c1, &d1); rows8k4Both(a0[2], b, e, &c2, &d2); rows8k4Both(a0[3], b, e, &c3, &d3);
    rows8k4Both(a1[0], b, e, &c4, &d4); rows8k4Both(a1[1], b, e, &c5, &d5); rows8k4Both(a1[2], b, e, &c6, &d6); rows8k4Both(a1[3], b, e, &c7, &d7);
#if ROWS128
    rows8k4Both(a2[0], b, e, &c8, &d8); rows8k4Both(a2[1], b, e, &c9, &d9); rows8k4Both(a2[2], b, e, &c10, &d10); rows8k4Both(a2[3], b, e, &c11, &d11);
    rows8k4Both(a3[0], b, e, &c12, &d12); rows8k4Both(a3[1], b, e, &c13, &d13); rows8k4Both(a3[2], b, e, &c14, &d14); rows8k4Both(a3[3], b, e, &c15, &d15);
#endif
  }
#if ROWS128
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15,
                                               d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15);
#else
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, c2, c3, c4, c5, c6, c7, d0, d1, d2, d3, d4, d5, d6, d7);
#endif
  storeBlocks(wid.z * dims.M * dims.N, wid.y * TM, wid.x * 64u + 8u * j, TM / 8u, &out);
}
