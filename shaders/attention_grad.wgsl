// The backward of fused attention (shaders/attention.wgsl), recomputing the weights instead of reading a stored
// [Tq, Tk] matrix. With s_ij = scale·q_i·k_j over the keys query i sees, p_ij = exp(s_ij - L_i), dp_ij = dy_i·v_j:
//   STATS  one invocation per query: L_i = log Σ_j exp(s_ij) and D_i = Σ_j p_ij·dp_ij = dy_i·o_i (o: the forward's
//          output, so D costs no pass over the keys), into `stats` [N, Tq, 2] (a query that sees no key gets
//          L = 3e38, so every p of it is 0);
//   DQ     one invocation per query: dq_i = scale · Σ_j p_ij (dp_ij - D_i) k_j, over tiles of keys and values;
//   DK     one invocation per key:   dk_j = scale · Σ_i p_ij (dp_ij - D_i) q_i, over tiles of queries, dy and stats;
//   DV     one invocation per key:   dv_j = Σ_i p_ij dy_i.
// One plan step runs STATS once and then the passes of the gradients asked for (src/backends/webgpu/attention.ts).
// Each gradient is one sum per output row written by one invocation: no atomics, so the result is the same on every
// run. Why this shape on lavapipe (a CPU driver running 8 invocations as one AVX2 vector): an invocation keeps its own
// row (q_i, dy_i or k_j, v_j) in registers, and the rows of the other side come from workgroup memory at an index
// that is the same in every lane, which llvmpipe loads once and broadcasts; a lane-dependent index would cost a scalar
// loop over the lanes per load. Loops over rows stay rolled (only the DH4 loops unroll, DH4 being a pipeline
// constant), so a pipeline compiles in seconds even with a cold shader cache.
// Masks as in the forward: LENGTHS, row n sees keys < lengths[n]; CAUSAL, query i sees keys j <= i + Tk - Tq.
// STATS is its own variant (it writes `stats`); the other three are one variant chosen by MODE.

#include attention_dims
override DH4: u32 = 4u; // head size / 4, at most DH4_MAX
override CAUSAL: u32 = 0u;
override MODE: u32 = 1u; // 1: DQ, 2: DK, 3: DV
override WG: u32; // output rows per workgroup, one per invocation
override TILE: u32; // rows per staged tile, at most min(64, TILE_V4 / DH4)
const DH4_MAX = 16u;
// Two staged arrays of TILE_V4 vec4s and two of 64 floats stay under WebGPU's default 16 KiB of workgroup memory.
const TILE_V4 = 448u;

@group(0) @binding(0) var<uniform> dims: Dims;
#if STATS
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
#else
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> dy: array<vec4<f32>>;
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

var<workgroup> ta: array<vec4<f32>, TILE_V4>; // keys (STATS, DQ) or queries (DK, DV)
var<workgroup> tb: array<vec4<f32>, TILE_V4>; // values (DQ) or dy (DK, DV)
var<workgroup> tl: array<f32, 64>; // L of the staged queries (DK, DV)
var<workgroup> td: array<f32, 64>; // D of the staged queries (DK)

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

/**
 * The keys some query of the workgroup starting at query i0 may see: a bound that is the same in every invocation
 * (the barriers need one), so it leaves out lengths, which are read from storage.
 */
fn tileEnd(i0: u32) -> u32 {
  if (CAUSAL == 1u) { return min(dims.Tk, min(i0 + WG, dims.Tq) + dims.Tk - dims.Tq); }
  return dims.Tk;
}

