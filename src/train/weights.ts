// Weights only, for inference: a model's parameters and buffers by name, as host arrays (stateDict, PyTorch's
// state_dict) or as safetensors bytes (saveWeights). Loading needs the model and a backend, nothing else: no
// optimizer and no compiled training graph. loadWeights also reads a training checkpoint's weights, leaving its
// optimizer state and counters aside. Files on disk: saveWeightsFile/loadWeightsFile in wgtrain/node.
import type { Backend } from '../backends/backend.js';
import type { Variable } from '../graph/tensor.js';
import { fmt } from '../graph/shape.js';
import type { Module } from '../nn/module.js';
import { namedVariables } from '../nn/state.js';
import { decodeSafetensors, encodeSafetensors, SafeTensor } from '../store/safetensors.js';
import { UserError } from '../util/errors.js';
import { CHECKPOINT_FORMAT } from './checkpoint.js';

export const WEIGHTS_FORMAT = 'wgtrain-weights';

/** Weights that do not fit the model they are loaded into; nothing was written. */
export class WeightsError extends UserError {
  override name = 'WeightsError';
  constructor(readonly source: string, detail: string) { super(`${source}: ${detail}`); }
}

const list = (a: string[]) => a.slice(0, 5).join(', ') + (a.length > 5 ? `, ... (${a.length} in all)` : '');

/** Host copies of every parameter and buffer of `model`, by variable name, in the model's order. */
export async function stateDict(backend: Backend, model: Module): Promise<Map<string, Float32Array>> {
  const vars = namedVariables(model);
  const values = await Promise.all([...vars.values()].map((v) => backend.readVariable(v)));
  return new Map([...vars.keys()].map((k, i) => [k, values[i]]));
}

/**
 * Write `dict` (name → values) into the model's variables on `backend`. Every name of the model must be present with
 * the right number of values, and no other name: all of it is checked before anything is written.
 */
export function loadStateDict(backend: Backend, model: Module, dict: ReadonlyMap<string, Float32Array> | Record<string, Float32Array>, source = 'loadStateDict'): void {
  const given = dict instanceof Map ? dict : new Map(Object.entries(dict));
  const writes = check(model, source, [...given.keys()], (name, v) => {
    const d = given.get(name)!;
    if (!(d instanceof Float32Array) || d.length !== v.size) {
      throw new WeightsError(source, `'${name}' has ${d instanceof Float32Array ? `${d.length} values` : `a ${(d as object)?.constructor?.name ?? typeof d}`}, expected a Float32Array of ${v.size} for shape ${fmt(v.shape)}`);
    }
    return d;
  });
  for (const [v, d] of writes) backend.writeVariable(v, d);
}

/** The model's weights as safetensors bytes (F32 tensors under their variable names); they open in PyTorch too. */
export async function saveWeights(backend: Backend, model: Module, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const vars = namedVariables(model);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, v] of vars) tensors.set(name, { dtype: 'F32', shape: [...v.shape], data: await backend.readVariable(v) });
  return encodeSafetensors(tensors, { ...metadata, format: WEIGHTS_FORMAT });
}

/**
 * Load weights saved by saveWeights, or the weights of a training checkpoint (its optimizer state and counters are
 * left aside), into `model` on `backend`. Names, shapes and dtypes are checked first; a mismatch changes nothing.
 */
export function loadWeights(backend: Backend, model: Module, bytes: Uint8Array, source = 'weights'): void {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const checkpoint = metadata.format === CHECKPOINT_FORMAT;
  if (!checkpoint && metadata.format !== WEIGHTS_FORMAT) {
    throw new WeightsError(source, `not wgtrain weights (its __metadata__ has format ${JSON.stringify(metadata.format)}, expected "${WEIGHTS_FORMAT}" or "${CHECKPOINT_FORMAT}")`);
  }
  const names = [...tensors.keys()];
  const writes = check(model, source, checkpoint ? names.filter((n) => namedVariables(model).has(n)) : names, (name, v) => {
    const t = tensors.get(name)!;
    if (t.dtype !== 'F32' || fmt(t.shape) !== fmt(v.shape)) throw new WeightsError(source, `'${name}' is ${t.dtype} ${fmt(t.shape)} in the file, but ${fmt(v.shape)} F32 in this model`);
    return t.array() as Float32Array;
  });
  for (const [v, d] of writes) backend.writeVariable(v, d);
}

/** Match `names` against the model's variables (both ways), then take each value; throws before any write. */
function check(model: Module, source: string, names: string[], value: (name: string, v: Variable) => Float32Array): Map<Variable, Float32Array> {
  const vars = namedVariables(model);
  const have = new Set(names);
  const missing = [...vars.keys()].filter((k) => !have.has(k)), unexpected = names.filter((k) => !vars.has(k));
  if (missing.length || unexpected.length) {
    throw new WeightsError(source, `the weights do not match this model: ${[missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `not in this model: ${list(unexpected)}` : ''].filter(Boolean).join('; ')}`);
  }
  return new Map([...vars].map(([name, v]) => [v, value(name, v)]));
}
