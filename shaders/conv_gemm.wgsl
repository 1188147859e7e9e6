// Implicit-GEMM convolution: the three GEMMs of a conv layer, with the operand that im2col would have materialised
// gathered from the image (or from dy) as the k loop reaches it, so no [C·KH·KW, N·OH·OW] column matrix is written
// or read. One pass per define:
//   FWD  y[n,o,p]       = Σ_k w[o,k] · x̂[k,(n,p)]              M = O, N = NB·OH·OW, K = C·KH·KW
//   DX   dx[n,c,h,w]    = Σ_(o,i,j) w[o,c,i,j] · dŷ[(o,i,j),(n,h,w)]  M = C, N = NB·H·W,  K = O·KH·KW
//   DW   dw[o,(c,i,j)]  = Σ_(n,p) dy[n,o,p] · x̂[(n,p),(c,i,j)]  M = O, N = C·KH·KW, K = NB·OH·OW
// where x̂ is the receptive field of output p (zero in the padding) and dŷ[(o,i,j),(n,h,w)] is dy at the output whose
// tap (i, j) reads pixel (h, w), zero where none does (the stride does not divide, or it falls off the output).
//
// The tiling is matmul_subgroup.wgsl's, for the same reason (llvmpipe runs the 8 lanes as one AVX2 vector and any
// per-lane load is a scalar loop): one 8-lane workgroup computes a TM x (8·CW) tile; each lane loads TM / 8 values of
// the A operand and shares them by subgroupBroadcast (without SUBGROUP, on adapters without subgroups, each lane loads
// all eight itself), and gathers its own CW columns of the B operand. The gather is where the window geometry goes: a
// lane decodes its columns once, before the k loop, into vec4s of offsets, and per k only adds the tap's offset and
// tests the bounds. All geometry is override constants, so the divisions by it compile to multiplies.
//
// DW's reduction runs over the whole batch (50k long for a 28x28 layer at batch 64) with only ceil(M/TM)·ceil(N/8CW)
// tiles: the launch splits K into dims.splits chunks (grid z), each writing a partial [M, N] to scratch, summed by a
// reduce launch after. The output store writes NCHW directly (y and dx), with FWD's bias and activation applied.
//
// K4 (with SUBGROUP): four k a step, each accumulator updated by one chain of four multiply-adds (chain4 in
// gemm_subgroup.wgsl), for matmul_subgroup.wgsl's reason: llvmpipe loads, masks and stores an accumulator on every
// update, and the chain pays that once per four k. A row of k (INNER steps) rarely holds a multiple of four, so the
// k walk crosses rows inside a step, rebuilding the row's geometry where one ends; the k order, and so every sum, is
// the one-k loop's.
#if SUBGROUP
enable subgroups;
#endif

#include window_geometry
override C: u32;
override O: u32;
// Columns per image of the output (FWD: OH·OW, DX: H·W, DW: N, so one "image").
override PC: u32;

#include conv_dims
@group(0) @binding(0) var<uniform> dims: Dims;
#if VEC_A
// With K4, where a row's four k are adjacent and aligned in A (FWD: K a multiple of 4; DW: also each chunk and an
// image's pixels): one vec4, one lane-loop instead of four.
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> A: array<f32>; // FWD, DX: w; DW: dy
#endif
@group(0) @binding(2) var<storage, read> B: array<f32>; // FWD, DW: x; DX: dy
#if VEC_Y
// Where an image's outputs (PC) and so N are whole fours: a lane's 4 columns of one row are one aligned vec4 of Y,
// one lane-loop and one bias load for four outputs.
@group(0) @binding(3) var<storage, read_write> Y: array<vec4<f32>>;
#else
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
#endif
#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#if ONES
// DW with the layer's bias gradient (db[o] = Σ dy[n,o,p]): one more column of B, PC, holding ones, whose outputs
// (split z's at z·M) go here. It lands in the last tile's unused columns wherever C·KH·KW is not a multiple of it.
@group(0) @binding(4) var<storage, read_write> DB: array<f32>;
#endif
#if EPILOGUE
override ACT: u32 = 0u;
#include unary
#endif

