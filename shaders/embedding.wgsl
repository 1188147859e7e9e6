// Embedding lookup and its gradient.
//   forward: out[i, d] = table[ids[i], d], one invocation per CHUNK elements of a row (vec4s with VEC4).
//   gradient, d table [V, D]: row v is the sum of dy's rows at the positions i whose id is v, added in increasing i,
//   built in three launches, none of which scatters or uses atomics, so every sum is one fixed sequence of additions
//   (the CPU reference's) and repeated ids accumulate deterministically:
//     COUNT   one invocation per id v: counts[v] = how many positions hold v;
//     LIST    one invocation per id v: its offset (the counts of the ids before it) and, in order, its positions;
//     GATHER  one invocation per (v, d) (four d with VEC4): the sum of dy[i, d] over v's positions.
//   Scanning the ids once per vocabulary entry costs V·N compares, against V·N·D when every (v, d) scanned them.

#include embedding_dims
override WG: u32;
@group(0) @binding(0) var<uniform> dims: Dims;

// VEC4 (D a multiple of 4): the lookup and GATHER move four features an invocation, each still summed over the same
// positions in the same order. On lavapipe a vec4 load or store costs one lane-loop, as a float's does.
#if VEC4
alias Row = vec4<f32>;
const LANES = 4u;
#else
alias Row = f32;
const LANES = 1u;
#endif

#if COUNT
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>; // [0, V): counts; [V, 2V): offsets (LIST)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.x;
  if (v >= dims.V) { return; }
  var c = 0u;
  for (var i = 0u; i < dims.N; i++) { c += select(0u, 1u, ids[i] == i32(v)); }
  counts[v] = c;
}
#elif LIST
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> positions: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.x;
  if (v >= dims.V) { return; }
  var off = 0u;
  for (var u = 0u; u < v; u++) { off += counts[u]; }
  counts[dims.V + v] = off;
  for (var i = 0u; i < dims.N; i++) {
    if (ids[i] == i32(v)) { positions[off] = i; off++; }
  }
}
#elif GATHER
@group(0) @binding(1) var<storage, read> counts: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> dy: array<Row>;
@group(0) @binding(4) var<storage, read_write> out: array<Row>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let D = dims.D / LANES;
  let d = gid.x;
  let v = gid.y;
  if (d >= D) { return; }
  let off = counts[dims.V + v];
  var s = Row(0.0);
  for (var c = 0u; c < counts[v]; c++) { s += dy[positions[off + c] * D + d]; }
  out[v * D + d] = s;
}
#else
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<Row>;
// Each invocation copies up to CHUNK elements (vec4s with VEC4) of one row: on lavapipe, which runs a workgroup's
// invocations in 8-lane steps on one thread, one id load and index computation per chunk rather than per element
// (GPT's [16, 64] ids into [96, 128]: 0.70 ms a float an invocation, 0.41 a vec4, 0.24-0.32 chunks of 16 vec4s).
override CHUNK: u32;
@group(0) @binding(3) var<storage, read_write> out: array<Row>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let D = dims.D / LANES;
  let chunks = (D + CHUNK - 1u) / CHUNK;
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= dims.N * chunks) { return; }
  let i = o / chunks;
  let first = (o - i * chunks) * CHUNK;
  // Ids are range-checked on the host (checkFeeds); the clamp only keeps a computed id inside the table.
  let id = u32(clamp(ids[i], 0, i32(dims.V) - 1));
  for (var d = first; d < min(first + CHUNK, D); d++) { out[i * D + d] = table[id * D + d]; }
}
#endif
