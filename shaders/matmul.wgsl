// Tiled GEMM: C[b] = op(A[b]) · op(B[b]), op = identity or transpose (override TRANS_A / TRANS_B), row-major.
// A 64x64 output tile per workgroup of 16x16 invocations, each accumulating a 4x4 block in registers; operands
// are staged through workgroup memory 16 deep in K. Out-of-range reads load 0 and writes are guarded, so any
// M, N, K is correct (sizes that divide no tile included).

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Dims { M: u32, N: u32, K: u32, batch: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

const TM = 64u;
const TN = 64u;
const TK = 16u;
var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]

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

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let aBase = wid.z * dims.M * dims.K;
  let bBase = wid.z * dims.K * dims.N;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < dims.K; k0 += TK) {
    for (var r = 0u; r < 4u; r++) {
      let e = tid + r * 256u;
      // Walk each operand along its contiguous direction in memory so neighbouring invocations read neighbours.
      if (TRANS_A) { As[(e / TM) * TM + e % TM] = loadA(aBase, row0 + e % TM, k0 + e / TM); }
      else { As[(e % TK) * TM + e / TK] = loadA(aBase, row0 + e / TK, k0 + e % TK); }
      if (TRANS_B) { Bs[(e % TK) * TN + e / TK] = loadB(bBase, k0 + e % TK, col0 + e / TK); }
      else { Bs[(e / TN) * TN + e % TN] = loadB(bBase, k0 + e / TN, col0 + e % TN); }
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[k * TM + lid.y * 4u + i]; }
      for (var j = 0u; j < 4u; j++) { b[j] = Bs[k * TN + lid.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]); }
      }
    }
    workgroupBarrier();
  }
  let cBase = wid.z * dims.M * dims.N;
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y * 4u + i;
    if (r >= dims.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + lid.x * 4u + j;
      if (c < dims.N) { C[cBase + r * dims.N + c] = acc[i * 4u + j]; }
    }
  }
}
