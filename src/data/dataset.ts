// An in-memory labelled dataset: rows of x (row-major, featureShape each) with, per row, one class index
// (classification) or a float target of targetShape (regression).
import { Rng } from '../util/rng.js';
import { OptionError } from '../util/errors.js';

export interface Dataset {
  x: Float32Array;
  /** Int32Array: one class index per row. Float32Array: targetShape's values per row (regression). */
  y: Int32Array | Float32Array;
  n: number;
  featureShape: number[];
  /** Classes of a classification set; 0 for regression. */
  numClasses: number;
  /** One row's target shape when y holds float targets [[1] when absent]. */
  targetShape?: number[];
}

/** Float targets: a regression set. */
export const isRegression = (ds: Dataset): ds is Dataset & { y: Float32Array } => ds.y instanceof Float32Array;

/** Values of y per row: 1 for class labels. */
export const targetsPerRow = (ds: Dataset) => (ds.n ? ds.y.length / ds.n : (ds.targetShape ?? [1]).reduce((a, b) => a * b, 1));

/** A copy of the rows at `indices`, in that order (copied so the subset owns contiguous memory for batching). */
export function subset(ds: Dataset, indices: Int32Array | number[]): Dataset {
  const per = ds.x.length / ds.n, perY = targetsPerRow(ds);
  const x = new Float32Array(indices.length * per);
  const y = isRegression(ds) ? new Float32Array(indices.length * perY) : new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < ds.n)) throw new OptionError(`subset: index ${i} out of range [0, ${ds.n})`);
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    y.set(ds.y.subarray(i * perY, (i + 1) * perY), k * perY);
  }
  return { x, y, n: indices.length, featureShape: [...ds.featureShape], numClasses: ds.numClasses, ...(ds.targetShape && { targetShape: [...ds.targetShape] }) };
}

/** Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

/** Holds out round(fraction * n) random rows as validation. Shuffled because MNIST-like files may be ordered. */
export function splitValidation(ds: Dataset, fraction: number, seed: number): { train: Dataset; val: Dataset } {
  if (!(fraction >= 0 && fraction < 1)) throw new OptionError(`splitValidation: fraction must be in [0, 1), got ${fraction}`);
  const p = permutation(ds.n, new Rng(seed));
  const nVal = Math.round(fraction * ds.n);
  return { train: subset(ds, p.subarray(nVal)), val: subset(ds, p.subarray(0, nVal)) };
}
