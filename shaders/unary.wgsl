// Unary functions shared by shaders (pasted where a source says `#include unary`; see src/backends/webgpu/shaders.ts):
// the numerically careful sigmoid, softplus and GELU, and unary_by, the elementwise ops by their code in
// src/graph/elementwise.ts. The elementwise map applies them, and the GEMM epilogue applies its activation with them.

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
// The switch is on an override constant, so the pipeline keeps only the chosen case.
fn unary_by(code: u32, x: f32, alpha: f32) -> f32 {
  switch code {
    case 0u: { return x; }
    case 1u: { return -x; }
    case 2u: { return max(x, 0.0); }
    // Written so neither branch overflows: exp of a large positive argument is never taken.
    case 3u: { if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); } let e = exp(x); return e / (1.0 + e); }
    case 4u: { return tanh(x); }
    case 5u: { return exp(x); }
    case 6u: { return log(x); }
    case 7u: { return sqrt(x); }
    case 8u: { return abs(x); }
    case 9u: { return select(alpha * x, x, x > 0.0); }
    // ELU. WGSL has no expm1: exp(x) - 1 near 0 carries an absolute error of ~6e-8.
    case 10u: { return select(alpha * (exp(x) - 1.0), x, x > 0.0); }
    case 11u: { return softplus(x); }
    case 12u: { return gelu(x); }
    // Huber of a difference, delta = alpha.
    case 13u: { let ad = abs(x); return select(alpha * (ad - 0.5 * alpha), 0.5 * x * x, ad <= alpha); }
    default: { return x; }
  }
}
