// Unary functions shared by shaders (pasted where a source says `#include unary`; see src/backends/webgpu/shaders.ts):
// the numerically careful sigmoid, softplus and GELU, and unary_by, the elementwise ops by their code in
// src/graph/elementwise.ts. The elementwise map applies them, and the GEMM epilogue applies its activation with them.
// The codes are constants generated from that table (UNARY_RELU, ...; src/backends/webgpu/contracts.ts).

#include op_codes

// 1 / (1 + exp(-z)) from e = exp(-|z|) <= 1, so no exp overflows whatever the sign of z.
fn sigmoid_of(z: f32) -> f32 { let e = exp(-abs(z)); return select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0); }

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)). WGSL has no log1p: 1 + e drops an e below 6e-8, an absolute
// error under 6e-8, so log(1 + e) is used as is.
fn softplus(x: f32) -> f32 { return max(x, 0.0) + log(1.0 + exp(-abs(x))); }

// GELU, tanh approximation (WGSL has no erf; the CPU reference uses the same approximation):
// 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3). Since 0.5 (1 + tanh(u)) = sigmoid(2u), it is computed
// as x sigmoid(2u), which cannot overflow, and its derivative 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx as
// s + 2 x s (1 - s) du/dx, with s (1 - s) = e / (1 + e)^2, e = exp(-|2u|), accurate where s rounds to 1.
const GELU_K = 0.7978845608028654;
const GELU_C = 0.044715;
fn gelu(x: f32) -> f32 { return x * sigmoid_of(2.0 * GELU_K * (x + GELU_C * x * x * x)); }
fn gelu_grad(x: f32) -> f32 {
  let z = 2.0 * GELU_K * (x + GELU_C * x * x * x);
  let e = exp(-abs(z));
  return sigmoid_of(z) + 2.0 * x * GELU_K * (1.0 + 3.0 * GELU_C * x * x) * (e / ((1.0 + e) * (1.0 + e)));
}
// The switch is on an override constant, so the pipeline keeps only the chosen case.
fn unary_by(code: u32, x: f32, alpha: f32) -> f32 {
  switch code {
    case UNARY_IDENTITY: { return x; }
    case UNARY_NEG: { return -x; }
    case UNARY_RELU: { return max(x, 0.0); }
    // Written so neither branch overflows: exp of a large positive argument is never taken.
    case UNARY_SIGMOID: { if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); } let e = exp(x); return e / (1.0 + e); }
    case UNARY_TANH: { return tanh(x); }
    case UNARY_EXP: { return exp(x); }
    case UNARY_LOG: { return log(x); }
    case UNARY_SQRT: { return sqrt(x); }
    case UNARY_ABS: { return abs(x); }
    case UNARY_LEAKY_RELU: { return select(alpha * x, x, x > 0.0); }
    // ELU. WGSL has no expm1: exp(x) - 1 near 0 carries an absolute error of ~6e-8.
    case UNARY_ELU: { return select(alpha * (exp(x) - 1.0), x, x > 0.0); }
    case UNARY_SOFTPLUS: { return softplus(x); }
    case UNARY_GELU: { return gelu(x); }
    // Huber of a difference, delta = alpha.
    case UNARY_HUBER: { let ad = abs(x); return select(alpha * (ad - 0.5 * alpha), 0.5 * x * x, ad <= alpha); }
    case UNARY_STEP: { return select(0.0, 1.0, x > 0.0); }
    default: { return x; }
  }
}
