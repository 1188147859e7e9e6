// Elementwise map over an output of up to 6 dims, each input read through its own strides: broadcasting (stride 0)
// and transposes (permuted strides) are the same kernel. OP codes match src/graph/elementwise.ts.
// Specialised by the preprocessor (BINARY: one or two inputs; STRIDED: per-dimension index arithmetic, or else
// each input repeats with a period, which covers same-shape operands, scalars and bias rows at one modulo each)
// and by override constants (OP, WG).

override OP: u32 = 0u;
override WG: u32 = 256u;

// params: [n, rank, alpha bits, periodA, shape[6], stridesA[6], stridesB[6], periodB]
@group(0) @binding(0) var<uniform> params: array<vec4<u32>, 6>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if BINARY
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

fn m(i: u32) -> u32 { return params[i / 4u][i % 4u]; }

fn unary_op(x: f32, alpha: f32) -> f32 {
  switch OP {
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
    default: { return x; }
  }
}

fn binary_op(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return select(0.0, y, x > 0.0); }
    case 5u: { return y * x * (1.0 - x); }
    case 6u: { return y * (1.0 - x * x); }
    default: { return x; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // 2-D grid: more than 65535 workgroups along x is over the WebGPU limit.
  let i = gid.x + gid.y * nwg.x * WG;
  let n = m(0u);
  if (i >= n) { return; }
#if STRIDED
  let rank = m(1u);
  var rem = i;
  var oa = 0u;
  var ob = 0u;
  for (var d = 0u; d < rank; d++) {
    let dim = rank - 1u - d;
    let size = m(4u + dim);
    let c = rem % size;
    rem = rem / size;
    oa += c * m(10u + dim);
    ob += c * m(16u + dim);
  }
#else
  let oa = i % m(3u);
  let ob = i % m(22u);
#endif
#if BINARY
  out[i] = binary_op(a[oa], b[ob]);
#else
  out[i] = unary_op(a[oa], bitcast<f32>(m(2u)));
#endif
}
