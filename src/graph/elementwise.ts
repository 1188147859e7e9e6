// The one table of elementwise functions. The numeric codes are the `OP` override constant of
// shaders/unary.wgsl and shaders/binary.wgsl; the CPU functions are the reference those shaders are tested against.
export interface UnaryFn { code: number; cpu: (x: number, alpha: number) => number }
export interface BinaryFn { code: number; cpu: (a: number, b: number) => number }

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const UNARY: Record<string, UnaryFn> = {
  identity: { code: 0, cpu: (x) => x },
  neg: { code: 1, cpu: (x) => -x },
  relu: { code: 2, cpu: (x) => (x > 0 ? x : 0) },
  sigmoid: { code: 3, cpu: sigmoid },
  tanh: { code: 4, cpu: Math.tanh },
  exp: { code: 5, cpu: Math.exp },
  log: { code: 6, cpu: Math.log },
  sqrt: { code: 7, cpu: Math.sqrt },
  abs: { code: 8, cpu: Math.abs },
};

export const BINARY: Record<string, BinaryFn> = {
  add: { code: 0, cpu: (a, b) => a + b },
  sub: { code: 1, cpu: (a, b) => a - b },
  mul: { code: 2, cpu: (a, b) => a * b },
  div: { code: 3, cpu: (a, b) => a / b },
  // Backward functions take (saved forward value, upstream gradient): relu saves its input, sigmoid and tanh their output.
  relu_grad: { code: 4, cpu: (x, dy) => (x > 0 ? dy : 0) },
  sigmoid_grad: { code: 5, cpu: (y, dy) => dy * y * (1 - y) },
  tanh_grad: { code: 6, cpu: (y, dy) => dy * (1 - y * y) },
};
