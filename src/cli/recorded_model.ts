// What a checkpoint says about its model (`__metadata__.model`), validated as strictly as a model file before
// predict or a resumed run uses it: the checkpoint is a user's file and may have been edited or damaged, and a
// malformed field would otherwise surface as a TypeError deep inside (`csv.features.join is not a function`).
import type { ModelConfig } from '../nn/config.js';
import { MAX_CONFIG_DEPTH, jsonDepth } from '../nn/budget.js';
import { CheckpointError } from '../train/checkpoint.js';
import type { CsvInfo } from './data_arg.js';

export interface RecordedModel { name?: string; config?: ModelConfig; csv?: CsvInfo; loss?: string }

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isNumbers = (v: unknown, n: number): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));

export function recordedModel(file: string, model: unknown): RecordedModel {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new CheckpointError(file, `metadata field 'model.${field}' is ${JSON.stringify(got)?.slice(0, 80)}, expected ${expected}`);
  };
  if (jsonDepth(model, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH) throw new CheckpointError(file, `metadata field 'model' is nested more than ${MAX_CONFIG_DEPTH} levels deep`);
  const m = model as Record<string, unknown>;
  if (m.name !== undefined && typeof m.name !== 'string') fail('name', 'a string', m.name);
  if (m.config !== undefined && (typeof m.config !== 'object' || m.config === null || Array.isArray(m.config))) fail('config', 'a model config object', m.config);
  if (m.csv !== undefined) {
    const c = m.csv as Record<string, unknown>;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) fail('csv', 'an object {label, features, classes, mean, std}', c);
    if (typeof c.label !== 'string') fail('csv.label', 'a string', c.label);
    if (!isStrings(c.features) || !c.features.length || new Set(c.features).size !== c.features.length) fail('csv.features', 'a non-empty array of distinct column names', c.features);
    if (c.task !== undefined && c.task !== 'classification' && c.task !== 'regression') fail('csv.task', "'classification' or 'regression'", c.task);
    const regression = c.task === 'regression';
    if (!isStrings(c.classes) || (!regression && !c.classes.length)) fail('csv.classes', regression ? 'an array' : 'a non-empty array of class names', c.classes);
    if (regression) {
      const T = Array.isArray(c.targetMean) ? c.targetMean.length : 0;
      if (!T || !isNumbers(c.targetMean, T)) fail('csv.targetMean', 'finite numbers (the target\'s training mean)', c.targetMean);
      if (!isNumbers(c.targetStd, T) || (c.targetStd as number[]).some((s) => s <= 0)) fail('csv.targetStd', `${T} positive numbers`, c.targetStd);
    }
    const F = (c.features as string[]).length;
    if (!isNumbers(c.mean, F)) fail('csv.mean', `${F} finite numbers (one per feature)`, c.mean);
    if (!isNumbers(c.std, F) || (c.std as number[]).some((s) => s <= 0)) fail('csv.std', `${F} positive numbers (one per feature)`, c.std);
  }
  if (m.loss !== undefined && typeof m.loss !== 'string') fail('loss', 'a loss name', m.loss);
  return m as RecordedModel;
}
