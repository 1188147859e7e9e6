// Half precision on the host: the CPU reference rounds to f16 wherever the WebGPU plan stores a value in an f16
// buffer, so both backends see the same rounding at the same points and parity holds to f16 tolerances.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The largest finite f16. */
export const F16_MAX = 65504;

/**
 * x rounded to the nearest f16 (ties to even), as a number: what storing x in an f16 buffer and reading it back gives.
 * Past the largest finite half (from 65520, the midpoint to the next power of two) it is ±Infinity, NaN stays NaN;
 * f16 subnormals (below 2^-14) keep their 2^-24 spacing. Rounds from the float32 of x, as the GPU converts an f32 value.
 */
export function roundF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = bits & 0x80000000;
  const exp = (bits >>> 23) & 0xff;
  if (exp === 0xff) return f32[0]; // Inf or NaN
  const a = Math.abs(f32[0]);
  if (a >= 65520) return sign ? -Infinity : Infinity;
  // The spacing of halves around a: 2^(e - 10) for a normal with exponent e, 2^-24 below the normals.
  const e = Math.max(exp - 127, -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp; // exact: a power-of-two scale
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
  const v = r * ulp;
  return sign ? -v : v;
}

/** Every element of `a` rounded to f16, in place. */
export function roundF16Array<T extends Float32Array | Float64Array>(a: T): T {
  for (let i = 0; i < a.length; i++) a[i] = roundF16(a[i]);
  return a;
}

/** IEEE half-precision bit patterns (as an f16 buffer holds them) widened to float32. */
export function decodeF16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i], sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    out[i] = sign * (exp === 0 ? frac * 2 ** -24 : exp === 31 ? (frac ? NaN : Infinity) : (1 + frac / 1024) * 2 ** (exp - 15));
  }
  return out;
}

/** The numeric precision a step is compiled at: 'f16' stores activations and gradients in half precision. */
export type Precision = 'f32' | 'f16';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];