/** Stages rows [t0, t0 + TILE) of x, clamped to its last row, into ta (b: false) or tb (b: true). */
fn stage(lid: u32, base: u32, rows: u32, t0: u32, b: bool) {
  for (var e = lid; e < TILE * DH4; e += WG) {
    let src = (base + min(t0 + e / DH4, rows - 1u)) * DH4 + e % DH4;
#if STATS
    ta[e] = k[src];
#else
    if (MODE == 1u) {
      if (b) { tb[e] = v[src]; } else { ta[e] = k[src]; }
    } else {
      if (b) { tb[e] = dy[src]; } else { ta[e] = q[src]; }
    }
#endif
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y;
  let Tq = dims.Tq;
  let Tk = dims.Tk;
#if STATS
  let i = wid.x * WG + lid;
  let ic = min(i, Tq - 1u);
  let end = keyEnd(n, ic);
  var qi: array<vec4<f32>, DH4_MAX>;
  let qb = (n * Tq + ic) * DH4;
  for (var d = 0u; d < DH4; d++) { qi[d] = q[qb + d] * dims.scale; }
  // Per tile: its scores, their max, then one exp per score (a running max per key would take two).
  var m = -3.0e38;
  var l = 0.0;
  var s: array<f32, 64>;
  for (var t0 = 0u; t0 < tileEnd(wid.x * WG); t0 += TILE) {
    workgroupBarrier();
    stage(lid, n * Tk, Tk, t0, false);
    workgroupBarrier();
    let cnt = min(TILE, max(end, t0) - t0);
    var mt = m;
    for (var j = 0u; j < cnt; j++) {
      var acc = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { acc += qi[d] * ta[j * DH4 + d]; }
      s[j] = acc.x + acc.y + acc.z + acc.w;
      mt = max(mt, s[j]);
    }
    var lt = 0.0;
    for (var j = 0u; j < cnt; j++) { lt += exp(s[j] - mt); }
    l = l * exp(m - mt) + lt;
    m = mt;
  }
  if (i >= Tq) { return; }
  var D = vec4<f32>(0.0);
  for (var d = 0u; d < DH4; d++) { D += dy[qb + d] * o[qb + d]; }
  stats[(n * Tq + i) * 2u] = select(3.0e38, m + log(l), end > 0u);
  stats[(n * Tq + i) * 2u + 1u] = D.x + D.y + D.z + D.w;
#else
  var acc: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { acc[d] = vec4<f32>(0.0); }
  if (MODE == 1u) {
    let i = wid.x * WG + lid;
    let ic = min(i, Tq - 1u);
    let end = keyEnd(n, ic);
    var qi: array<vec4<f32>, DH4_MAX>;
    var dyi: array<vec4<f32>, DH4_MAX>;
    let qb = (n * Tq + ic) * DH4;
    for (var d = 0u; d < DH4; d++) { qi[d] = q[qb + d] * dims.scale; dyi[d] = dy[qb + d]; }
    let L = stats[(n * Tq + ic) * 2u];
    let D = stats[(n * Tq + ic) * 2u + 1u];
    for (var t0 = 0u; t0 < tileEnd(wid.x * WG); t0 += TILE) {
      workgroupBarrier();
      stage(lid, n * Tk, Tk, t0, false);
      stage(lid, n * Tk, Tk, t0, true);
      workgroupBarrier();
      let cnt = min(TILE, max(end, t0) - t0);
      for (var j = 0u; j < cnt; j++) {
        var sv = vec4<f32>(0.0);
        var dpv = vec4<f32>(0.0);
        for (var d = 0u; d < DH4; d++) { sv += qi[d] * ta[j * DH4 + d]; dpv += dyi[d] * tb[j * DH4 + d]; }
        let p = exp(sv.x + sv.y + sv.z + sv.w - L);
        let ds = p * (dpv.x + dpv.y + dpv.z + dpv.w - D);
        for (var d = 0u; d < DH4; d++) { acc[d] += ds * ta[j * DH4 + d]; }
      }
    }
    if (i < Tq) {
      for (var d = 0u; d < DH4; d++) { out[qb + d] = acc[d] * dims.scale; }
    }
    return;
  }
  let r = wid.x * WG + lid; // this invocation's key
  let rc = min(r, Tk - 1u);
  let kb = (n * Tk + rc) * DH4;
  var kj: array<vec4<f32>, DH4_MAX>;
  var vj: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { kj[d] = k[kb + d] * dims.scale; vj[d] = v[kb + d]; }
  // The queries that see key r: from the first one a causal mask lets see it, none if r is past the row's length.
  // The workgroup's tiles start at the first query that sees its first key.
  var first = 0u;
  var wgFirst = 0u;
  if (CAUSAL == 1u) {
    if (rc + Tq > Tk) { first = rc + Tq - Tk; }
    if (wid.x * WG + Tq > Tk) { wgFirst = min(wid.x * WG + Tq - Tk, Tq); }
  }
  if (rc >= rowLength(n)) { first = Tq; }
  for (var t0 = wgFirst; t0 < Tq; t0 += TILE) {
    workgroupBarrier();
    stage(lid, n * Tq, Tq, t0, false);
    stage(lid, n * Tq, Tq, t0, true);
    if (lid < TILE) {
      let st = (n * Tq + min(t0 + lid, Tq - 1u)) * 2u;
      tl[lid] = stats[st];
      td[lid] = stats[st + 1u];
    }
    workgroupBarrier();
    let lo = max(first, t0) - t0;
    let cnt = min(TILE, Tq - t0);
    for (var ii = lo; ii < cnt; ii++) {
      var sv = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { sv += ta[ii * DH4 + d] * kj[d]; }
      let p = exp(sv.x + sv.y + sv.z + sv.w - tl[ii]);
      if (MODE == 3u) {
        for (var d = 0u; d < DH4; d++) { acc[d] += p * tb[ii * DH4 + d]; }
      } else {
        var dpv = vec4<f32>(0.0);
        for (var d = 0u; d < DH4; d++) { dpv += tb[ii * DH4 + d] * vj[d]; }
        let ds = p * (dpv.x + dpv.y + dpv.z + dpv.w - td[ii]);
        for (var d = 0u; d < DH4; d++) { acc[d] += ds * ta[ii * DH4 + d]; }
      }
    }
  }
  if (r >= Tk) { return; }
  let scale = select(1.0, dims.scale, MODE == 2u);
  for (var d = 0u; d < DH4; d++) { out[kb + d] = acc[d] * scale; }
#endif
}