override KHW = KH * KW;

#if ROWS16
const TM = 16u;
#else
const TM = 32u;
#endif
#if X16
const CW = 16u; // SLIDE with 16-row tiles: 16 columns a lane (X16, with WIDE)
#elif WIDE
const CW = 8u;
#else
const CW = 4u;
#endif

// What a lane knows of its 4 columns, decoded once. FWD: base = n·C·H·W, (ha, wa) = (oh·SH - PH, ow·SW - PW).
// DX: base = n·O·OH·OW, (ha, wa) = (h + PH, w + PW). DW: base = c·H·W, (ha, wa) = (i·DH - PH, j·DW - PW).
// one: ONES's column of ones (1 there, else 0; its ha puts every load of it out of bounds).
struct Cols { base: vec4<u32>, ha: vec4<i32>, wa: vec4<i32>, one: vec4<f32> }

fn decode(n: vec4<u32>) -> Cols {
#if FWD
  let img = n / PC; let p = n % PC;
  return Cols(img * (C * H * W), vec4<i32>((p / OW) * SH) - i32(PH), vec4<i32>((p % OW) * SW) - i32(PW), vec4<f32>(0.0));
#elif DX
  let img = n / PC; let p = n % PC;
  return Cols(img * (O * OH * OW), vec4<i32>(p / W + PH), vec4<i32>(p % W + PW), vec4<f32>(0.0));
#else
  let c = n / KHW; let r = n % KHW;
#if ONES
  let one = n == vec4<u32>(PC);
  let ha = select(vec4<i32>((r / KW) * DH) - i32(PH), vec4<i32>(-i32(H * SH * OH) - 1), one);
  return Cols(c * (H * W), ha, vec4<i32>((r % KW) * DW) - i32(PW), select(vec4<f32>(0.0), vec4<f32>(1.0), one));
#else
  return Cols(c * (H * W), vec4<i32>((r / KW) * DH) - i32(PH), vec4<i32>((r % KW) * DW) - i32(PW), vec4<f32>(0.0));
#endif
#endif
}

// k runs as (outer, inner) with inner the fastest-moving image column: FWD and DX (c or o, i) then the tap column j,
// DW (n, oh) then ow. Everything that depends on the outer index (the image row, its bounds, the division by the
// stride in DX) is done once per row of INNER steps, leaving one add, two compares and the load per inner step.
#if DW
// DW's rows are pieces of DWI output columns (a divisor of OW of at most 8, chosen by the launch): a short inner loop
// with a constant trip count is unrolled by LLVM, and a 14- or 28-step one was measured 2-3x slower.
override DWI: u32 = 1u;
override INNER: u32 = DWI;
override AS: u32 = OH * OW; // A's stride between rows m
#elif DX
override INNER: u32 = KW;
override AS: u32 = KHW;
#else
override INNER: u32 = KW;
#endif

// The A offset of a row of k (m·AS added per lane).
fn aRow(ko: u32) -> u32 {
#if FWD
  return ko * KW;
#elif DX
  return (ko / KH) * C * KHW + (ko % KH) * KW;
#else
  let r = ko / (OW / DWI);
  return (r / OH) * O * OH * OW + (r % OH) * OW + (ko % (OW / DWI)) * DWI;
#endif
}

struct Row { at: vec4<u32>, ok: vec4<bool>, w0: i32 } // w0: DW's first output column of the row, times SW

fn rowOf(cols: Cols, ko: u32) -> Row {
#if FWD
  let h = cols.ha + vec4<i32>(i32((ko % KH) * DH));
  let ok = (h >= vec4<i32>(0)) & (h < vec4<i32>(i32(H)));
  return Row(cols.base + vec4<u32>((ko / KH) * H * W) + vec4<u32>(h) * W, ok, 0);
#elif DX
  // h + PH - i·DH: the output row times the stride, when the stride divides it.
  let th = cols.ha - vec4<i32>(i32((ko % KH) * DH));
  let oh = th / i32(SH);
  let ok = (th >= vec4<i32>(0)) & (oh * i32(SH) == th) & (oh < vec4<i32>(i32(OH)));
  return Row(cols.base + vec4<u32>((ko / KH) * OH * OW) + vec4<u32>(oh) * OW, ok, 0);
#else
  let r = ko / (OW / DWI);
  let h = cols.ha + vec4<i32>(i32((r % OH) * SH));
  let ok = (h >= vec4<i32>(0)) & (h < vec4<i32>(i32(H)));
  return Row(cols.base + vec4<u32>((r / OH) * C * H * W) + vec4<u32>(h) * W, ok, i32((ko % (OW / DWI)) * DWI * SW));
#endif
}

