// Tiled GEMM: C[b] = op(A[b]) · op(B[b]), op = identity or transpose (override TRANS_A / TRANS_B), row-major.
// A workgroup of TS x TS invocations computes a (4·TS) x (4·TS) tile of C, each invocation a 4x4 block held in four
// vec4 registers (vectors, not an indexed array: LLVM-based drivers such as lavapipe spill indexed private arrays).
// Operands are staged through workgroup memory TK deep in K, stored k-major so each invocation reads its four rows
// of A and four columns of B as one vec4 each. Out-of-range reads load 0 and writes are guarded, so any M, N, K is
// correct, sizes that divide no tile included. TS and TK are override constants chosen per adapter.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TS: u32 = 16u;
override TK: u32 = 16u;

struct Dims { M: u32, N: u32, K: u32, batch: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<vec4<f32>, TK * TS>; // [TK][4·TS / 4]
var<workgroup> Bs: array<vec4<f32>, TK * TS>;

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= dims.M || k >= dims.K) { return 0.0; }
  if (TRANS_A) { return A[base + k * dims.M + m]; }
  return A[base + m * dims.K + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= dims.K || n >= dims.N) { return 0.0; }
  if (TRANS_B) { return B[base + n * dims.K + k]; }
  return B[base + k * dims.N + n];
}

@compute @workgroup_size(TS, TS)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = 4u * TS; // tile side
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  let aBase = wid.z * dims.M * dims.K;
  let bBase = wid.z * dims.K * dims.N;
  let tid = lid.y * TS + lid.x;
  var c0 = vec4<f32>(0.0);
  var c1 = vec4<f32>(0.0);
  var c2 = vec4<f32>(0.0);
  var c3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < dims.K; k0 += TK) {
    // Each invocation stages 4·TK/TS values of each operand, walking the operand's contiguous direction in memory.
    for (var e = tid; e < TK * T; e += TS * TS) {
      var m: u32; var ka: u32;
      if (TRANS_A) { m = e % T; ka = e / T; } else { m = e / TK; ka = e % TK; }
      As[ka * TS + m / 4u][m % 4u] = loadA(aBase, row0 + m, k0 + ka);
      var n: u32; var kb: u32;
      if (TRANS_B) { n = e / TK; kb = e % TK; } else { n = e % T; kb = e / T; }
      Bs[kb * TS + n / 4u][n % 4u] = loadB(bBase, k0 + kb, col0 + n);
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let a = As[k * TS + lid.y];
      let b = Bs[k * TS + lid.x];
      c0 = fma(vec4<f32>(a.x), b, c0);
      c1 = fma(vec4<f32>(a.y), b, c1);
      c2 = fma(vec4<f32>(a.z), b, c2);
      c3 = fma(vec4<f32>(a.w), b, c3);
    }
    workgroupBarrier();
  }
  let r0 = row0 + lid.y * 4u;
  let col = col0 + lid.x * 4u;
  let cBase = wid.z * dims.M * dims.N;
  store(cBase, r0, col, c0);
  store(cBase, r0 + 1u, col, c1);
  store(cBase, r0 + 2u, col, c2);
  store(cBase, r0 + 3u, col, c3);
}

fn store(base: u32, r: u32, c: u32, v: vec4<f32>) {
  if (r >= dims.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (c + j < dims.N) { C[base + r * dims.N + c + j] = v[j]; }
  }
}
