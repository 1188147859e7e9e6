// Model selection on top of fit: k-fold cross-validation, a bagging ensemble, and grid and random search over
// hyper-parameters. Each fold, member or trial trains a fresh model (TrainerSpec) and is disposed when scored.
import { Dataset, subset, permutation } from '../data/dataset.js';
import { Rng, hash32 } from '../util/rng.js';
import { fit, FitOptions, History, TrainerSpec, buildTrainer, softmaxRows, Monitor } from './fit.js';
import type { ClassifierTrainer } from './trainer.js';
import { OptionError } from '../util/errors.js';

const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: m, std: Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) };
};

export interface FoldResult { fold: number; n: number; loss: number; accuracy: number; history: History }
export interface KFoldResult { folds: FoldResult[]; mean: { loss: number; accuracy: number }; std: { loss: number; accuracy: number } }

/**
 * k-fold cross-validation: the rows are shuffled by `seed` and cut into k folds of sizes differing by at most one;
 * fold i validates a model trained on the other k-1. Loss and accuracy are the held-out fold's, after training
 * (after any restoreBestWeights); std is the population standard deviation over folds.
 */
export async function kFold(k: number, spec: TrainerSpec, data: Dataset, fitOptions: FitOptions, o: { seed?: number } = {}): Promise<KFoldResult> {
  if (!(Number.isInteger(k) && k >= 2 && k <= data.n)) throw new OptionError(`kFold: k must be an integer in [2, ${data.n}] (the number of rows), got ${k}`);
  if (fitOptions.validationSplit || fitOptions.validationData) throw new OptionError('kFold: the held-out fold is the validation data; leave validationSplit and validationData unset');
  const seed = o.seed ?? 0;
  const order = permutation(data.n, new Rng(hash32(seed, k, 0xf01d)));
  const folds: FoldResult[] = [];
  for (let i = 0; i < k; i++) {
    const lo = Math.floor((i * data.n) / k), hi = Math.floor(((i + 1) * data.n) / k);
    const val = subset(data, order.subarray(lo, hi));
    const train = subset(data, [...order.subarray(0, lo), ...order.subarray(hi)]);
    const t = buildTrainer(spec, data.featureShape, seed);
    try {
      const history = await fit(t, train, { ...fitOptions, validationData: val });
      const r = await t.evaluate(val, fitOptions.evalBatchSize);
      folds.push({ fold: i, n: val.n, loss: r.loss, accuracy: r.accuracy, history });
    } finally { t.dispose(); }
  }
  const l = meanStd(folds.map((f) => f.loss)), a = meanStd(folds.map((f) => f.accuracy));
  return { folds, mean: { loss: l.mean, accuracy: a.mean }, std: { loss: l.std, accuracy: a.std } };
}

/** n rows drawn with replacement. */
export function bootstrap(data: Dataset, rng: Rng): Dataset {
  return subset(data, Int32Array.from({ length: data.n }, () => rng.int(data.n)));
}

/** A bagging ensemble: members trained on bootstrap samples, predicting the average of their class probabilities. */
export class Bagging {
  private constructor(readonly members: ClassifierTrainer[]) {}

  /** Train `size` members, member i on bootstrap sample i with initialisation seed seed + i. */
  static async train(size: number, spec: TrainerSpec, data: Dataset, fitOptions: FitOptions, o: { seed?: number } = {}): Promise<Bagging> {
    if (!(Number.isInteger(size) && size >= 1)) throw new OptionError(`Bagging: size must be a positive integer, got ${size}`);
    const seed = o.seed ?? 0, members: ClassifierTrainer[] = [];
    for (let i = 0; i < size; i++) {
      const t = buildTrainer(spec, data.featureShape, seed + i);
      members.push(t);
      await fit(t, bootstrap(data, new Rng(hash32(seed, i, 0xba9))), { ...fitOptions, seed: seed + i });
    }
    return new Bagging(members);
  }

  /** Each member's class probabilities for n rows, and their mean. */
  async predictAll(x: Float32Array, n: number): Promise<{ members: Float32Array[]; mean: Float32Array }> {
    const members: Float32Array[] = [];
    for (const t of this.members) members.push(softmaxRows(await t.predict(x, n), n));
    const mean = new Float32Array(members[0].length);
    for (const p of members) for (let j = 0; j < mean.length; j++) mean[j] += p[j] / members.length;
    return { members, mean };
  }

  async predictProba(x: Float32Array, n: number): Promise<Float32Array> { return (await this.predictAll(x, n)).mean; }

