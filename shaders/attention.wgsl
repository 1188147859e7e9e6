// Scaled dot-product attention, fused: the kernel the scheduler substitutes for the composite attention() of
// src/graph/attention.ts (softmax(q·kᵀ·scale, mask)·v) where nothing else reads its intermediates, and that the
// parity tests check against it. No [Tq, Tk] matrix is stored: a workgroup holds 64 queries (one per invocation),
// walks the keys in tiles of TK that it stages, keys and values, in workgroup memory, and keeps for each query the
// running max, the running normaliser and the unnormalised output (the online softmax of Milakov & Gimelshein 2018,
// as in FlashAttention), rescaling them once per tile.
//   q [N, Tq, 4·DH4], k and v [N, Tk, 4·DH4]; LENGTHS: int32 [N], row n sees keys < lengths[n]; CAUSAL: query i sees keys
//   j <= i + Tk - Tq. A query that sees no key outputs zeros, as the masked softmax does.

#include attention_dims
override DH4: u32 = 4u; // head size / 4 (the host pads nothing: head sizes are multiples of 4), at most DH4_MAX
override CAUSAL: u32 = 0u;
// A function's arrays need a constant size; 2 tiles of 32 keys x 64 floats fill WebGPU's default 16 KiB. Values are
// vec4s: a quarter of the loads and multiply-adds of scalars, and on CPU drivers the per-query arrays stay small.
const DH4_MAX = 16u;
override WG: u32; // queries per workgroup
const TK = 32u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
#if LENGTHS
@group(0) @binding(4) var<storage, read> lengths: array<i32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
#else
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
#endif

var<workgroup> ks: array<vec4<f32>, TK * DH4_MAX>;
var<workgroup> vs: array<vec4<f32>, TK * DH4_MAX>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.y;
  let i = wid.x * WG + lid;
  let Tq = dims.Tq;
  let Tk = dims.Tk;
  // Keys this query sees, [0, end); the workgroup stages tiles up to wgEnd, the last key a causal query of it sees.
  // (wgEnd leaves out lengths: a bound read from storage would not be uniform, and the barriers below need one.)
  var end = Tk;
#if LENGTHS
  end = min(end, u32(max(lengths[n], 0)));
#endif
  var wgEnd = Tk;
  if (CAUSAL == 1u) {
    end = min(end, i + Tk - Tq + 1u);
    wgEnd = min(Tk, min(wid.x * WG + WG, Tq) + Tk - Tq);
  }
  var qi: array<vec4<f32>, DH4_MAX>;
  var o: array<vec4<f32>, DH4_MAX>;
  let qBase = (n * Tq + min(i, Tq - 1u)) * DH4;
  for (var d = 0u; d < DH4; d++) { qi[d] = q[qBase + d] * dims.scale; o[d] = vec4<f32>(0.0); }
  var m = -3.0e38;
  var l = 0.0;
  var s: array<f32, TK>;
  for (var t0 = 0u; t0 < wgEnd; t0 += TK) {
    workgroupBarrier(); // the previous tile is no longer read
    for (var e = lid; e < TK * DH4; e += WG) {
      let src = (n * Tk + min(t0 + e / DH4, Tk - 1u)) * DH4 + e % DH4;
      ks[e] = k[src];
      vs[e] = v[src];
    }
    workgroupBarrier();
    if (i < Tq && t0 < end) {
      let cnt = min(TK, end - t0);
      var mt = m;
      for (var j = 0u; j < cnt; j++) {
        var acc = vec4<f32>(0.0);
        for (var d = 0u; d < DH4; d++) { acc += qi[d] * ks[j * DH4 + d]; }
        let dot = acc.x + acc.y + acc.z + acc.w;
        s[j] = dot;
        mt = max(mt, dot);
      }
      let corr = exp(m - mt);
      l *= corr;
      for (var d = 0u; d < DH4; d++) { o[d] *= corr; }
      for (var j = 0u; j < cnt; j++) {
        let p = exp(s[j] - mt);
        l += p;
        for (var d = 0u; d < DH4; d++) { o[d] += p * vs[j * DH4 + d]; }
      }
      m = mt;
    }
  }
  if (i >= Tq) { return; }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  let oBase = (n * Tq + i) * DH4;
  for (var d = 0u; d < DH4; d++) { out[oBase + d] = o[d] * inv; }
}
