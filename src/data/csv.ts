// Tabular data from CSV: a header row, numeric feature columns and one label column. Classification maps the label
// values to class indices (numerically sorted when every label is a number, else in text order) and reports the
// mapping; regression keeps float targets. Unless told, the task follows the label column (inferTask). A missing
// value (an empty field) is an error unless `missing: 'drop'` leaves such rows out, listed in `dropped`. Every problem
// names the file, the line and the column.
import { type Dataset, splitValidation, subset } from './dataset.js';
import { UserError } from '../util/errors.js';

import { columnStats, standardize } from './standardize.js';
export { columnStats, standardize };

export class CsvError extends UserError {
  override name = 'CsvError';
}

export type CsvTask = 'classification' | 'regression';

export interface CsvOptions {
  /** The label column: a header name, or a 0-based column index. */
  label: string | number;
  /** [inferred from the label column: inferTask] */
  task?: CsvTask;
  delimiter?: string;
  /** An empty field: 'error' [default] names it; 'drop' leaves its row out (CsvTable.dropped lists their lines). */
  missing?: 'error' | 'drop';
}

/** More distinct integer labels than this make a numeric label column a regression target. */
export const MAX_INFERRED_CLASSES = 20;

/**
 * The task a label column asks for: regression when every value is a number and either one is not an integer or
 * there are more than MAX_INFERRED_CLASSES distinct values; classification otherwise (text labels, or a few integers).
 */
export function inferTask(labels: readonly string[]): CsvTask {
  const nums = labels.map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (!nums.every(Number.isFinite)) return 'classification';
  return nums.some((v) => !Number.isInteger(v)) || new Set(nums).size > MAX_INFERRED_CLASSES ? 'regression' : 'classification';
}

export interface CsvTable {
  /** Feature names, in column order (the label column left out). */
  features: string[];
  label: string;
  task: CsvTask;
  n: number;
  /** n rows of features.length values, row-major. */
  x: Float32Array;
  /** Classification: class index per row. */
  y?: Int32Array;
  /** Classification: the label value of each class index. */
  classes?: string[];
  /** Regression: the target per row. */
  targets?: Float32Array;
  /** With missing: 'drop': the 1-based lines of the rows left out for an empty field. */
  dropped: number[];
}

/** Splits CSV text into rows of fields with their 1-based line numbers; quotes may hold delimiters, quotes ("") and newlines. */
export function parseCsvRows(text: string, what: string, delimiter = ','): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [], field = '', quoted = false, line = 1, rowLine = 1, i = 0;
  const endRow = () => {
    fields.push(field);
    // Blank lines (a trailing newline, spacing between blocks) carry no row.
    if (fields.length > 1 || fields[0].trim() !== '') rows.push({ line: rowLine, fields });
    fields = []; field = ''; rowLine = line;
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1; // byte-order mark from spreadsheet exports
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false;
      else { if (ch === '\n') line++; field += ch; }
    } else if (ch === '"' && field.trim() === '') { quoted = true; field = ''; }
    else if (ch === delimiter) { fields.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      line++;
      endRow();
    } else field += ch;
  }
  if (quoted) throw new CsvError(`${what} line ${rowLine}: a quoted field is never closed (expected a closing ")`);
  if (field !== '' || fields.length) endRow();
  return rows;
}

/** The header's names; a repeated name is refused, since columns are picked by name (predict would read the first twice). */
function headerOf(fields: string[], what: string): string[] {
  const header = fields.map((h) => h.trim()), seen = new Map<string, number>();
  header.forEach((h, c) => {
    const first = seen.get(h);
    if (first !== undefined) throw new CsvError(`${what} line 1: columns ${first + 1} and ${c + 1} are both named '${h}' (expected distinct column names)`);
    seen.set(h, c);
  });
  return header;
}

/** One feature value: a number that stays finite as float32 (1e39 would become Infinity on the way to the device). */
function cell(s: string, what: string, line: number, c: number, header: string[]): number {
  const v = s === '' ? NaN : Number(s);
  const problem = s === '' ? 'empty field' : !Number.isFinite(v) ? `'${s}' is not a number` : !Number.isFinite(Math.fround(v)) ? `'${s}' is beyond float32's range (±3.4e38)` : '';
  if (problem) throw new CsvError(`${what} line ${line}, column ${c + 1} ('${header[c]}'): ${problem} (expected a finite number)`);
  return v;
}

