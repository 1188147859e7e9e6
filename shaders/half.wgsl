// Storage types for mixed precision, pasted by `#include half_types`: binding k of the host shader holds T<k> (f16
// where the launch stores that tensor in half precision, F16_<k>; else f32). Kernels load with f32(...) and compute
// and accumulate in f32; they store through to_T<k>. With any F16_<k> on, the backend puts `enable f16;` first.

#if HALF
// f32 -> f16 with the CPU reference's rounding (src/graph/f16.ts): WGSL leaves the conversion of a value past the
// f16 range indeterminate, and an overflow must read back as an infinity so the loss scaler sees it and skips the step.
// The bit patterns sit in private variables: a constant infinity or NaN is a shader-creation error.
var<private> INF16: u32 = 0x7c007c00u;
var<private> NAN16: u32 = 0x7e007e00u;
fn to_f16(v: f32) -> f16 {
  let inf = bitcast<vec2<f16>>(INF16);
  if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { return bitcast<vec2<f16>>(NAN16).x; }
  if (v >= 65520.0) { return inf.x; }
  if (v <= -65520.0) { return -inf.x; }
  return f16(v);
}
#endif
#if F16_1
alias T1 = f16;
fn to_T1(v: f32) -> T1 { return to_f16(v); }
#else
alias T1 = f32;
fn to_T1(v: f32) -> T1 { return v; }
#endif
#if F16_2
alias T2 = f16;
fn to_T2(v: f32) -> T2 { return to_f16(v); }
#else
alias T2 = f32;
fn to_T2(v: f32) -> T2 { return v; }
#endif
#if F16_3
alias T3 = f16;
fn to_T3(v: f32) -> T3 { return to_f16(v); }
#else
alias T3 = f32;
fn to_T3(v: f32) -> T3 { return v; }
#endif
#if F16_4
alias T4 = f16;
fn to_T4(v: f32) -> T4 { return to_f16(v); }
#else
alias T4 = f32;
fn to_T4(v: f32) -> T4 { return v; }
#endif
