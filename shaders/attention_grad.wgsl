// The backward of fused attention (shaders/attention.wgsl), recomputing the weights instead of reading a stored
// [Tq, Tk] matrix. With s_ij = scale·q_i·k_j over the keys query i sees, p_ij = exp(s_ij - L_i), dp_ij = dy_i·v_j:
//   STATS  one invocation per query: L_i = log Σ_j exp(s_ij) (a running max keeps it finite) and D_i = Σ_j p_ij·dp_ij,
//          into `stats` [N, Tq, 2], which the three launches below read (a query that sees no key gets L = 3e38, so
//          every p of it is 0);
//   DQ     one invocation per query: dq_i = scale · Σ_j p_ij (dp_ij - D_i) k_j;
//   DK     one invocation per key:   dk_j = scale · Σ_i p_ij (dp_ij - D_i) q_i, over the queries that see key j;
//   DV     one invocation per key:   dv_j = Σ_i p_ij dy_i.
// Masks as in the forward: LENGTHS, row n sees keys < lengths[n]; CAUSAL, query i sees keys j <= i + Tk - Tq.
// STATS is its own variant (it writes `stats`); the other three are one variant chosen by MODE.

#include attention_dims
override DH4: u32 = 4u; // head size / 4, at most DH4_MAX
override CAUSAL: u32 = 0u;
override MODE: u32 = 1u; // 1: DQ, 2: DK, 3: DV
const DH4_MAX = 16u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> dy: array<vec4<f32>>;
#if STATS
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
#else
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;
#endif
// lengths comes last, after the variant's own bindings (STATS_LENGTHS: STATS and LENGTHS; GRAD_LENGTHS: the others).
#if STATS_LENGTHS
@group(0) @binding(6) var<storage, read> lengths: array<i32>;
#endif
#if GRAD_LENGTHS
@group(0) @binding(7) var<storage, read> lengths: array<i32>;
#endif

/** How many keys row n has (its length, or all of them). */
fn rowLength(n: u32) -> u32 {
#if LENGTHS
  return min(dims.Tk, u32(max(lengths[n], 0)));
#else
  return dims.Tk;
#endif
}

/** The keys query i of row n sees: [0, keyEnd). */
fn keyEnd(n: u32, i: u32) -> u32 {
  var end = rowLength(n);
  if (CAUSAL == 1u) { end = min(end, i + dims.Tk - dims.Tq + 1u); }
  return end;
}

fn qk(qi: u32, kj: u32) -> f32 {
  var acc = vec4<f32>(0.0);
  for (var d = 0u; d < DH4; d++) { acc += q[qi + d] * k[kj + d]; }
  return dims.scale * (acc.x + acc.y + acc.z + acc.w);
}

fn dyv(qi: u32, vj: u32) -> f32 {
  var acc = vec4<f32>(0.0);
  for (var d = 0u; d < DH4; d++) { acc += dy[qi + d] * v[vj + d]; }
  return acc.x + acc.y + acc.z + acc.w;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y;
  let r = wid.x * 64u + lid; // a query (STATS, DQ) or a key (DK, DV)
  let Tq = dims.Tq;
  let Tk = dims.Tk;
#if STATS
  if (r >= Tq) { return; }
  let qi = (n * Tq + r) * DH4;
  let end = keyEnd(n, r);
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0u; j < end; j++) {
    let s = qk(qi, (n * Tk + j) * DH4);
    let mn = max(m, s);
    l = l * exp(m - mn) + exp(s - mn);
    m = mn;
  }
  let L = select(3.0e38, m + log(l), end > 0u);
  var D = 0.0;
  for (var j = 0u; j < end; j++) {
    let kj = (n * Tk + j) * DH4;
    D += exp(qk(qi, kj) - L) * dyv(qi, kj);
  }
  stats[(n * Tq + r) * 2u] = L;
  stats[(n * Tq + r) * 2u + 1u] = D;
#else
  var acc: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { acc[d] = vec4<f32>(0.0); }
  if (MODE == 1u) {
    if (r >= Tq) { return; }
    let qi = (n * Tq + r) * DH4;
    let L = stats[(n * Tq + r) * 2u];
    let D = stats[(n * Tq + r) * 2u + 1u];
    for (var j = 0u; j < keyEnd(n, r); j++) {
      let kj = (n * Tk + j) * DH4;
      let ds = exp(qk(qi, kj) - L) * (dyv(qi, kj) - D) * dims.scale;
      for (var d = 0u; d < DH4; d++) { acc[d] += ds * k[kj + d]; }
    }
    for (var d = 0u; d < DH4; d++) { out[qi + d] = acc[d]; }
    return;
  }
  if (r >= Tk) { return; }
  let kj = (n * Tk + r) * DH4;
  // The queries that see key r: from the first one a causal mask lets see it, none if r is past the row's length.
  var first = 0u;
  if (CAUSAL == 1u && r + Tq > Tk) { first = r + Tq - Tk; }
  if (r >= rowLength(n)) { first = Tq; }
  for (var i = first; i < Tq; i++) {
    let qi = (n * Tq + i) * DH4;
    let p = exp(qk(qi, kj) - stats[(n * Tq + i) * 2u]);
    if (MODE == 2u) {
      let ds = p * (dyv(qi, kj) - stats[(n * Tq + i) * 2u + 1u]) * dims.scale;
      for (var d = 0u; d < DH4; d++) { acc[d] += ds * q[qi + d]; }
    } else {
      for (var d = 0u; d < DH4; d++) { acc[d] += p * dy[qi + d]; }
    }
  }
  for (var d = 0u; d < DH4; d++) { out[kj + d] = acc[d]; }
#endif
}
