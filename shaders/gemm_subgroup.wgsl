// What the subgroup GEMM kernels (matmul_subgroup.wgsl, matmul_packed.wgsl) share, pasted by
// `#include gemm_subgroup`: the multiply-add step and the store of the accumulators. The host shader declares dims
// (with a field `groups`), BLOCKS and `#include gemm_store`.
//
// In rows8, lane l holds the A value of one of eight rows, which reaches every lane by subgroupBroadcast with a
// constant lane (a register shuffle on llvmpipe); each lane multiplies it into its own columns of B.

// acc[l] += (lane l's a) * b for the eight rows whose A values lanes 0..7 hold; with WIDE also acc2[l] += a * b2.
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
