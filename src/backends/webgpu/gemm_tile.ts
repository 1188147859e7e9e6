// The subgroup GEMM's (shaders/matmul_subgroup.wgsl) tile and loop by size, shared by the products of kernels.ts and
// the attention backward's products (attention.ts).

/**
 * The subgroup kernel's tile (shaders/matmul_subgroup.wgsl): 32 rows, or 16 for outputs of 16 rows or fewer (a small
 * conv layer's channels); 64 columns (WIDE) where there are that many, else 32, so a 10-class layer wastes less.
 */
export function subgroupTile(M: number, N: number): { rows16: boolean; wide: boolean; TM: number; TN: number } {
  const rows16 = M <= 16, wide = N >= 64;
  return { rows16, wide, TM: rows16 ? 16 : 32, TN: wide ? 64 : 32 };
}

/**
 * Whether matmul_subgroup.wgsl takes four k a step (K4), and so, with A untransposed and K a multiple of 4, reads A
 * as vec4s (VEC_A). Measured on lavapipe (2 cores, shared: GFLOP per CPU-second of the process, one process, best
 * of 8 rounds, the MLP's shapes at batch 128): 128x784x256 21.6 -> 28.8, its Aᵀ·B weight gradient 19.2 -> 22.2, its
 * A·Bᵀ 16.6 -> 22.6, 128x256x128 19.7 -> 24.8, 256^3 20.4 -> 26.6; VEC_A alone +3-9% of that. A 10-deep product
 * (the 10-class layer's input gradient) measured 5.0 -> 4.5, so short ones keep one k a step. With A transposed and M
 * a multiple of 4, A is read as vec4s along M (VEC_AT, 32-row tiles): the MLP's weight gradients 784x128x256
 * 23.2 -> 24.4, 256x128x128 22.9 -> 23.8, 128x128x10 4.2 -> 4.7 (best of 14).
 */
export const subgroupK4 = (K: number) => K >= 16;

/**
 * vecBT: every A·Bᵀ with four k a step and K a multiple of 4 reads a column's four k as one vec4 (VEC_BT), one
 * lane-loop instead of four, as the attention backward's products did first. Wall ms a product (one process, off and
 * on alternated 5 times, medians, lavapipe, 2 cores): [32]x256x256x32 (attention's q·kᵀ) 6.98 -> 6.56, 1024x512x128
 * 4.63 -> 4.30, 1024x128x512 4.78 -> 4.64, 1024x384x128 3.63 -> 3.57, 128x256x784 2.39 -> 2.21, 128x784x256
 * 2.41 -> 2.33, 1024^3 51.0 -> 47.7.
 * storeV4: with N a multiple of 4, a lane stores its four columns of a row as one vec4, through the epilogue (bias and
 * activation, or an activation's gradient, read as vec4s too). Wall ms, off and on alternated 5 times: x·W + b
 * 1024x128x512 4.47 -> 4.29 (4 of 5 won), 1024x128x384 3.37 -> 3.33 (5/5), gelu_grad(h, dy·Wᵀ) 5.53 -> 5.31 (5/5),
 * x·W 1024x512x128 4.60 -> 4.56 (3/5).
 * Read as a plan is compiled: benchmarks set them to compare.
 */
export const GEMM_SWITCHES = { vecBT: true, storeV4: true };

/** matmul_subgroup.wgsl's switches for the causal attention products and their epilogue: off in every other product. */
export const SUBGROUP_PLAIN = { CAUSAL: false, ATTN: false, ATTN_DS: false, ATTN_SP: false, ATTN_S: false, ATTN_LENGTHS: false, ATTN_V4: false, STORE_V4: false, VEC_BT: false };
