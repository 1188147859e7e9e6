// `--model NAME|FILE.json`, shared by every command that takes a model: a named model or a JSON model config.
import { existsSync } from 'node:fs';
import { Rng } from '../util/rng.js';
import { MODEL_CONFIGS, ModelConfig, buildModel, BuiltModel } from '../nn/config.js';
import { loadModelConfig } from '../nn/config_file.js';
import { MODELS } from '../nn/models.js';
import { input } from '../graph/tensor.js';
import type { Backend } from '../backends/backend.js';
import { Dataset, isRegression, targetsPerRow } from '../data/dataset.js';
import { UsageError } from './args.js';

export interface ResolvedModel extends BuiltModel {
  /** The name, or the config file's path. */
  name: string;
  description: string;
  /** What a checkpoint records so that `wgtrain predict` can rebuild the model without --model (absent for a named model without a config). */
  config?: ModelConfig;
}

export const MODEL_FLAG_HELP = `${Object.entries(MODELS).map(([k, m]) => `${k} (${m.description})`).join(', ')}, or a JSON model file`;

const looksLikeFile = (arg: string) => arg.endsWith('.json') || arg.includes('/') || existsSync(arg);


export function describeConfig(c: ModelConfig): string {
  return c.description ?? `${c.layers.map((l) => l.type).join('-')} on input [${c.input.join(', ')}]`;
}

/** Builds the model a --model value names. Config mistakes surface as ConfigErrors (exit code 2). */
export async function resolveModel(command: string, arg: string, rng: Rng): Promise<ResolvedModel> {
  if (Object.hasOwn(MODEL_CONFIGS, arg)) return fromConfig(MODEL_CONFIGS[arg], rng, arg, `model ${arg}`);
  if (Object.hasOwn(MODELS, arg)) {
    // A named model written as code: every named model reads MNIST's [28, 28] images.
    const model = MODELS[arg].build(rng);
    const outputShape = model.forward(input([2, 28, 28])).shape.slice(1);
    const parameterCount = model.parameters().reduce((a, p) => a + p.size, 0);
    return { model: model.train(), inputShape: [28, 28], outputShape, parameterCount, name: arg, description: MODELS[arg].description };
  }
  if (!looksLikeFile(arg)) throw new UsageError(`${command}: unknown model '${arg}' (expected one of ${Object.keys(MODELS).join(', ')}, or a JSON model file such as net.json)`);
  return fromConfig(await loadModelConfig(arg), rng, arg, arg);
}

/** Builds a model from a config already in hand (a checkpoint's, for predict). */
export function fromConfig(config: ModelConfig, rng: Rng, name: string, source: string): ResolvedModel {
  return { ...buildModel(config, rng, source), name, description: describeConfig(config), config };
}

/** The model must take the data's examples and give at least one score per class; say so before compiling anything. */
export function checkModelFits(command: string, m: ResolvedModel, ds: Dataset): void {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (size(m.inputShape) !== size(ds.featureShape)) {
    throw new UsageError(`${command}: model ${m.name} takes examples of shape [${m.inputShape.join(', ')}] (${size(m.inputShape)} values), but the data's are [${ds.featureShape.join(', ')}] (${size(ds.featureShape)} values); set "input" in a model file to match`);
  }
  if (isRegression(ds)) {
    const t = targetsPerRow(ds);
    if (size(m.outputShape) !== t) throw new UsageError(`${command}: model ${m.name} outputs [${m.outputShape.join(', ')}] per example, but each target has ${t} value${t === 1 ? '' : 's'} (expected a last layer with "out": ${t})`);
    return;
  }
  if (m.outputShape.length !== 1 || m.outputShape[0] < ds.numClasses) {
    throw new UsageError(`${command}: model ${m.name} outputs [${m.outputShape.join(', ')}] per example, but the data has ${ds.numClasses} classes (expected a last layer with "out": ${ds.numClasses})`);
  }
}

/**
 * Every layer's activations at this batch size, and every parameter, must fit one storage binding of the device:
 * said here with the layer named, before the plan is compiled (the backend would name only a buffer).
 */
export function checkDeviceFits(command: string, m: ResolvedModel, batchSize: number, backend: Backend): void {
  const limit = (backend as { limits?: GPUSupportedLimits }).limits?.maxStorageBufferBindingSize;
  if (limit === undefined) return;
  const over = (bytes: number) => bytes > limit;
  for (const a of m.activations ?? []) {
    const bytes = batchSize * a.shape.reduce((x, y) => x * y, 1) * 4;
    if (over(bytes)) throw new UsageError(`${command}: ${a.where}: at --batch-size ${batchSize} its activations [${batchSize}, ${a.shape.join(', ')}] need ${bytes} bytes, more than this adapter's maxStorageBufferBindingSize of ${limit} (use a smaller --batch-size)`);
  }
  for (const p of m.model.parameters()) {
    if (over(p.size * 4)) throw new UsageError(`${command}: model ${m.name}: parameter ${p.name} [${p.shape.join(', ')}] needs ${p.size * 4} bytes, more than this adapter's maxStorageBufferBindingSize of ${limit}`);
  }
}

/** The model `train --data` uses without --model: an MLP sized to the table, F inputs to `out` outputs. */
export function tableModel(features: number, out: number, rng: Rng): ResolvedModel {
  const config: ModelConfig = {
    description: `table MLP ${features}-64-64-${out} (ReLU)`, input: [features],
    layers: [{ type: 'linear', out: 64, name: 'fc1' }, { type: 'relu' }, { type: 'linear', out: 64, name: 'fc2' }, { type: 'relu' }, { type: 'linear', out, name: 'fc3' }],
  };
  return fromConfig(config, rng, 'table-mlp', 'the default table model');
}
