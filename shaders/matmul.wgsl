// Tiled GEMM: C[b] = op(A[b]) · op(B[b]), op = identity or transpose (override TRANS_A / TRANS_B), row-major.
// A workgroup of TS x TS invocations computes a (8·TS) x (8·TS) tile of C, each invocation an 8x8 block held in
// sixteen vec4 registers: 64 FMAs for every four vec4 loads from workgroup memory. (Constant indices only, so
// LLVM-based drivers such as lavapipe keep the block in registers; an 8x8 block ran 1.9x faster there than 4x4.)
// Operands are staged through workgroup memory TK deep in K, stored k-major so each invocation reads its rows of A
// and columns of B as whole vec4s. Out-of-range reads load 0 and writes are guarded, so any M, N, K is correct,
// sizes that divide no tile included. TS and TK are override constants chosen per adapter.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TS: u32 = 16u;
override TK: u32 = 16u;

struct Dims { M: u32, N: u32, K: u32, batch: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<vec4<f32>, TK * TS * 2u>;
var<workgroup> Bs: array<vec4<f32>, TK * TS * 2u>;

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
  let T = 8u * TS; // tile side
  let V = 2u * TS; // vec4s per tile row
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  let aBase = wid.z * dims.M * dims.K;
  let bBase = wid.z * dims.K * dims.N;
  let tid = lid.y * TS + lid.x;
  var c: array<vec4<f32>, 16>;
  for (var k0 = 0u; k0 < dims.K; k0 += TK) {
    // Each invocation stages 4·TK/TS values of each operand, walking the operand's contiguous direction in memory.
    for (var e = tid; e < TK * T; e += TS * TS) {
      var m: u32; var ka: u32;
      if (TRANS_A) { m = e % T; ka = e / T; } else { m = e / TK; ka = e % TK; }
      As[ka * V + m / 4u][m % 4u] = loadA(aBase, row0 + m, k0 + ka);
      var n: u32; var kb: u32;
      if (TRANS_B) { n = e / TK; kb = e % TK; } else { n = e % T; kb = e / T; }
      Bs[kb * V + n / 4u][n % 4u] = loadB(bBase, k0 + kb, col0 + n);
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let a0 = As[k * V + lid.y * 2u];
      let a1 = As[k * V + lid.y * 2u + 1u];
      let b0 = Bs[k * V + lid.x * 2u];
      let b1 = Bs[k * V + lid.x * 2u + 1u];
      c[0] = fma(vec4<f32>(a0.x), b0, c[0]); c[1] = fma(vec4<f32>(a0.x), b1, c[1]);
      c[2] = fma(vec4<f32>(a0.y), b0, c[2]); c[3] = fma(vec4<f32>(a0.y), b1, c[3]);
      c[4] = fma(vec4<f32>(a0.z), b0, c[4]); c[5] = fma(vec4<f32>(a0.z), b1, c[5]);
      c[6] = fma(vec4<f32>(a0.w), b0, c[6]); c[7] = fma(vec4<f32>(a0.w), b1, c[7]);
      c[8] = fma(vec4<f32>(a1.x), b0, c[8]); c[9] = fma(vec4<f32>(a1.x), b1, c[9]);
      c[10] = fma(vec4<f32>(a1.y), b0, c[10]); c[11] = fma(vec4<f32>(a1.y), b1, c[11]);
      c[12] = fma(vec4<f32>(a1.z), b0, c[12]); c[13] = fma(vec4<f32>(a1.z), b1, c[13]);
      c[14] = fma(vec4<f32>(a1.w), b0, c[14]); c[15] = fma(vec4<f32>(a1.w), b1, c[15]);
    }
    workgroupBarrier();
  }
  let r0 = row0 + lid.y * 8u;
  let col = col0 + lid.x * 8u;
  let cBase = wid.z * dims.M * dims.N;
  for (var i = 0u; i < 8u; i++) {
    store(cBase, r0 + i, col, c[2u * i]);
    store(cBase, r0 + i, col + 4u, c[2u * i + 1u]);
  }
}

fn store(base: u32, r: u32, c: u32, v: vec4<f32>) {
  if (r >= dims.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (c + j < dims.N) { C[base + r * dims.N + c + j] = v[j]; }
  }
}
