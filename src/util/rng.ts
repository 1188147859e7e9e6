// Seeded randomness. Everything here is plain 32-bit integer arithmetic (Math.imul, >>> 0) so results are
// identical on every JS engine, and hash32 can be ported to WGSL u32 arithmetic bit for bit.

/** mulberry32: tiny, fast and good enough for init, shuffling and sampling; not for cryptography. */
export class Rng {
  private state: number;
  private spare: number | undefined; // Box-Muller yields pairs; keep the second so no draw is wasted.

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1): a u32 over 2^32 can never reach 1. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). The modulo bias is below n / 2^32, far under anything a shuffle could show. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal via Box-Muller. */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next(); // (0, 1]: log(u) stays finite
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** lowbias32 (Chris Wellons): a full-avalanche u32 -> u32 mix. WGSL: `x ^= x >> 16u; x *= 0x7feb352du; ...`. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * Counter-based hash of three u32s (e.g. seed, step, element index): no state, so the GPU can compute any element's
 * random bits independently, and the CPU reference gets the same dropout mask. The XOR with a constant keeps
 * (0, 0, 0) from mapping to 0, lowbias32's fixed point. Inputs are taken modulo 2^32.
 */
export function hash32(a: number, b: number, c: number): number {
  let h = mix32((a ^ 0x9e3779b9) >>> 0);
  h = mix32((h ^ b) >>> 0);
  return mix32((h ^ c) >>> 0);
}

/**
 * The generator layers draw their initial weights from when no `rng` option is given, like PyTorch's global one:
 * seeded 0 at start, so a script builds the same model every run; manualSeed(s) restarts it.
 */
let globalRng = new Rng(0);
export const defaultRng = (): Rng => globalRng;
export function manualSeed(seed: number): void { globalRng = new Rng(seed); }
