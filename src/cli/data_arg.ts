// The data a `wgtrain train` run uses: MNIST (the default; --digits keeps some classes), or a CSV table (--data
// FILE.csv --label COL) split into training and held-out rows, its features standardised with the training rows'
// statistics, and for regression its targets too (predict un-scales the outputs with the statistics recorded).
import type { Dataset } from '../data/dataset.js';
import { subset } from '../data/dataset.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { splitTable, CsvTask, MAX_INFERRED_CLASSES } from '../data/csv.js';
import { loadCsv } from '../data/csv_file.js';
import { UsageError } from './args.js';

/**
 * How CSV features were scaled and labels mapped: what `wgtrain predict` needs to read new rows the same way.
 * Regression (task 'regression', absent in checkpoints from before it): no classes; the target's training mean and
 * standard deviation, to un-scale outputs.
 */
export interface CsvInfo {
  file: string; label: string; features: string[]; classes: string[]; mean: number[]; std: number[];
  task?: CsvTask; targetMean?: number[]; targetStd?: number[];
}

export interface TrainData { train: Dataset; test: Dataset; description: string; heldOut: string; csv?: CsvInfo }

export interface DataFlags {
  dataDir?: string; limit?: number; data?: string; label?: string; testSplit: number; seed: number;
  task?: CsvTask; missing?: 'error' | 'drop';
  /** MNIST: keep only these digits (labels stay 0-9). */
  digits?: number[];
}

/** A --digits value: digits and ranges, such as 0-4 or 5,7,9 or 0-2,8. */
export function digitsArg(command: string, s: string): number[] {
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^\s*(\d)\s*(?:-\s*(\d)\s*)?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw new UsageError(`${command}: --digits must list digits 0-9 and ranges such as 0-4 or 5,7,9, got '${s}'`);
    for (let d = Number(m[1]); d <= Number(m[2] ?? m[1]); d++) out.add(d);
  }
  return [...out].sort((a, b) => a - b);
}

/** The rows of `ds` whose label is one of `digits`, the first `limit` of them. */
function keepDigits(ds: Dataset, digits: number[], limit = Infinity): Dataset {
  const keep = new Set(digits), rows: number[] = [];
  for (let i = 0; i < ds.n && rows.length < limit; i++) if (keep.has(ds.y[i])) rows.push(i);
  return subset(ds, rows);
}

/** A --label value: a header name, or a 0-based index when it is a number that is not itself a header name. */
export const labelArg = (s: string): string | number => (/^\d+$/.test(s) ? Number(s) : s);

export async function loadTrainData(command: string, o: DataFlags): Promise<TrainData> {
  if (!o.data) {
    if (o.label !== undefined) throw new UsageError(`${command}: --label applies to --data FILE.csv only (MNIST has its own labels)`);
    if (o.task === 'regression') throw new UsageError(`${command}: --task regression needs --data FILE.csv with a numeric target column (MNIST's labels are classes)`);
    if (o.missing !== undefined) throw new UsageError(`${command}: --missing applies to --data FILE.csv only`);
    // With --digits, the limit counts the kept images, so the whole training set is read first.
    let { train, test } = await loadMnist({ limitTrain: o.digits ? undefined : o.limit, dir: o.dataDir });
    if (o.digits) { train = keepDigits(train, o.digits, o.limit); test = keepDigits(test, o.digits); }
    normalize(train.x, MNIST_MEAN, MNIST_STD);
    normalize(test.x, MNIST_MEAN, MNIST_STD);
    const which = o.digits ? ` of digits ${o.digits.join(',')} (test images of those digits only)` : '';
    return { train, test, description: `MNIST, ${train.n} training images${which}`, heldOut: 'test' };
  }
  if (o.digits) throw new UsageError(`${command}: --digits applies to MNIST, not to --data tables`);
  if (!o.data.toLowerCase().endsWith('.csv')) throw new UsageError(`${command}: --data must be a .csv file, got '${o.data}' (for MNIST IDX files use --data-dir DIR)`);
  if (o.label === undefined) throw new UsageError(`${command}: --data ${o.data} needs --label COLUMN (the label column's header name or 0-based index)`);
  const table = await loadCsv(o.data, { label: labelArg(o.label), task: o.task, missing: o.missing });
  const { train, test: val, features: stats, target } = splitTable(table, o);
  if (!train.n || !val.n) throw new UsageError(`${command}: ${o.data} has ${train.n + val.n} rows: too few to hold out --test-split ${o.testSplit} and still train`);
  const dropped = table.dropped.length ? `; ${table.dropped.length} rows with an empty field left out (--missing drop: lines ${table.dropped.slice(0, 8).join(', ')}${table.dropped.length > 8 ? ', ...' : ''})` : '';
  const rows = `${train.n} training rows, ${val.n} held out${dropped}`;
  // Say why a numeric column was read one way, and how to read it the other; text labels can only be classes.
  const numeric = table.task === 'regression' || table.classes!.every((c) => Number.isFinite(Number(c)));
  const inferred = o.task || !numeric ? '' : table.task === 'regression'
    ? ` (numeric, not all integers or over ${MAX_INFERRED_CLASSES} distinct values; --task classification to treat them as classes)`
    : ` (${MAX_INFERRED_CLASSES} or fewer distinct integers; --task regression to fit them as numbers)`;
  const csv: CsvInfo = { file: o.data, label: table.label, features: table.features, classes: table.classes ?? [], ...stats, task: table.task };
  if (target) {
    const t = target;
    csv.targetMean = t.mean; csv.targetStd = t.std;
    return {
      train, test: val, heldOut: 'held-out', csv,
      description: `${o.data}: ${table.features.length} features, regression target '${table.label}'${inferred}, mean ${fmtNum(t.mean[0])}, std ${fmtNum(t.std[0])} on the training rows (standardised with them); ${rows}`,
    };
  }
  const mapping = table.classes!.map((c, i) => `${i}=${c}`).join(', ');
  return {
    train, test: val, heldOut: 'held-out', csv,
    description: `${o.data}: ${table.features.length} features, label '${table.label}' with ${table.classes!.length} classes (${mapping})${inferred}; ${rows}`,
  };
}

const fmtNum = (v: number) => Number(v.toPrecision(4)).toString();