// The lane's 4 values of B at inner step ki of a row, zero where the window reads padding (FWD, DW) or no output tap
// lands (DX).
fn loadB(cols: Cols, row: Row, ki: u32) -> vec4<f32> {
#if DX
  let tw = cols.wa - vec4<i32>(i32(ki * DW));
  let ow = tw / i32(SW);
  let ok = row.ok & (tw >= vec4<i32>(0)) & (ow * i32(SW) == tw) & (ow < vec4<i32>(i32(OW)));
  let at = select(vec4<u32>(0u), row.at + vec4<u32>(ow), ok);
#else
#if DW
  let w = cols.wa + vec4<i32>(row.w0 + i32(ki * SW));
#else
  let w = cols.wa + vec4<i32>(i32(ki * DW));
#endif
  let ok = row.ok & (w >= vec4<i32>(0)) & (w < vec4<i32>(i32(W)));
  let at = select(vec4<u32>(0u), row.at + vec4<u32>(w), ok);
#endif
#if ONES
  return select(vec4<f32>(0.0), vec4<f32>(B[at.x], B[at.y], B[at.z], B[at.w]), ok) + cols.one;
#else
  return select(vec4<f32>(0.0), vec4<f32>(B[at.x], B[at.y], B[at.z], B[at.w]), ok);
#endif
}

fn aStride() -> u32 {
#if FWD
  return dims.K;
#else
  return AS;
#endif
}

// acc[l] += a_l * b for the eight rows r0 .. r0+7 of the tile: a_l is lane l's load, broadcast (a register shuffle on
// llvmpipe), or without subgroups loaded by every lane (`at`: the k offset into A).
fn rows8(a: f32, r0: u32, at: u32, b: vec4<f32>, b2: vec4<f32>, acc: ptr<function, array<vec4<f32>, 8>>, acc2: ptr<function, array<vec4<f32>, 8>>) {
#if SUBGROUP
  let s0 = vec4<f32>(subgroupBroadcast(a, 0u)); let s1 = vec4<f32>(subgroupBroadcast(a, 1u));
  let s2 = vec4<f32>(subgroupBroadcast(a, 2u)); let s3 = vec4<f32>(subgroupBroadcast(a, 3u));
  let s4 = vec4<f32>(subgroupBroadcast(a, 4u)); let s5 = vec4<f32>(subgroupBroadcast(a, 5u));
  let s6 = vec4<f32>(subgroupBroadcast(a, 6u)); let s7 = vec4<f32>(subgroupBroadcast(a, 7u));
#else
  let last = dims.M - 1u; let st = aStride();
  let s0 = vec4<f32>(A[min(r0, last) * st + at]); let s1 = vec4<f32>(A[min(r0 + 1u, last) * st + at]);
  let s2 = vec4<f32>(A[min(r0 + 2u, last) * st + at]); let s3 = vec4<f32>(A[min(r0 + 3u, last) * st + at]);
  let s4 = vec4<f32>(A[min(r0 + 4u, last) * st + at]); let s5 = vec4<f32>(A[min(r0 + 5u, last) * st + at]);
  let s6 = vec4<f32>(A[min(r0 + 6u, last) * st + at]); let s7 = vec4<f32>(A[min(r0 + 7u, last) * st + at]);
#endif
  (*acc)[0] = fma(s0, b, (*acc)[0]); (*acc)[1] = fma(s1, b, (*acc)[1]);
  (*acc)[2] = fma(s2, b, (*acc)[2]); (*acc)[3] = fma(s3, b, (*acc)[3]);
  (*acc)[4] = fma(s4, b, (*acc)[4]); (*acc)[5] = fma(s5, b, (*acc)[5]);
  (*acc)[6] = fma(s6, b, (*acc)[6]); (*acc)[7] = fma(s7, b, (*acc)[7]);
#if WIDE
  (*acc2)[0] = fma(s0, b2, (*acc2)[0]); (*acc2)[1] = fma(s1, b2, (*acc2)[1]);
  (*acc2)[2] = fma(s2, b2, (*acc2)[2]); (*acc2)[3] = fma(s3, b2, (*acc2)[3]);
  (*acc2)[4] = fma(s4, b2, (*acc2)[4]); (*acc2)[5] = fma(s5, b2, (*acc2)[5]);
  (*acc2)[6] = fma(s6, b2, (*acc2)[6]); (*acc2)[7] = fma(s7, b2, (*acc2)[7]);
#endif
}

