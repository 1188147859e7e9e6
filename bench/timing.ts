// Timing discipline shared by every benchmark: warm up, then time single iterations (each ending in a sync, so the
// GPU's work is inside the measurement) until both a minimum count and a minimum time are reached.
export interface Timing { ms: number; min: number; max: number; iterations: number }

export async function timeIt(fn: () => Promise<void>, o: { warmup?: number; minIterations?: number; minMs?: number } = {}): Promise<Timing> {
  for (let i = 0; i < (o.warmup ?? 2); i++) await fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < (o.minIterations ?? 5) || performance.now() - t0 < (o.minMs ?? 1000)) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
    if (times.length >= 200) break;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], iterations: times.length };
}

/**
 * n values uniform in [-scale/2, scale/2) from a 32-bit LCG: the same inputs for every engine in a run, and from run
 * to run, without Math.random.
 */
export function seededUniform(n: number, seed: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1664525 + 1013904223) >>> 0; a[i] = (s / 2 ** 32 - 0.5) * scale; }
  return a;
}
