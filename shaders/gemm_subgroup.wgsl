// What the subgroup GEMM kernels (matmul_subgroup.wgsl, matmul_packed.wgsl, conv_gemm.wgsl) share, pasted by
// `#include gemm_subgroup`: the four-k multiply-add chain and the store of the accumulators. The host shader declares dims (with a field `groups`),
// BLOCKS and `#include gemm_store`.

// Stores the accumulator blocks 0 .. dims.groups-1: block q holds 8 rows from row0 + 8·(q % rowGroups) and 4 columns
// from col + 4·(q / rowGroups). The kernels copy their blocks into one array for this after the k loop (indexed by
// the loop counter, the accumulators themselves would move to scratch memory in the k loop too). dims.groups is a
// uniform so that the loop stays a loop: unrolled, the 256-512 guarded stores, each with the epilogue's bias load
// and activation, took LLVM 17-70 s to compile on llvmpipe, against 2-5 s.
fn storeBlocks(base: u32, row0: u32, col: u32, rowGroups: u32, out: ptr<function, array<array<vec4<f32>, 8>, BLOCKS>>) {
  for (var q = 0u; q < dims.groups; q++) {
    let r = row0 + 8u * (q % rowGroups);
    let c = col + 4u * (q / rowGroups);
    for (var i = 0u; i < 8u; i++) { store(base, r + i, c, (*out)[q][i]); }
  }
}

// c + s.x·b[0] + s.y·b[1] + s.z·b[2] + s.w·b[3], added in that order: one row's four k into four columns.
fn chain4(s: vec4<f32>, b: mat4x4<f32>, c: vec4<f32>) -> vec4<f32> {
  return fma(vec4<f32>(s.w), b[3], fma(vec4<f32>(s.z), b[2], fma(vec4<f32>(s.y), b[1], fma(vec4<f32>(s.x), b[0], c))));
}
