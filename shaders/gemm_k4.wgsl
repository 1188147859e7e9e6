// The four-k step of the 8-lane subgroup GEMMs that keep one or two accumulator sets (matmul_subgroup.wgsl,
// conv_gemm.wgsl), pasted by `#include gemm_k4` after `#include gemm_subgroup` (chain4). The host shader declares
// the switch WIDE: a second set of four columns, b2 into acc2. matmul_packed.wgsl always keeps both (rows8k4Both).

// rows8 for four k: lane l's a holds its row's values at k .. k+3, b (b2) the lane's columns at each k.
fn rows8k4(a: vec4<f32>, b: mat4x4<f32>, b2: mat4x4<f32>, acc: ptr<function, array<vec4<f32>, 8>>, acc2: ptr<function, array<vec4<f32>, 8>>) {
  let s0 = subgroupBroadcast(a, 0u); let s1 = subgroupBroadcast(a, 1u); let s2 = subgroupBroadcast(a, 2u); let s3 = subgroupBroadcast(a, 3u);
  let s4 = subgroupBroadcast(a, 4u); let s5 = subgroupBroadcast(a, 5u); let s6 = subgroupBroadcast(a, 6u); let s7 = subgroupBroadcast(a, 7u);
  (*acc)[0] = chain4(s0, b, (*acc)[0]); (*acc)[1] = chain4(s1, b, (*acc)[1]); (*acc)[2] = chain4(s2, b, (*acc)[2]); (*acc)[3] = chain4(s3, b, (*acc)[3]);
  (*acc)[4] = chain4(s4, b, (*acc)[4]); (*acc)[5] = chain4(s5, b, (*acc)[5]); (*acc)[6] = chain4(s6, b, (*acc)[6]); (*acc)[7] = chain4(s7, b, (*acc)[7]);
#if WIDE
  (*acc2)[0] = chain4(s0, b2, (*acc2)[0]); (*acc2)[1] = chain4(s1, b2, (*acc2)[1]); (*acc2)[2] = chain4(s2, b2, (*acc2)[2]); (*acc2)[3] = chain4(s3, b2, (*acc2)[3]);
  (*acc2)[4] = chain4(s4, b2, (*acc2)[4]); (*acc2)[5] = chain4(s5, b2, (*acc2)[5]); (*acc2)[6] = chain4(s6, b2, (*acc2)[6]); (*acc2)[7] = chain4(s7, b2, (*acc2)[7]);
#endif
}
