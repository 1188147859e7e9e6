// Packs a GEMM operand into the panels matmul_packed.wgsl reads, in an rgba32float texture TEXW texels wide whose
// texels, read in row-major order, are the vec4s of the layout below (see Scratch in src/backends/webgpu/launch.ts).
// Panel t holds, for each k, the operand's rows
// (A: op(A)'s rows) or columns (B: op(B)'s columns) t·W .. t·W+W-1 as VECS = W / 4 vec4s, zero past the edge. B's
// panels are 64 wide; A's 64 or 128 (the kernel's tile height). The operand is a batch of R x K matrices read as
// X(r, k): X[r·K + k], or X[k·R + r] where KMAJOR (A transposed, B untransposed), so the transposes are resolved here
// and the GEMM has one form. K is padded with zeros to KP, a multiple of 4, because the kernel takes four k a step.
// Within a k, B's columns are in order (lane j reads vec4s 2j, 2j+1: columns 8j .. 8j+7); A's are dealt so that lane
// j's VECS / 8 vec4s hold rows j, j+8, .., j+W-8, the rows whose values it broadcasts. An invocation writes one vec4:
// x = which of the VECS, y = k within the workgroup's 4; the grid is (KP / 4, panels, batch), so no index needs a
// division by a uniform (lane-by-lane on llvmpipe).

override KMAJOR: bool = false;
override PACK_B: bool = false;
override VECS: u32 = 16u;
override TEXW: u32 = 4096u; // a power of two

#include gemm_pack_dims
@group(0) @binding(0) var<uniform> dims: Dims;
#include half_types
@group(0) @binding(1) var<storage, read> X: array<T1>;
@group(0) @binding(2) var P: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(VECS, 4)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = wid.x * 4u + lid.y;
  let q = lid.x;
  let perLane = VECS / 8u;
  var first: u32; var step: u32;
  if (PACK_B) { first = 4u * q; step = 1u; } else { first = q / perLane + 32u * (q % perLane); step = 8u; }
  let base = wid.z * dims.R * dims.K;
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    let r = wid.y * 4u * VECS + first + step * c;
    if (r < dims.R && k < dims.K) {
      if (KMAJOR) { v[c] = f32(X[base + k * dims.R + r]); } else { v[c] = f32(X[base + r * dims.K + k]); }
    }
  }
  let i = ((wid.z * dims.tiles + wid.y) * dims.KP + k) * VECS + q;
  textureStore(P, vec2<u32>(i % TEXW, i / TEXW), v);
}
