// `wgtrain predict`: classes (and probabilities) for new examples from a checkpoint written by `wgtrain train --save`,
// or for a regression, the predicted value in the target's units (un-scaled with the training rows' recorded statistics).
// The model comes from --model, or from the config the checkpoint recorded; a CSV-trained model also recorded its
// feature columns, their scaling and its class names, so new rows are read exactly as the training rows were.
import { createBackend, BackendName } from '../backends/index.js';
import type { Backend } from '../backends/backend.js';
import { input, Tensor, Variable } from '../graph/tensor.js';
import { fmt } from '../graph/shape.js';
import type { Module } from '../nn/module.js';
import { readIdxFile } from '../data/idx.js';
import { normalize, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { parseFeatureRows, standardize } from '../data/csv.js';
import { readCsvText } from '../data/csv_file.js';
import { unstandardize } from '../data/standardize.js';
import { CheckpointError } from '../train/checkpoint.js';
import { readCheckpoint } from '../train/checkpoint_file.js';
import { Rng } from '../util/rng.js';
import type { CsvInfo } from './data_arg.js';
import { recordedModel } from './recorded_model.js';
import { resolveModel, fromConfig, MODEL_FLAG_HELP, ResolvedModel } from './model_arg.js';
import { parse, intFlag, choice, UsageError } from './args.js';

export const PREDICT_HELP = `usage: wgtrain predict --weights CHECKPOINT --input FILE [options]

Prints one line per example: its index, the predicted class and, with --probs, every class's probability; for a
model trained as a regression, the predicted value in the target's units.

  --weights FILE      a checkpoint written by 'wgtrain train --save FILE'
  --input FILE        IDX images (unsigned bytes, N x 28 x 28 like MNIST's) or a CSV table with a header row
                      (a CSV-trained model picks its feature columns by name; other columns are ignored)
  --model NAME|FILE   ${MODEL_FLAG_HELP}  [the model recorded in the checkpoint]
  --backend NAME      webgpu or cpu  [webgpu]
  --probs             also print the class probabilities (softmax of the outputs)
  --limit N           only the first N examples
  --labels FILE       IDX labels for the images: also report the accuracy`;

/** Every value a model needs at evaluation: parameters and module buffers (batch-norm running statistics). */
function evalVariables(m: Module): Variable[] {
  const out = new Set<Variable>(m.parameters());
  const walk = (x: Module) => {
    for (const v of (x as { buffers?: () => Variable[] }).buffers?.() ?? []) out.add(v);
    x.children().forEach(walk);
  };
  walk(m);
  return [...out];
}

async function loadWeights(path: string, model: Module, backend: Backend, modelName: string): Promise<void> {
  const { tensors } = await readCheckpoint(path);
  const vars = evalVariables(model);
  const missing = vars.filter((v) => !tensors.has(v.name)).map((v) => v.name);
  if (missing.length) throw new CheckpointError(path, `it has no ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? `, ... (${missing.length} in all)` : ''} for model ${modelName} (was it saved from another model? pass the one it was trained with as --model)`);
  for (const v of vars) {
    const t = tensors.get(v.name)!;
    if (t.dtype !== 'F32' || fmt(t.shape) !== fmt(v.shape)) throw new CheckpointError(path, `tensor '${v.name}' is ${t.dtype} ${fmt(t.shape)} in the file but F32 ${fmt(v.shape)} in model ${modelName}`);
    const a = t.array() as Float32Array, bad = a.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new CheckpointError(path, `tensor '${v.name}' holds ${a[bad]} at element ${bad} (expected finite weights; was it saved from a diverged run?)`);
    backend.writeVariable(v, a);
  }
}

async function readInput(path: string, csv: CsvInfo | undefined, limit: number | undefined): Promise<{ x: Float32Array; n: number }> {
  if (path.toLowerCase().endsWith('.csv')) {
    const t = parseFeatureRows(await readCsvText(path), csv?.features, path);
    if (csv) {
      const raw = Float32Array.from(t.x);
      standardize(t.x, csv);
      const bad = t.x.findIndex((v) => !Number.isFinite(v)), F = t.columns.length;
      if (bad >= 0) {
        const c = bad % F;
        throw new UsageError(`predict: example ${Math.floor(bad / F)} of ${path}: column '${t.columns[c]}' (${Number(raw[bad].toPrecision(7))}) scaled as in training (mean ${csv.mean[c].toPrecision(4)}, std ${csv.std[c].toPrecision(4)}) is beyond float32's range`);
      }
    }
    const n = Math.min(t.n, limit ?? Infinity);
    return { x: t.x.subarray(0, n * t.columns.length), n };
  }
  if (csv) throw new UsageError(`predict: this model was trained on CSV columns (${csv.features.join(', ')}): --input must be a .csv file, got '${path}'`);
  const img = await readIdxFile(path);
  if (img.shape[0] === 0) throw new UsageError(`predict: --input ${path} holds 0 examples (header ${img.shape.join('x')}; expected at least one)`);
  const n = Math.min(img.shape[0], limit ?? Infinity), per = img.shape.slice(1).reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  return { x: normalize(x, MNIST_MEAN, MNIST_STD), n };
}

export async function predict(argv: string[]): Promise<void> {
  const f = parse('predict', argv, {
    weights: { type: 'string' }, input: { type: 'string' }, model: { type: 'string' }, backend: { type: 'string', default: 'webgpu' },
    probs: { type: 'boolean' }, limit: { type: 'string' }, labels: { type: 'string' },
  });
  if (typeof f.weights !== 'string') throw new UsageError(`predict: --weights CHECKPOINT is required (a file written by 'wgtrain train --save FILE')`);
  if (typeof f.input !== 'string') throw new UsageError(`predict: --input FILE is required (IDX images or a CSV table)`);
  const backendName = choice<BackendName>('predict', 'backend', f.backend, ['webgpu', 'cpu']);
  const limit = f.limit === undefined ? undefined : intFlag('predict', 'limit', f.limit);

  const { meta } = await readCheckpoint(f.weights);
  const recorded = recordedModel(f.weights, meta.model);
  const regression = recorded.csv?.task === 'regression', binary = recorded.loss === 'bce';
  if (f.probs && regression) throw new UsageError(`predict: --probs applies to classifiers, but ${f.weights} was trained as a regression of '${recorded.csv!.label}'`);
  let resolved: ResolvedModel;
  if (typeof f.model === 'string') resolved = await resolveModel('predict', f.model, new Rng(0));
  else if (recorded.config) resolved = fromConfig(recorded.config, new Rng(0), recorded.name ?? 'model', `${f.weights} (recorded model config)`);
  else if (recorded.name) resolved = await resolveModel('predict', recorded.name, new Rng(0));
  else throw new UsageError(`predict: ${f.weights} records no model; pass --model NAME|FILE`);

  const { x, n } = await readInput(f.input, recorded.csv, limit);
  const per = resolved.inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) throw new UsageError(`predict: model ${resolved.name} takes ${per} values per example, but ${f.input} has ${x.length / n}`);
  let labels: Uint8Array | undefined;
  if (typeof f.labels === 'string') {
    const l = await readIdxFile(f.labels);
    if (l.shape.length !== 1 || l.shape[0] < n) throw new UsageError(`predict: --labels ${f.labels} has shape ${l.shape.join('x')}, expected at least ${n} labels`);
    labels = l.data;
  }

  const backend = await createBackend(backendName);
  const { model } = resolved;
  model.eval();
  await loadWeights(f.weights, model, backend, resolved.name);
  const classes = recorded.csv?.classes;
  const B = Math.min(250, n);
  const xin = input([B, ...resolved.inputShape], 'f32', 'x');
  const logits = model.forward(xin);
  const ex = backend.compile([logits]);
  const batch = new Float32Array(B * per);
  const lines: string[] = [];
  let correct = 0;
  for (let s = 0; s < n; s += B) {
    const m = Math.min(B, n - s);
    batch.fill(0).set(x.subarray(s * per, (s + m) * per));
    ex.run(new Map<Tensor, Float32Array>([[xin, batch]]));
    const z = (await ex.read(logits)) as Float32Array;
    const C = z.length / B;
    const bad = z.subarray(0, m * C).findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UsageError(`predict: example ${s + Math.floor(bad / C)} of ${f.input}: the model's output ${bad % C} is ${z[bad]} (expected finite values; the example's values may be far outside what the model was trained on)`);
    if (regression) {
      const csv = recorded.csv!;
      const v = unstandardize(z.slice(0, m * C), { mean: csv.targetMean!, std: csv.targetStd! });
      for (let i = 0; i < m; i++) lines.push(`${s + i}\t${Array.from(v.subarray(i * C, (i + 1) * C), (x) => Number(x.toPrecision(6))).join(' ')}`);
      continue;
    }
    if (binary) {
      // One logit: class 1 when it is positive; --probs gives both classes' probabilities.
      for (let i = 0; i < m; i++) {
        const p1 = 1 / (1 + Math.exp(-z[i])), best = z[i] > 0 ? 1 : 0;
        if (labels && labels[s + i] === best) correct++;
        lines.push(`${s + i}\t${classes?.[best] ?? best}${f.probs ? `\t${(1 - p1).toFixed(4)} ${p1.toFixed(4)}` : ''}`);
      }
      continue;
    }
    for (let i = 0; i < m; i++) {
      const row = z.subarray(i * C, (i + 1) * C);
      let best = 0;
      for (let c = 1; c < C; c++) if (row[c] > row[best]) best = c;
      if (labels && labels[s + i] === best) correct++;
      let line = `${s + i}\t${classes?.[best] ?? best}`;
      if (f.probs) {
        const e = Array.from(row, (v) => Math.exp(v - row[best])), sum = e.reduce((a, b) => a + b, 0);
        line += '\t' + e.map((v) => (v / sum).toFixed(4)).join(' ');
      }
      lines.push(line);
    }
  }
  ex.dispose();
  backend.dispose();
  console.log(lines.join('\n'));
  if (labels) console.error(`accuracy ${((correct / n) * 100).toFixed(2)}% on ${n} examples`);
}