/** Parses CSV text (see loadCsv); `what` names the source in errors. */
export function parseCsv(text: string, o: CsvOptions, what = 'csv'): CsvTable {
  const rows = parseCsvRows(text, what, o.delimiter);
  if (rows.length < 2) throw new CsvError(`${what}: expected a header row and at least one data row, found ${rows.length} row${rows.length === 1 ? '' : 's'}`);
  const header = headerOf(rows[0].fields, what);
  const cols = header.length;
  let labelCol: number;
  if (typeof o.label === 'number') {
    if (!(Number.isInteger(o.label) && o.label >= 0 && o.label < cols)) throw new CsvError(`${what}: label column index ${o.label} is out of range (expected 0..${cols - 1}; the header has ${cols} columns)`);
    labelCol = o.label;
  } else {
    labelCol = header.indexOf(o.label);
    if (labelCol < 0) throw new CsvError(`${what}: no column named '${o.label}' for the label (the header has: ${header.join(', ')})`);
  }
  const features = header.filter((_, c) => c !== labelCol);
  if (!features.length) throw new CsvError(`${what}: no feature columns besides the label '${header[labelCol]}'`);
  const F = features.length;
  const dropped: number[] = [];
  const kept: { line: number; fields: string[] }[] = [];
  for (const row of rows.slice(1)) {
    if (row.fields.length !== cols) throw new CsvError(`${what} line ${row.line}: ${row.fields.length} fields, expected ${cols} as in the header (a ragged row)`);
    const empty = row.fields.findIndex((f) => f.trim() === '');
    if (empty < 0) { kept.push(row); continue; }
    if (o.missing === 'drop') { dropped.push(row.line); continue; }
    throw new CsvError(`${what} line ${row.line}, column ${empty + 1} ('${header[empty]}'): empty field (a missing value: fill it in, or leave such rows out with --missing drop)`);
  }
  if (!kept.length) throw new CsvError(`${what}: every one of its ${rows.length - 1} data rows has an empty field (expected at least one complete row)`);
  const n = kept.length;
  const x = new Float32Array(n * F);
  const labels = kept.map((r) => r.fields[labelCol].trim());
  const task = o.task ?? inferTask(labels);
  for (let r = 0; r < n; r++) {
    const { line, fields } = kept[r];
    let k = 0;
    for (let c = 0; c < cols; c++) {
      if (c === labelCol) continue;
      x[r * F + k++] = cell(fields[c].trim(), what, line, c, header);
    }
  }
  const table: CsvTable = { features, label: header[labelCol], task, n, x, dropped };
  if (task === 'regression') {
    table.targets = new Float32Array(n);
    labels.forEach((s, r) => {
      const v = Number(s);
      if (!Number.isFinite(v)) throw new CsvError(`${what} line ${kept[r].line}, column ${labelCol + 1} ('${header[labelCol]}'): regression target '${s}' is not a number (expected a finite number; for classes pass --task classification)`);
      table.targets![r] = v;
    });
  } else {
    const distinct = [...new Set(labels)];
    const numeric = distinct.every((s) => s !== '' && Number.isFinite(Number(s)));
    distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
    const index = new Map(distinct.map((s, i) => [s, i]));
    table.classes = distinct;
    table.y = Int32Array.from(labels, (s) => index.get(s)!);
  }
  return table;
}

/** A table as a Dataset (features as a flat vector per row): class indices, or float targets of shape [1]. */
export function csvDataset(t: CsvTable): Dataset {
  if (t.task === 'regression') return { x: t.x, y: t.targets!, n: t.n, featureShape: [t.features.length], numClasses: 0, targetShape: [1] };
  return { x: t.x, y: t.y!, n: t.n, featureShape: [t.features.length], numClasses: t.classes!.length };
}

/**
 * Feature rows for prediction: the columns named `features` (by header, in that order; others, such as a label, are
 * ignored), or every column when `features` is undefined. Same error style as parseCsv.
 */
export function parseFeatureRows(text: string, features: string[] | undefined, what = 'csv', delimiter = ','): { x: Float32Array; n: number; columns: string[] } {
  const rows = parseCsvRows(text, what, delimiter);
  if (rows.length < 2) throw new CsvError(`${what}: expected a header row and at least one data row, found ${rows.length} row${rows.length === 1 ? '' : 's'}`);
  const header = headerOf(rows[0].fields, what);
  const columns = features ?? header;
  const cols = columns.map((name) => {
    const c = header.indexOf(name);
    if (c < 0) throw new CsvError(`${what}: no column named '${name}' (the model was trained on columns ${columns.join(', ')}; this header has ${header.join(', ')})`);
    return c;
  });
  const n = rows.length - 1, F = cols.length, x = new Float32Array(n * F);
  for (let r = 0; r < n; r++) {
    const { line, fields } = rows[r + 1];
    if (fields.length !== header.length) throw new CsvError(`${what} line ${line}: ${fields.length} fields, expected ${header.length} as in the header (a ragged row)`);
    cols.forEach((c, k) => {
      x[r * F + k] = cell(fields[c].trim(), what, line, c, header);
    });
  }
  return { x, n, columns };
}

/** A table's training and held-out rows, scaled with the training rows' statistics (which predict needs to read new rows alike). */
export interface TableSplit {
  train: Dataset; test: Dataset;
  features: { mean: number[]; std: number[] };
  /** Regression: the target's training mean and std (the targets are standardised too). */
  target?: { mean: number[]; std: number[] };
}

/**
 * The first `limit` rows of a table split at random (by `seed`) into training and held-out rows, a `testSplit`
 * fraction held out; features standardised with the training rows' mean and std, and for regression the targets
 * too. What `wgtrain train --data` and the browser demo train on. A side may come out empty: callers say so.
 */
export function splitTable(t: CsvTable, o: { testSplit: number; seed: number; limit?: number }): TableSplit {
  let all = csvDataset(t);
  if (o.limit !== undefined && o.limit < all.n) all = subset(all, Array.from({ length: o.limit }, (_, i) => i));
  const { train, val } = splitValidation(all, o.testSplit, o.seed);
  const features = columnStats(train.x, train.n);
  standardize(train.x, features);
  standardize(val.x, features);
  if (t.task !== 'regression') return { train, test: val, features };
  const target = columnStats(train.y as Float32Array, train.n);
  standardize(train.y as Float32Array, target);
  standardize(val.y as Float32Array, target);
  return { train, test: val, features, target };
}