#if X16
const BLOCKS = 8u;
#else
const BLOCKS = TM / 4u;
#endif

#if K4
#include gemm_subgroup

// Where the k walk stands: the row of k (ko), the step in it (ki), and what rowOf and aRow give for that row.
struct Walk { ko: u32, ki: u32, row: Row, row2: Row, ar: u32 }

fn walkAt(cols: Cols, cols2: Cols, ko: u32) -> Walk {
  return Walk(ko, 0u, rowOf(cols, ko), rowOf(cols2, ko), aRow(ko));
}

// One k further: the row's geometry is rebuilt only where a row of INNER steps ends (k is the same in every lane,
// so the branch is uniform).
fn advance(w: ptr<function, Walk>, cols: Cols, cols2: Cols) {
  (*w).ki += 1u;
  if ((*w).ki == INNER) { *w = walkAt(cols, cols2, (*w).ko + 1u); }
}

#include gemm_k4

fn aAt(i: u32, at: vec4<u32>, live: vec4<bool>) -> vec4<f32> {
#if VEC_A
  return A[(i + at.x) / 4u];
#else
  return select(vec4<f32>(0.0), vec4<f32>(A[i + at.x], A[i + at.y], A[i + at.z], A[i + at.w]), live);
#endif
}
#endif

// What an output of row m stores: its sum, plus the row's bias, through the activation (the epilogue's switches).
fn finish(m: u32, v: f32) -> f32 {
#if BIAS
  var r = v + bias[m];
#else
  var r = v;
#endif
#if EPILOGUE
  r = unary_by(ACT, r, 0.0);
#endif
  return r;
}

// Output (m, column c) lives at (c / PC)·M·PC + m·PC + c % PC: NCHW for FWD and DX, row-major [M, N] for DW, whose
// split k writes partial z at z·M·N.
fn store(base: u32, m: u32, c: u32, v: vec4<f32>) {
  if (m >= dims.M) { return; }
#if VEC_Y
  // c is a multiple of 4, and so is N: the 4 columns are all inside, in one image.
  if (c >= dims.N) { return; }
  Y[(base + (c / PC) * dims.M * PC + m * PC + c % PC) / 4u] = vec4<f32>(finish(m, v.x), finish(m, v.y), finish(m, v.z), finish(m, v.w));
#else
  for (var e = 0u; e < 4u; e++) {
    let cc = c + e;
#if ONES
    // base is z·M·PC here: the bias gradient's partial z at z·M.
    if (cc == PC) { DB[base / PC + m] = v[e]; continue; }
#endif
    if (cc < dims.N) { Y[base + (cc / PC) * dims.M * PC + m * PC + cc % PC] = finish(m, v[e]); }
  }
#endif
}

