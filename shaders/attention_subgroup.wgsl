// Fused attention for adapters whose subgroups are 8 lanes wide, as CPU SIMD drivers such as lavapipe's are: the
// same passes as shaders/attention.wgsl (FWD) and shaders/attention_grad.wgsl (STATS, and DQ, DK, DV by MODE), with the
// same arithmetic and masks, for workgroups of one 8-lane subgroup.
//
// Why: llvmpipe runs the 8 lanes as one AVX2 vector and turns every load into a loop over the lanes (about ten
// instructions per float), even where all lanes read the same address, so a kernel in which each lane reads every key
// (or query) row spends most of its time loading. Here each lane owns one output row (a query for FWD, STATS and DQ;
// a key for DK and DV) in registers and, per block of 8 rows of the other side, loads just one of them; the other 7
// reach it by subgroupBroadcast with a constant lane, a register shuffle. Loads per multiply-add drop 8-fold. Loops
// over blocks stay rolled, so a pipeline compiles in seconds with a cold shader cache.
enable subgroups;

#include attention_dims
override DH4: u32 = 4u; // head size / 4, at most DH4_MAX
override CAUSAL: u32 = 0u;
override MODE: u32 = 1u; // without FWD or STATS: 1 DQ, 2 DK, 3 DV
const DH4_MAX = 16u;
const B = 8u; // the subgroup and workgroup size, and the rows per block of the other side

@group(0) @binding(0) var<uniform> dims: Dims;
#if FWD
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
#elif STATS
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
// lengths: after q, k, v in FWD (out then follows it), last in the other passes.
#if FWD_LENGTHS
@group(0) @binding(4) var<storage, read> lengths: array<i32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
#elif FWD
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
#endif
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

/** The keys some query of the block from query i0 may see (lengths aside: the bound must be the same in every lane). */
fn blockEnd(i0: u32) -> u32 {
  if (CAUSAL == 1u) { return min(dims.Tk, min(i0 + B, dims.Tq) + dims.Tk - dims.Tq); }
  return dims.Tk;
}

// Lane c's x. The lane must be a constant; c is the same in every lane, so the switch is a uniform branch (or folds
// away where the loop over c unrolls).
fn bc(x: vec4<f32>, c: u32) -> vec4<f32> {
  switch (c) {
    case 0u: { return subgroupBroadcast(x, 0u); }
    case 1u: { return subgroupBroadcast(x, 1u); }
    case 2u: { return subgroupBroadcast(x, 2u); }
    case 3u: { return subgroupBroadcast(x, 3u); }
    case 4u: { return subgroupBroadcast(x, 4u); }
    case 5u: { return subgroupBroadcast(x, 5u); }
    case 6u: { return subgroupBroadcast(x, 6u); }
    default: { return subgroupBroadcast(x, 7u); }
  }
}

fn bc1(x: f32, c: u32) -> f32 {
  switch (c) {
    case 0u: { return subgroupBroadcast(x, 0u); }
    case 1u: { return subgroupBroadcast(x, 1u); }
    case 2u: { return subgroupBroadcast(x, 2u); }
    case 3u: { return subgroupBroadcast(x, 3u); }
    case 4u: { return subgroupBroadcast(x, 4u); }
    case 5u: { return subgroupBroadcast(x, 5u); }
    case 6u: { return subgroupBroadcast(x, 6u); }
    default: { return subgroupBroadcast(x, 7u); }
  }
}

fn hsum(x: vec4<f32>) -> f32 { return x.x + x.y + x.z + x.w; }

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y;
  let Tq = dims.Tq;
  let Tk = dims.Tk;
  let r0 = wid.x * B; // the block's first output row
#if FWD
  let i = r0 + lid;
  let ic = min(i, Tq - 1u);
  let end = keyEnd(n, ic);
  let qb = (n * Tq + ic) * DH4;
  var qi: array<vec4<f32>, DH4_MAX>;
  var acc: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { qi[d] = q[qb + d] * dims.scale; acc[d] = vec4<f32>(0.0); }
  // The online softmax: per block of 8 keys, its scores and their max, then one exp per score.
  var m = -3.0e38;
  var l = 0.0;
  for (var t0 = 0u; t0 < blockEnd(r0); t0 += B) {
    let kb = (n * Tk + min(t0 + lid, Tk - 1u)) * DH4;
    var kr: array<vec4<f32>, DH4_MAX>;
    var vr: array<vec4<f32>, DH4_MAX>;
    for (var d = 0u; d < DH4; d++) { kr[d] = k[kb + d]; vr[d] = v[kb + d]; }
    var s: array<f32, B>;
    var mt = m;
    for (var c = 0u; c < B; c++) {
      var sv = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { sv += qi[d] * bc(kr[d], c); }
      s[c] = select(-3.0e38, hsum(sv), t0 + c < end);
      mt = max(mt, s[c]);
    }
    let corr = exp(m - mt);
    l *= corr;
    for (var d = 0u; d < DH4; d++) { acc[d] *= corr; }
    for (var c = 0u; c < B; c++) {
      let p = select(0.0, exp(s[c] - mt), t0 + c < end);
      l += p;
      for (var d = 0u; d < DH4; d++) { acc[d] += p * bc(vr[d], c); }
    }
    m = mt;
  }
  if (i < Tq) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var d = 0u; d < DH4; d++) { out[qb + d] = acc[d] * inv; }
  }
