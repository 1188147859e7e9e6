// The README's regression example: the cars table of the npm package vega-datasets (a devDependency, so nothing is
// downloaded at run time) as a CSV wgtrain reads. Miles per gallon is the target; the year becomes a number and the
// origin three 0/1 columns; a missing value (null in the JSON) becomes an empty field, which `wgtrain train
// --missing drop` leaves out with the rest of its row. Usage: node scripts/cars_csv.mjs [OUT.csv]  [stdout]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// The package exports only its loader (build/index.js); its data files sit beside it in data/.
const path = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data', 'cars.json');
const cars = JSON.parse(readFileSync(path, 'utf8'));
const origins = ['USA', 'Europe', 'Japan'];
const header = ['mpg', 'cylinders', 'displacement', 'horsepower', 'weight', 'acceleration', 'year', ...origins.map((o) => `origin_${o.toLowerCase()}`)];
const field = (v) => (v === null || v === undefined ? '' : String(v));
const rows = cars.map((c) => [
  c.Miles_per_Gallon, c.Cylinders, c.Displacement, c.Horsepower, c.Weight_in_lbs, c.Acceleration,
  c.Year === null ? null : Number(String(c.Year).slice(0, 4)), ...origins.map((o) => (c.Origin === null ? null : Number(c.Origin === o))),
].map(field).join(','));
const csv = [header.join(','), ...rows].join('\n') + '\n';
if (process.argv[2]) writeFileSync(process.argv[2], csv);
else process.stdout.write(csv);
