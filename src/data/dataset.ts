// An in-memory labelled dataset: rows of x (row-major, featureShape each) with one class index per row.
import { Rng } from '../util/rng.js';
import { OptionError } from '../util/errors.js';

export interface Dataset {
  x: Float32Array;
  y: Int32Array;
  n: number;
  featureShape: number[];
  numClasses: number;
}

/** A copy of the rows at `indices`, in that order (copied so the subset owns contiguous memory for batching). */
export function subset(ds: Dataset, indices: Int32Array | number[]): Dataset {
  const per = ds.x.length / ds.n;
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < ds.n)) throw new OptionError(`subset: index ${i} out of range [0, ${ds.n})`);
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    y[k] = ds.y[i];
  }
  return { x, y, n: indices.length, featureShape: [...ds.featureShape], numClasses: ds.numClasses };
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