#elif STATS
  let i = r0 + lid;
  let ic = min(i, Tq - 1u);
  let end = keyEnd(n, ic);
  let qb = (n * Tq + ic) * DH4;
  var qi: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { qi[d] = q[qb + d] * dims.scale; }
  var m = -3.0e38;
  var l = 0.0;
  for (var t0 = 0u; t0 < blockEnd(r0); t0 += B) {
    let kb = (n * Tk + min(t0 + lid, Tk - 1u)) * DH4;
    var kr: array<vec4<f32>, DH4_MAX>;
    for (var d = 0u; d < DH4; d++) { kr[d] = k[kb + d]; }
    var s: array<f32, B>;
    var mt = m;
    for (var c = 0u; c < B; c++) {
      var sv = vec4<f32>(0.0);
      for (var d = 0u; d < DH4; d++) { sv += qi[d] * bc(kr[d], c); }
      s[c] = select(-3.0e38, hsum(sv), t0 + c < end);
      mt = max(mt, s[c]);
    }
    var lt = 0.0;
    for (var c = 0u; c < B; c++) { lt += select(0.0, exp(s[c] - mt), t0 + c < end); }
    l = l * exp(m - mt) + lt;
    m = mt;
  }
  if (i < Tq) {
    var D = vec4<f32>(0.0);
    for (var d = 0u; d < DH4; d++) { D += dy[qb + d] * o[qb + d]; }
    stats[(n * Tq + i) * 2u] = select(3.0e38, m + log(l), end > 0u);
    stats[(n * Tq + i) * 2u + 1u] = hsum(D);
  }
#else
  var acc: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { acc[d] = vec4<f32>(0.0); }
  if (MODE == 1u) {
    let i = r0 + lid;
    let ic = min(i, Tq - 1u);
    let end = keyEnd(n, ic);
    let qb = (n * Tq + ic) * DH4;
    var qi: array<vec4<f32>, DH4_MAX>;
    var dyi: array<vec4<f32>, DH4_MAX>;
    for (var d = 0u; d < DH4; d++) { qi[d] = q[qb + d] * dims.scale; dyi[d] = dy[qb + d]; }
    let L = stats[(n * Tq + ic) * 2u];
    let D = stats[(n * Tq + ic) * 2u + 1u];
    for (var t0 = 0u; t0 < blockEnd(r0); t0 += B) {
      let kb = (n * Tk + min(t0 + lid, Tk - 1u)) * DH4;
      var kr: array<vec4<f32>, DH4_MAX>;
      var vr: array<vec4<f32>, DH4_MAX>;
      for (var d = 0u; d < DH4; d++) { kr[d] = k[kb + d]; vr[d] = v[kb + d]; }
      for (var c = 0u; c < B; c++) {
        var sv = vec4<f32>(0.0);
        var dpv = vec4<f32>(0.0);
        var kc: array<vec4<f32>, DH4_MAX>;
        for (var d = 0u; d < DH4; d++) {
          kc[d] = bc(kr[d], c);
          sv += qi[d] * kc[d];
          dpv += dyi[d] * bc(vr[d], c);
        }
        let ds = select(0.0, exp(hsum(sv) - L) * (hsum(dpv) - D), t0 + c < end);
        for (var d = 0u; d < DH4; d++) { acc[d] += ds * kc[d]; }
      }
    }
    if (i < Tq) {
      for (var d = 0u; d < DH4; d++) { out[qb + d] = acc[d] * dims.scale; }
    }
    return;
  }
  let r = r0 + lid; // this lane's key
  let rc = min(r, Tk - 1u);
  let kb = (n * Tk + rc) * DH4;
  var kj: array<vec4<f32>, DH4_MAX>;
  var vj: array<vec4<f32>, DH4_MAX>;
  for (var d = 0u; d < DH4; d++) { kj[d] = k[kb + d] * dims.scale; vj[d] = v[kb + d]; }
  // The queries that see key r: from the first one a causal mask lets see it, none if r is past the row's length;
  // the blocks start at the first query that sees the block's first key.
  var first = 0u;
  var blockFirst = 0u;
  if (CAUSAL == 1u) {
    if (rc + Tq > Tk) { first = rc + Tq - Tk; }
    if (r0 + Tq > Tk) { blockFirst = min(r0 + Tq - Tk, Tq); }
  }
  if (rc >= rowLength(n)) { first = Tq; }
  for (var t0 = blockFirst; t0 < Tq; t0 += B) {
    let row = n * Tq + min(t0 + lid, Tq - 1u);
    var qr: array<vec4<f32>, DH4_MAX>;
    var dyr: array<vec4<f32>, DH4_MAX>;
    for (var d = 0u; d < DH4; d++) { qr[d] = q[row * DH4 + d]; dyr[d] = dy[row * DH4 + d]; }
    let Lr = stats[row * 2u];
    let Dr = stats[row * 2u + 1u];
    for (var c = 0u; c < B; c++) {
      let seen = t0 + c >= first && t0 + c < Tq;
      var sv = vec4<f32>(0.0);
      var qc: array<vec4<f32>, DH4_MAX>;
      for (var d = 0u; d < DH4; d++) { qc[d] = bc(qr[d], c); sv += qc[d] * kj[d]; }
      let p = select(0.0, exp(hsum(sv) - bc1(Lr, c)), seen);
      if (MODE == 3u) {
        for (var d = 0u; d < DH4; d++) { acc[d] += p * bc(dyr[d], c); }
      } else {
        var dpv = vec4<f32>(0.0);
        for (var d = 0u; d < DH4; d++) { dpv += bc(dyr[d], c) * vj[d]; }
        let ds = p * (hsum(dpv) - bc1(Dr, c));
        for (var d = 0u; d < DH4; d++) { acc[d] += ds * qc[d]; }
      }
    }
  }
  if (r < Tk) {
    let scale = select(1.0, dims.scale, MODE == 2u);
    for (var d = 0u; d < DH4; d++) { out[kb + d] = acc[d] * scale; }
  }
#endif
}
