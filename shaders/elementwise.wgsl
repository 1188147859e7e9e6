// Elementwise map over an output of up to 6 dims, each input read through its own strides: broadcasting (stride 0)
// and transposes (permuted strides) are the same kernel. OP codes match src/graph/elementwise.ts.
// Specialised by the preprocessor (BINARY: one or two inputs; STRIDED: per-dimension index arithmetic, or else
// each input repeats with a period, which covers same-shape operands, scalars and bias rows at one modulo each)
// and by override constants (OP, WG).

override OP: u32 = 0u;
// CHAIN: a second, unary op applied to the first op's result (a fused chain such as relu(x + bias)).
override OP2: u32 = 0u;
override WG: u32 = 256u;

// params: [n, rank, alpha bits, periodA, shape[6], stridesA[6], stridesB[6], periodB, OP2's alpha bits]
@group(0) @binding(0) var<uniform> params: array<vec4<u32>, 6>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if BINARY
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

fn m(i: u32) -> u32 { return params[i / 4u][i % 4u]; }

#include unary

fn gelu_grad(x: f32) -> f32 {
  let z = 2.0 * GELU_K * (x + GELU_C * x * x * x);
  let e = exp(-abs(z));
  return sigmoid_of(z) + 2.0 * x * GELU_K * (1.0 + 3.0 * GELU_C * x * x) * (e / ((1.0 + e) * (1.0 + e)));
}

fn unary_op(x: f32, alpha: f32) -> f32 { return unary_by(OP, x, alpha); }

// Backward functions take (saved forward value, upstream gradient).
fn binary_op(x: f32, y: f32, alpha: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return select(0.0, y, x > 0.0); }
    case 5u: { return y * x * (1.0 - x); }
    case 6u: { return y * (1.0 - x * x); }
    case 7u: { return sign(x) * y; }
    case 8u: { return select(alpha * y, y, x > 0.0); }
    case 9u: { return select(alpha * exp(x) * y, y, x > 0.0); }
    case 10u: { return y * sigmoid_of(x); }
    case 11u: { return y * gelu_grad(x); }
    case 12u: { return y * clamp(x, -alpha, alpha); }
    // PReLU, y the broadcast slope: forward, then d out / d x, then the slope gradient per element (y is dy there).
    case 13u: { return select(y * x, x, x > 0.0); }
    case 14u: { return select(y, 1.0, x > 0.0); }
    case 15u: { return select(x * y, 0.0, x > 0.0); }
    // Binary cross-entropy of logit x against target y.
    case 16u: { return max(x, 0.0) - x * y + log(1.0 + exp(-abs(x))); }
    default: { return x; }
  }
}

fn chain(v: f32) -> f32 {
#if CHAIN
  return unary_by(OP2, v, bitcast<f32>(m(23u)));
#else
  return v;
#endif
}

// Offsets into a and b of the element (or, with skip = 1, the row) numbered `index` in the output's row-major order.
fn strided_offsets(index: u32, rank: u32, skip: u32) -> vec2<u32> {
  var rem = index;
  var o = vec2<u32>(0u, 0u);
  for (var d = skip; d < rank; d++) {
    let dim = rank - 1u - d;
    let size = m(4u + dim);
    let c = rem % size;
    rem = rem / size;
    o += c * vec2<u32>(m(10u + dim), m(16u + dim));
  }
  return o;
}

fn apply(oa: u32, ob: u32) -> f32 {
#if BINARY
  return chain(binary_op(a[oa], b[ob], bitcast<f32>(m(2u))));
#else
  return chain(unary_op(a[oa], bitcast<f32>(m(2u))));
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // 2-D grid: more than 65535 workgroups along x is over the WebGPU limit.
  let i = gid.x + gid.y * nwg.x * WG;
  let n = m(0u);
#if ROWS
  // One invocation per row of the innermost dim: the coordinate arithmetic (a division by a uniform per dim, which
  // CPU drivers run lane by lane) is paid once per row rather than once per element. Transposes that keep the last
  // dim, and bias broadcasts over NCHW, are rows of this kind. On lavapipe: transpose [16,64,28,28] about 3x faster.
  let rank = m(1u);
  let len = m(4u + rank - 1u);
  if (i >= n / len) { return; }
  let o = strided_offsets(i, rank, 1u);
  let sa = m(10u + rank - 1u);
  let sb = m(16u + rank - 1u);
  let base = i * len;
  for (var j = 0u; j < len; j++) {
    out[base + j] = apply(o.x + j * sa, o.y + j * sb);
  }
#else
  if (i >= n) { return; }
#if STRIDED
  let o = strided_offsets(i, m(1u), 0u);
  let oa = o.x;
  let ob = o.y;
#else
  let oa = i % m(3u);
  let ob = i % m(22u);
#endif
  out[i] = apply(oa, ob);
#endif
}
