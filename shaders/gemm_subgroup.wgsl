// What the subgroup GEMM kernels (matmul_subgroup.wgsl, matmul_packed.wgsl) share, pasted by
// `#include gemm_subgroup`: the store of the accumulators. The host shader declares dims (with a field `groups`),
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
