// The GEMM kernels' store (matmul.wgsl, matmul_subgroup.wgsl, matmul_packed.wgsl): four adjacent outputs of row r
// from column c on, guarded against the edges of C, through the fused epilogue of a dense layer where EPILOGUE is on:
// act(v + bias[c]).
// Pasted by `#include gemm_store`; the host shader declares dims and C (of type T3, see half_types), and defines EPILOGUE.

#if EPILOGUE
// The fused epilogue of a dense layer: C = act(A·B + bias), bias one value per column; ACT is the activation's code in
// src/graph/elementwise.ts (0 none, 2 ReLU, 3 sigmoid, 4 tanh).
@group(0) @binding(4) var<storage, read> bias: array<T4>;
override ACT: u32 = 0u;
#include unary
#endif

fn epilogue(v: f32, c: u32) -> f32 {
#if EPILOGUE
  return unary_by(ACT, v + f32(bias[c]), 0.0);
#else
  return v;
#endif
}

fn store(base: u32, r: u32, c: u32, v: vec4<f32>) {
  if (r >= dims.M) { return; }
  for (var e = 0u; e < 4u; e++) {
    if (c + e < dims.N) { C[base + r * dims.N + c + e] = to_T3(epilogue(v[e], c + e)); }
  }
}
