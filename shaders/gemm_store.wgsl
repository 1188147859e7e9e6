// The GEMM kernels' store (matmul.wgsl, matmul_subgroup.wgsl, matmul_packed.wgsl): four adjacent outputs of row r
// from column c on, guarded against the edges of C, through the fused epilogue of a dense layer where EPILOGUE is on:
// act(v + bias[c]); or, where EPILOGUE_GRAD is on, through an activation's gradient: the backward's dH = (dY·Wᵀ) ∘
// act'(H), from the activation's output H, stored as the GEMM's output is.
// Pasted by `#include gemm_store`; the host shader declares dims and C (of type T3, see half_types), and defines
// EPILOGUE and EPILOGUE_GRAD.

// Outside the switches: each piece is pasted once, at its first include, which may be in a switch that is off.
#include op_codes
#include unary

#if EPILOGUE
// The fused epilogue of a dense layer: C = act(A·B + bias), bias one value per column; ACT is the activation's code in
// src/graph/elementwise.ts (0 none, 2 ReLU, 3 sigmoid, 4 tanh).
@group(0) @binding(4) var<storage, read> bias: array<T4>;
override ACT: u32 = 0u;
#endif

#if EPILOGUE_GRAD
// The activation's output (its input for GELU), shaped as C; ACT_GRAD the code of its gradient (BINARY_RELU_GRAD,
// ...), which takes (that value, upstream gradient) as the elementwise kernel's does.
@group(0) @binding(4) var<storage, read> act_out: array<T4>;
override ACT_GRAD: u32 = 0u;
fn act_grad(y: f32, g: f32) -> f32 {
  switch ACT_GRAD {
    case BINARY_RELU_GRAD: { return select(0.0, g, y > 0.0); }
    case BINARY_SIGMOID_GRAD: { return g * y * (1.0 - y); }
    case BINARY_TANH_GRAD: { return g * (1.0 - y * y); }
    case BINARY_GELU_GRAD: { return g * gelu_grad(y); }
    default: { return g; }
  }
}
#endif

// v: the product's element at flat index i of C, column c.
fn epilogue(v: f32, i: u32, c: u32) -> f32 {
#if EPILOGUE
  return unary_by(ACT, v + f32(bias[c]), 0.0);
#elif EPILOGUE_GRAD
  return act_grad(f32(act_out[i]), v);
#else
  return v;
#endif
}

fn store(base: u32, r: u32, c: u32, v: vec4<f32>) {
  if (r >= dims.M) { return; }
  for (var e = 0u; e < 4u; e++) {
    let i = base + r * dims.N + c + e;
    if (c + e < dims.N) { C[i] = to_T3(epilogue(v[e], i, c + e)); }
  }
}
