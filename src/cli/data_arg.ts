// The data a `wgtrain train` run uses: MNIST (the default), or a CSV table (--data FILE.csv --label COL) split into
// training and held-out rows, standardised with the training rows' statistics.
import type { Dataset } from '../data/dataset.js';
import { splitValidation, subset } from '../data/dataset.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { csvDataset, columnStats, standardize } from '../data/csv.js';
import { loadCsv } from '../data/csv_file.js';
import { UsageError } from './args.js';

/** How CSV features were scaled and labels mapped: what `wgtrain predict` needs to read new rows the same way. */
export interface CsvInfo { file: string; label: string; features: string[]; classes: string[]; mean: number[]; std: number[] }

export interface TrainData { train: Dataset; test: Dataset; description: string; heldOut: string; csv?: CsvInfo }

export interface DataFlags { dataDir?: string; limit?: number; data?: string; label?: string; testSplit: number; seed: number }

/** A --label value: a header name, or a 0-based index when it is a number that is not itself a header name. */
export const labelArg = (s: string): string | number => (/^\d+$/.test(s) ? Number(s) : s);

export async function loadTrainData(command: string, o: DataFlags): Promise<TrainData> {
  if (!o.data) {
    if (o.label !== undefined) throw new UsageError(`${command}: --label applies to --data FILE.csv only (MNIST has its own labels)`);
    const { train, test } = await loadMnist({ limitTrain: o.limit, dir: o.dataDir });
    normalize(train.x, MNIST_MEAN, MNIST_STD);
    normalize(test.x, MNIST_MEAN, MNIST_STD);
    return { train, test, description: `MNIST, ${train.n} training images`, heldOut: 'test' };
  }
  if (!o.data.toLowerCase().endsWith('.csv')) throw new UsageError(`${command}: --data must be a .csv file, got '${o.data}' (for MNIST IDX files use --data-dir DIR)`);
  if (o.label === undefined) throw new UsageError(`${command}: --data ${o.data} needs --label COLUMN (the label column's header name or 0-based index)`);
  const table = await loadCsv(o.data, { label: labelArg(o.label) });
  let all = csvDataset(table);
  if (o.limit !== undefined && o.limit < all.n) all = subset(all, Array.from({ length: o.limit }, (_, i) => i));
  const { train, val } = splitValidation(all, o.testSplit, o.seed);
  if (!train.n || !val.n) throw new UsageError(`${command}: ${o.data} has ${all.n} rows: too few to hold out --test-split ${o.testSplit} and still train`);
  const stats = columnStats(train.x, train.n);
  standardize(train.x, stats);
  standardize(val.x, stats);
  const mapping = table.classes!.map((c, i) => `${i}=${c}`).join(', ');
  return {
    train, test: val, heldOut: 'held-out',
    description: `${o.data}: ${table.features.length} features, label '${table.label}' with ${table.classes!.length} classes (${mapping}); ${train.n} training rows, ${val.n} held out`,
    csv: { file: o.data, label: table.label, features: table.features, classes: table.classes!, ...stats },
  };
}
