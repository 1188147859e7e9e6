// The one table of elementwise functions. The numeric codes are the `OP` override constant of
// shaders/elementwise.wgsl; the CPU functions are the reference those shaders are tested against. `alpha` is the node's
// `attrs.alpha` (a slope, ELU's alpha, Huber's delta), passed to both sides; functions without one ignore it.
export interface UnaryFn { code: number; cpu: (x: number, alpha: number) => number }
export interface BinaryFn { code: number; cpu: (a: number, b: number, alpha: number) => number }

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

// GELU, tanh approximation (WGSL has no erf, so both backends use this form; it is within 4.7e-4 of the erf GELU):
// gelu(x) = 0.5·x·(1 + tanh(u)), u = sqrt(2/π)·(x + 0.044715·x³).
const GELU_K = Math.sqrt(2 / Math.PI), GELU_C = 0.044715;
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(GELU_K * (x + GELU_C * x * x * x)));
const geluGrad = (x: number, dy: number) => {
  const t = Math.tanh(GELU_K * (x + GELU_C * x * x * x));
  return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_K * (1 + 3 * GELU_C * x * x));
};
/** log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)). */
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

export const UNARY = {
  identity: { code: 0, cpu: (x) => x },
  neg: { code: 1, cpu: (x) => -x },
  relu: { code: 2, cpu: (x) => (x > 0 ? x : 0) },
  sigmoid: { code: 3, cpu: sigmoid },
  tanh: { code: 4, cpu: Math.tanh },
  exp: { code: 5, cpu: Math.exp },
  log: { code: 6, cpu: Math.log },
  sqrt: { code: 7, cpu: Math.sqrt },
  abs: { code: 8, cpu: Math.abs },
  leaky_relu: { code: 9, cpu: (x, a) => (x > 0 ? x : a * x) },
  elu: { code: 10, cpu: (x, a) => (x > 0 ? x : a * Math.expm1(x)) },
  softplus: { code: 11, cpu: softplus },
  gelu: { code: 12, cpu: gelu },
  // Huber of a difference d, delta = alpha: quadratic inside [-delta, delta], linear (slope delta) outside.
  huber: { code: 13, cpu: (d, delta) => (Math.abs(d) <= delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta)) },
  // The McCulloch-Pitts threshold unit: 1 where x > 0, else 0 (0 at x = 0, as the perceptron's step).
  step: { code: 14, cpu: (x) => (x > 0 ? 1 : 0) },
} satisfies Record<string, UnaryFn>;

export const BINARY = {
  add: { code: 0, cpu: (a, b) => a + b },
  sub: { code: 1, cpu: (a, b) => a - b },
  mul: { code: 2, cpu: (a, b) => a * b },
  div: { code: 3, cpu: (a, b) => a / b },
  // Backward functions take (saved forward value, upstream gradient): relu saves its input, sigmoid and tanh their output.
  relu_grad: { code: 4, cpu: (x, dy) => (x > 0 ? dy : 0) },
  sigmoid_grad: { code: 5, cpu: (y, dy) => dy * y * (1 - y) },
  tanh_grad: { code: 6, cpu: (y, dy) => dy * (1 - y * y) },
  // The activations below save their input x. abs_grad is sign(x)·dy, with 0 at x = 0 (not 0/0).
  abs_grad: { code: 7, cpu: (x, dy) => (x > 0 ? dy : x < 0 ? -dy : 0) },
  leaky_relu_grad: { code: 8, cpu: (x, dy, a) => (x > 0 ? dy : a * dy) },
  elu_grad: { code: 9, cpu: (x, dy, a) => (x > 0 ? dy : a * Math.exp(x) * dy) },
  softplus_grad: { code: 10, cpu: (x, dy) => dy * sigmoid(x) },
  gelu_grad: { code: 11, cpu: geluGrad },
  huber_grad: { code: 12, cpu: (d, dy, delta) => dy * Math.min(Math.max(d, -delta), delta) },
  // PReLU with a broadcast slope a: forward, d y/d x (1 or a), and the per-element slope gradient (x·dy where x <= 0).
  prelu: { code: 13, cpu: (x, a) => (x > 0 ? x : a * x) },
  prelu_gate: { code: 14, cpu: (x, a) => (x > 0 ? 1 : a) },
  prelu_slope_grad: { code: 15, cpu: (x, dy) => (x > 0 ? 0 : x * dy) },
  // Binary cross-entropy of logits x against targets t, per element, in the form that never overflows.
  bce_logits: { code: 16, cpu: (x, t) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))) },
} satisfies Record<string, BinaryFn>;