  /** The ensemble's accuracy on `ds` beside each member's. */
  async evaluate(ds: Dataset): Promise<{ accuracy: number; memberAccuracies: number[]; meanMemberAccuracy: number }> {
    const { members, mean } = await this.predictAll(ds.x, ds.n);
    const memberAccuracies = members.map((p) => accuracyOf(p, ds));
    return { accuracy: accuracyOf(mean, ds), memberAccuracies, meanMemberAccuracy: meanStd(memberAccuracies).mean };
  }

  dispose(): void { this.members.forEach((t) => t.dispose()); }
}

/** Argmax accuracy of per-row scores against ds.y (ties go to the first class). */
export function accuracyOf(scores: Float32Array, ds: Dataset): number {
  const C = scores.length / ds.n;
  let correct = 0;
  for (let i = 0; i < ds.n; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (scores[i * C + c] > scores[i * C + best]) best = c;
    if (best === ds.y[i]) correct++;
  }
  return correct / ds.n;
}

export type Params = Record<string, number | string | boolean>;
/** A trial's set-up from its hyper-parameters. */
export type Trial = (p: Params) => { spec: TrainerSpec; fit: FitOptions };
export interface SearchOptions {
  /** Validation fraction held out of `data` [0.2], the same rows for every trial. */
  validationSplit?: number;
  /** What ranks trials [val_loss]; lower is better for losses, higher for accuracies. */
  monitor?: Monitor & ('val_loss' | 'val_accuracy');
  seed?: number;
}
export interface SearchResult { params: Params; score: number; val_loss: number; val_accuracy: number; history: History }

async function runTrials(trials: Params[], trial: Trial, data: Dataset, o: SearchOptions): Promise<SearchResult[]> {
  const seed = o.seed ?? 0, monitor = o.monitor ?? 'val_loss';
  const p = permutation(data.n, new Rng(hash32(seed, data.n, 0x5ea7)));
  const nVal = Math.round((o.validationSplit ?? 0.2) * data.n);
  if (nVal < 1 || nVal >= data.n) throw new OptionError(`search: validationSplit ${o.validationSplit ?? 0.2} leaves ${nVal} of ${data.n} rows for validation (expected at least 1, and 1 for training)`);
  const val = subset(data, p.subarray(0, nVal)), train = subset(data, p.subarray(nVal));
  const results: SearchResult[] = [];
  for (const params of trials) {
    const { spec, fit: fo } = trial(params);
    const t = buildTrainer(spec, data.featureShape, seed);
    try {
      const history = await fit(t, train, { ...fo, validationSplit: undefined, validationData: val });
      const r = await t.evaluate(val, fo.evalBatchSize);
      results.push({ params, score: monitor === 'val_loss' ? r.loss : r.accuracy, val_loss: r.loss, val_accuracy: r.accuracy, history });
    } finally { t.dispose(); }
  }
  // NaN scores (a diverged trial) sort last.
  const key = (r: SearchResult) => (Number.isNaN(r.score) ? Infinity : monitor === 'val_loss' ? r.score : -r.score);
  return results.sort((a, b) => key(a) - key(b));
}

/** Every combination of the listed values, in order (the last key varies fastest). Results best first. */
export async function gridSearch(space: Record<string, readonly (number | string | boolean)[]>, trial: Trial, data: Dataset, o: SearchOptions = {}): Promise<SearchResult[]> {
  let combos: Params[] = [{}];
  for (const [k, values] of Object.entries(space)) {
    if (values.length === 0) throw new OptionError(`gridSearch: '${k}' has no values`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  }
  return runTrials(combos, trial, data, o);
}

/** A list to choose from, or a range: uniform, or log-uniform (log: true), rounded when int. */
export type Distribution = readonly (number | string | boolean)[] | { min: number; max: number; log?: boolean; int?: boolean };

export function sampleParams(space: Record<string, Distribution>, rng: Rng): Params {
  const p: Params = {};
  for (const [k, d] of Object.entries(space)) {
    if (Array.isArray(d)) { p[k] = d[rng.int(d.length)]; continue; }
    const { min, max, log, int } = d as Exclude<Distribution, readonly unknown[]>;
    if (!(max >= min) || (log && !(min > 0))) throw new OptionError(`randomSearch: '${k}' has a bad range [${min}, ${max}]${log ? ' (log needs min > 0)' : ''}`);
    const u = rng.next();
    const v = log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min);
    p[k] = int ? Math.min(max, Math.round(v)) : v;
  }
  return p;
}

/** `trials` draws from `space` (seeded). Results best first. */
export async function randomSearch(space: Record<string, Distribution>, trials: number, trial: Trial, data: Dataset, o: SearchOptions = {}): Promise<SearchResult[]> {
  const rng = new Rng(hash32(o.seed ?? 0, trials, 0x4a4d));
  return runTrials(Array.from({ length: trials }, () => sampleParams(space, rng)), trial, data, o);
}
