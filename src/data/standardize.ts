// Per-column standardisation, for features and for regression targets: statistics come from the training rows only
// and are applied unchanged to held-out rows, and recorded so that prediction reads (and answers) the same way.

export interface ColumnStats { mean: number[]; std: number[] }

/** Per-column mean and standard deviation (a constant column gets std 1, so standardising leaves it at 0). */
export function columnStats(x: Float32Array, n: number): ColumnStats {
  const F = x.length / n, mean = new Array(F).fill(0), std = new Array(F).fill(0);
  for (let r = 0; r < n; r++) for (let c = 0; c < F; c++) mean[c] += x[r * F + c] / n;
  for (let r = 0; r < n; r++) for (let c = 0; c < F; c++) std[c] += (x[r * F + c] - mean[c]) ** 2 / n;
  return { mean, std: std.map((v) => (v > 0 ? Math.sqrt(v) : 1)) };
}

/** (x - mean) / std per column, in place. */
export function standardize(x: Float32Array, s: ColumnStats): Float32Array {
  const F = s.mean.length;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - s.mean[i % F]) / s.std[i % F];
  return x;
}

/** x · std + mean per column, in place: standardize's inverse (model outputs back to the targets' units). */
export function unstandardize(x: Float32Array, s: ColumnStats): Float32Array {
  const F = s.mean.length;
  for (let i = 0; i < x.length; i++) x[i] = x[i] * s.std[i % F] + s.mean[i % F];
  return x;
}