#if PERMUTE_A
// SLIDE's four k of a step are four rows of k at one tap; with A permuted to [M][KW][rows of k] (rows a multiple of
// 4), they are one aligned vec4 (VEC_A), one lane-loop instead of four. This pass writes that copy of the weights
// (12.8k values for the cnn's conv2) before the conv pass that reads it: one invocation per value.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= dims.M * dims.K) { return; }
  let R = dims.K / KW;
  let m = i / dims.K; let r = i % dims.K;
  Y[i] = A[m * aStride() + aRow(r % R) + r / R];
}
#elif SLIDE
// SLIDE (FWD and DX with unit column stride and dilation, K4): a lane's CW columns are CW adjacent pixels of one
// output row (a block; the launch pads each row to whole blocks), and for one row of k (c or o, i) the KW taps of its
// CW columns read only CW + KW - 1 distinct values of B, since column e at tap j reads what column e + 1 read at tap
// j - 1 (FWD; DX the other way round). So the lane loads a row's first CW values and then one more per tap, shifting
// its window along, not CW loads per tap: on llvmpipe a per-lane load is a scalar loop over the lanes, and it was
// most of the time where TM is 16. The four k of a step are four rows of k at one tap. The window is shifted in
// registers rather than indexed in a private array: indexed by the tap loop's counter, that array would live in
// memory and every access would be a per-lane loop too.
override RW: u32; // pixels per row of the output: FWD OW, DX W
override RB: u32; // blocks of CW pixels per row
override RH: u32; // rows per image: FWD OH, DX H

// The lane's image base in B, its first row coordinate and its window's first column (FWD: x's oh·SH - PH and
// w0 - PW; DX: dy's h + PH and w0 + PW - (KW - 1)).
struct Lane { base: u32, ha: i32, ws: i32 }
// Where a row of k starts in B, and whether it is inside (FWD: not padding; DX: an output row lands; and below K).
struct SRow { at: u32, ok: bool }

fn slideRow(l: Lane, ko: u32, live: bool) -> SRow {
#if FWD
  let h = l.ha + i32((ko % KH) * DH);
  return SRow(l.base + (ko / KH) * H * W + u32(max(h, 0)) * W, live && h >= 0 && h < i32(H));
#else
  let th = l.ha - i32((ko % KH) * DH);
  let oh = th / i32(SH);
  return SRow(l.base + (ko / KH) * OH * OW + u32(max(oh, 0)) * OW, live && th >= 0 && oh * i32(SH) == th && oh < i32(OH));
#endif
}

// Value t of the lane's window on row r, zero outside the row.
fn val(l: Lane, r: SRow, t: u32) -> f32 {
#if FWD
  let lim = i32(W);
#else
  let lim = i32(OW);
#endif
  let w = l.ws + i32(t);
  let ok = r.ok && w >= 0 && w < lim;
  return select(0.0, B[select(0u, r.at + u32(w), ok)], ok);
}

fn vals(l: Lane, r: SRow, t: u32) -> vec4<f32> { return vec4<f32>(val(l, r, t), val(l, r, t + 1u), val(l, r, t + 2u), val(l, r, t + 3u)); }

// A row's window: its first four columns' values at the current tap, and (WIDE) the next four.
// X16: and the four after those, and the four after them.
struct Win { b: vec4<f32>, e: vec4<f32>, f: vec4<f32>, g: vec4<f32> }

