// The CSV loader: classification (label mapping) and regression, quoting, label by name or index, and errors that
// name the line and column.
import { describe, it, expect } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv, csvDataset, columnStats, standardize, CsvError } from '../src/data/csv.js';
import { loadCsv } from '../src/data/csv_file.js';

const IRIS = `sepal_length,sepal_width,species\r\n5.1,3.5,setosa\r\n7.0,3.2,versicolor\r\n6.3,3.3,virginica\r\n4.9,3.0,setosa\r\n\r\n`;

describe('CSV loader', () => {
  it('classification: features in column order, labels mapped to classes in text order', () => {
    const t = parseCsv(IRIS, { label: 'species' });
    expect(t.features).toEqual(['sepal_length', 'sepal_width']);
    expect(t.n).toBe(4);
    expect(Array.from(t.x)).toEqual(Array.from(Float32Array.from([5.1, 3.5, 7.0, 3.2, 6.3, 3.3, 4.9, 3.0])));
    expect(t.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(t.y!)).toEqual([0, 1, 2, 0]);
    const ds = csvDataset(t);
    expect(ds.featureShape).toEqual([2]);
    expect(ds.numClasses).toBe(3);
  });

  it('numeric labels sort numerically; the label may be given by index and sit anywhere', () => {
    const t = parseCsv('y,a,b\n10,1,2\n2,3,4\n10,5,6\n9,7,8\n', { label: 0 });
    expect(t.classes).toEqual(['2', '9', '10']);
    expect(Array.from(t.y!)).toEqual([2, 0, 2, 1]);
    expect(t.features).toEqual(['a', 'b']);
  });

  it('regression keeps float targets; quoted fields hold commas, quotes and newlines', () => {
    const t = parseCsv('"a, first",b,"price ""usd"""\n1,2,3.5\n"4",5,-1e3\n', { label: 'price "usd"', task: 'regression' });
    expect(t.features).toEqual(['a, first', 'b']);
    expect(Array.from(t.targets!)).toEqual([3.5, -1000]);
    expect(t.y).toBeUndefined();
    const q = parseCsv('a,label\n1,"two\nlines"\n3,x\n', { label: 'label' });
    expect(q.classes).toEqual(['two\nlines', 'x']);
  });

  it('errors name the file, line and column', () => {
    const bad = (text: string, label: string | number, re: RegExp, task?: 'regression') => expect(() => parseCsv(text, { label, task }, 'd.csv')).toThrow(re);
    bad('a,b,y\n1,2,x\n3,oops,y\n', 'y', /^d\.csv line 3, column 2 \('b'\): 'oops' is not a number \(expected a finite number\)$/);
    bad('a,b,y\n1,2,x\n3,,y\n', 'y', /line 3, column 2 \('b'\): empty field/);
    bad('a,b,y\n1,2,x\n\n3,4\n', 'y', /^d\.csv line 4: 2 fields, expected 3 as in the header \(a ragged row\)$/);
    bad('a,b,y\n1,2,x\n', 'label', /no column named 'label' for the label \(the header has: a, b, y\)/);
    bad('a,b,y\n1,2,x\n', 3, /label column index 3 is out of range \(expected 0\.\.2/);
    bad('a,b,y\n', 'y', /expected a header row and at least one data row, found 1 row$/);
    bad('y\n1\n', 'y', /no feature columns besides the label 'y'/);
    bad('a,y\n1,"x\n', 'y', /line 2: a quoted field is never closed/);
    bad('a,y\n1,2\n2,cheap\n', 'y', /line 3, column 2 \('y'\): regression target 'cheap' is not a number/, 'regression');
    expect(() => parseCsv('a,y\n1,2\n', { label: 'y', task: 'regression' }, 'd.csv')).not.toThrow();
  });

  it('reads a file, and names a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtrain-csv-'));
    writeFileSync(join(dir, 'iris.csv'), IRIS);
    expect((await loadCsv(join(dir, 'iris.csv'), { label: 'species' })).n).toBe(4);
    await expect(loadCsv(join(dir, 'nope.csv'), { label: 'y' })).rejects.toThrow(CsvError);
    await expect(loadCsv(join(dir, 'nope.csv'), { label: 'y' })).rejects.toThrow(/nope\.csv: cannot read \(ENOENT/);
  });

  it('standardize: zero mean, unit variance per column; a constant column stays finite', () => {
    const x = Float32Array.from([1, 5, 3, 5, 5, 5]);
    const s = columnStats(x, 3);
    expect(s.mean).toEqual([3, 5]);
    expect(s.std[1]).toBe(1);
    standardize(x, s);
    expect(Array.from(x).map((v) => +v.toFixed(4))).toEqual([-1.2247, 0, 0, 0, 1.2247, 0]);
  });
});