// The window at the first tap (FWD: values 0 .., DX: KW - 1 ..).
fn winAt(l: Lane, r: SRow) -> Win {
#if FWD
  let t = 0u;
#else
  let t = KW - 1u;
#endif
#if X16
  return Win(vals(l, r, t), vals(l, r, t + 4u), vals(l, r, t + 8u), vals(l, r, t + 12u));
#elif WIDE
  return Win(vals(l, r, t), vals(l, r, t + 4u), vec4<f32>(0.0), vec4<f32>(0.0));
#else
  return Win(vals(l, r, t), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
#endif
}

// The window one tap on (tap tj, tj >= 1): one value enters at one end. FWD: value tj + CW - 1 on the right; DX:
// value KW - 1 - tj on the left.
fn shift(l: Lane, r: SRow, v: Win, tj: u32) -> Win {
#if FWD
#if X16
  return Win(vec4<f32>(v.b.yzw, v.e.x), vec4<f32>(v.e.yzw, v.f.x), vec4<f32>(v.f.yzw, v.g.x), vec4<f32>(v.g.yzw, val(l, r, tj + 15u)));
#elif WIDE
  return Win(vec4<f32>(v.b.yzw, v.e.x), vec4<f32>(v.e.yzw, val(l, r, tj + 7u)), v.f, v.g);
#else
  return Win(vec4<f32>(v.b.yzw, val(l, r, tj + 3u)), v.e, v.f, v.g);
#endif
#else
#if X16
  return Win(vec4<f32>(val(l, r, KW - 1u - tj), v.b.xyz), vec4<f32>(v.b.w, v.e.xyz), vec4<f32>(v.e.w, v.f.xyz), vec4<f32>(v.f.w, v.g.xyz));
#elif WIDE
  return Win(vec4<f32>(val(l, r, KW - 1u - tj), v.b.xyz), vec4<f32>(v.b.w, v.e.xyz), v.f, v.g);
#else
  return Win(vec4<f32>(val(l, r, KW - 1u - tj), v.b.xyz), v.e, v.f, v.g);
#endif
#endif
}

// Stores the `valid` first of four adjacent outputs of row m from y0 (the column's offset for m = 0).
fn storeRow(m: u32, y0: u32, valid: u32, v: vec4<f32>) {
  if (m >= dims.M) { return; }
  for (var e = 0u; e < 4u; e++) {
    if (e < valid) { Y[y0 + m * PC + e] = finish(m, v[e]); }
  }
}

@compute @workgroup_size(8)
fn main(@builtin(subgroup_invocation_id) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = dims.M;
  let row0 = wid.y * TM;
  // dims.N counts blocks here.
  let bi = wid.x * 8u + j;
  let b = min(bi, dims.N - 1u);
  let img = b / (RH * RB); let rem = b % (RH * RB); let r = rem / RB; let w0 = (rem % RB) * CW;
#if FWD
  let lane = Lane(img * C * H * W, i32(r * SH) - i32(PH), i32(w0) - i32(PW));
#else
  let lane = Lane(img * O * OH * OW, i32(r + PH), i32(w0 + PW) - i32(KW - 1u));
#endif
  let m0 = min(row0 + j, M - 1u); let m1 = min(row0 + j + 8u, M - 1u);
  let m2 = min(row0 + j + 16u, M - 1u); let m3 = min(row0 + j + 24u, M - 1u);
  var c0: array<vec4<f32>, 8>; var c1: array<vec4<f32>, 8>; var d0: array<vec4<f32>, 8>; var d1: array<vec4<f32>, 8>;
#if X16
  var f0: array<vec4<f32>, 8>; var f1: array<vec4<f32>, 8>; var g0: array<vec4<f32>, 8>; var g1: array<vec4<f32>, 8>;
#endif
#if ROWS16
#else
  var c2: array<vec4<f32>, 8>; var c3: array<vec4<f32>, 8>; var d2: array<vec4<f32>, 8>; var d3: array<vec4<f32>, 8>;
#endif
#if VEC_A
  let st = dims.K; // A permuted by PERMUTE_A
#else
  let st = aStride();
#endif
  let a0i = m0 * st; let a1i = m1 * st; let a2i = m2 * st; let a3i = m3 * st;
  let R = dims.K / KW; // rows of k
  for (var ko = 0u; ko < R; ko += 4u) {
    let live = vec4<bool>(true, ko + 1u < R, ko + 2u < R, ko + 3u < R);
    let r0 = slideRow(lane, ko, true); let r1 = slideRow(lane, ko + 1u, live.y);
    let r2 = slideRow(lane, ko + 2u, live.z); let r3 = slideRow(lane, ko + 3u, live.w);
    var v0 = winAt(lane, r0); var v1 = winAt(lane, r1); var v2 = winAt(lane, r2); var v3 = winAt(lane, r3);
    let ar = vec4<u32>(aRow(ko), aRow(ko + 1u), aRow(ko + 2u), aRow(ko + 3u));
    for (var tj = 0u; tj < KW; tj++) {
      if (tj > 0u) { v0 = shift(lane, r0, v0, tj); v1 = shift(lane, r1, v1, tj); v2 = shift(lane, r2, v2, tj); v3 = shift(lane, r3, v3, tj); }
      let bm = mat4x4<f32>(v0.b, v1.b, v2.b, v3.b);
#if WIDE
      let em = mat4x4<f32>(v0.e, v1.e, v2.e, v3.e);
#else
      let em = bm;
#endif
#if VEC_A
      let at = vec4<u32>(tj * R + ko);
#else
      let at = ar + vec4<u32>(tj);
#endif
      let a0 = aAt(a0i, at, live); let a1 = aAt(a1i, at, live);
#if ROWS16
      rows8k4(a0, bm, em, &c0, &d0); rows8k4(a1, bm, em, &c1, &d1);
#if X16
      let fm = mat4x4<f32>(v0.f, v1.f, v2.f, v3.f); let gm = mat4x4<f32>(v0.g, v1.g, v2.g, v3.g);
      rows8k4(a0, fm, gm, &f0, &g0); rows8k4(a1, fm, gm, &f1, &g1);
#endif
#else
      let a2 = aAt(a2i, at, live); let a3 = aAt(a3i, at, live);
      rows8k4(a0, bm, em, &c0, &d0); rows8k4(a1, bm, em, &c1, &d1); rows8k4(a2, bm, em, &c2, &d2); rows8k4(a3, bm, em, &c3, &d3);
#endif
    }
  }
#if X16
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, d0, d1, f0, f1, g0, g1);
#elif ROWS16
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, d0, d1);
#else
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, c2, c3, d0, d1, d2, d3);
#endif
  let rowGroups = TM / 8u;
  let y0 = img * M * PC + r * RW + w0;
  for (var q = 0u; q < dims.groups; q++) {
    let rr = row0 + 8u * (q % rowGroups);
    let cl = 4u * (q / rowGroups);
    // Pixels past the row's end (its last block's padding) and lanes past the last block store nothing.
    let valid = select(0u, min(4u, RW - min(RW, w0 + cl)), bi < dims.N);
    for (var i = 0u; i < 8u; i++) { storeRow(rr + i, y0 + cl, valid, out[q][i]); }
  }
}
#else
@compute @workgroup_size(8)
#if SUBGROUP
fn main(@builtin(subgroup_invocation_id) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
#else
fn main(@builtin(local_invocation_index) j: u32, @builtin(workgroup_id) wid: vec3<u32>) {
#endif
  let M = dims.M; let N = dims.N;
  let row0 = wid.y * TM;
  let col = wid.x * 8u * CW + CW * j;
  let m0 = min(row0 + j, M - 1u); let m1 = min(row0 + j + 8u, M - 1u);
  let m2 = min(row0 + j + 16u, M - 1u); let m3 = min(row0 + j + 24u, M - 1u);
  let cols = decode(min(vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u)));
  let cols2 = decode(min(vec4<u32>(col + 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u)));
  let k0 = wid.z * dims.kc;
  let k1 = min(k0 + dims.kc, dims.K);
  var c0: array<vec4<f32>, 8>; var c1: array<vec4<f32>, 8>; var d0: array<vec4<f32>, 8>; var d1: array<vec4<f32>, 8>;
#if ROWS16
#else
  var c2: array<vec4<f32>, 8>; var c3: array<vec4<f32>, 8>; var d2: array<vec4<f32>, 8>; var d3: array<vec4<f32>, 8>;
#endif
  let st = aStride();
  let a0i = m0 * st; let a1i = m1 * st; let a2i = m2 * st; let a3i = m3 * st;
  // The launch makes kc a multiple of INNER, so a chunk is whole rows of k.
#if K4
  // Four k a step, each accumulator updated by a chain of four multiply-adds in k order (K4 in matmul_subgroup.wgsl:
  // llvmpipe loads, masks and stores an accumulator once per update, so once per four k). The k walk crosses rows
  // as the one-k loop's does, so the sums are added in the same order; k past the chunk's end is zero in A and B
  // (its loads, from wherever the walk points, are never used).
  var wk = walkAt(cols, cols2, k0 / INNER);
  for (var k = k0; k < k1; k += 4u) {
    let live = vec4<bool>(true, k + 1u < k1, k + 2u < k1, k + 3u < k1);
    let t0 = wk.ar + wk.ki; let b0 = loadB(cols, wk.row, wk.ki);
#if WIDE
    let e0 = loadB(cols2, wk.row2, wk.ki);
#endif
    advance(&wk, cols, cols2);
    let t1 = wk.ar + wk.ki; let b1 = select(vec4<f32>(0.0), loadB(cols, wk.row, wk.ki), live.y);
#if WIDE
    let e1 = select(vec4<f32>(0.0), loadB(cols2, wk.row2, wk.ki), live.y);
#endif
    advance(&wk, cols, cols2);
    let t2 = wk.ar + wk.ki; let b2 = select(vec4<f32>(0.0), loadB(cols, wk.row, wk.ki), live.z);
#if WIDE
    let e2 = select(vec4<f32>(0.0), loadB(cols2, wk.row2, wk.ki), live.z);
#endif
    advance(&wk, cols, cols2);
    let t3 = wk.ar + wk.ki; let b3 = select(vec4<f32>(0.0), loadB(cols, wk.row, wk.ki), live.w);
#if WIDE
    let e3 = select(vec4<f32>(0.0), loadB(cols2, wk.row2, wk.ki), live.w);
#endif
    advance(&wk, cols, cols2);
    let at = vec4<u32>(t0, t1, t2, t3);
    let bm = mat4x4<f32>(b0, b1, b2, b3);
#if WIDE
    let em = mat4x4<f32>(e0, e1, e2, e3);
#else
    let em = bm;
#endif
    let a0 = aAt(a0i, at, live); let a1 = aAt(a1i, at, live);
#if ROWS16
    rows8k4(a0, bm, em, &c0, &d0); rows8k4(a1, bm, em, &c1, &d1);
#else
    let a2 = aAt(a2i, at, live); let a3 = aAt(a3i, at, live);
    rows8k4(a0, bm, em, &c0, &d0); rows8k4(a1, bm, em, &c1, &d1); rows8k4(a2, bm, em, &c2, &d2); rows8k4(a3, bm, em, &c3, &d3);
#endif
  }
#else
  for (var ko = k0 / INNER; ko < k1 / INNER; ko++) {
    let row = rowOf(cols, ko);
    let row2 = rowOf(cols2, ko);
    let ar = aRow(ko);
    for (var ki = 0u; ki < INNER; ki++) {
      let b = loadB(cols, row, ki);
#if WIDE
      let b2 = loadB(cols2, row2, ki);
#else
      let b2 = b;
#endif
      let at = ar + ki;
#if SUBGROUP
      let a0 = A[a0i + at]; let a1 = A[a1i + at];
#else
      let a0 = 0.0; let a1 = 0.0;
#endif
#if ROWS16
      rows8(a0, row0, at, b, b2, &c0, &d0); rows8(a1, row0 + 8u, at, b, b2, &c1, &d1);
#else
#if SUBGROUP
      let a2 = A[a2i + at]; let a3 = A[a3i + at];
#else
      let a2 = 0.0; let a3 = 0.0;
#endif
      rows8(a0, row0, at, b, b2, &c0, &d0); rows8(a1, row0 + 8u, at, b, b2, &c1, &d1);
      rows8(a2, row0 + 16u, at, b, b2, &c2, &d2); rows8(a3, row0 + 24u, at, b, b2, &c3, &d3);
#endif
    }
  }
#endif
#if ROWS16
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, d0, d1);
#else
  var out = array<array<vec4<f32>, 8>, BLOCKS>(c0, c1, c2, c3, d0, d1, d2, d3);
#endif
  // Blocks as in gemm_subgroup.wgsl: block q holds 8 rows from row0 + 8·(q % rowGroups), 4 columns from col + 4·(q / rowGroups).
  let rowGroups = TM / 8u;
#if ONES
  let base = wid.z * M * PC;
#else
  let base = wid.z * M * N;
#endif
  for (var q = 0u; q < dims.groups; q++) {
    let r = row0 + 8u * (q % rowGroups);
    let c = col + 4u * (q / rowGroups);
    for (var i = 0u; i < 8u; i++) { store(base, r + i, c, out[q][i]); }
  }
}
#endif
