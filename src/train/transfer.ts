// Transfer learning: start a model from another run's weights where they fit (initFrom: by name and shape, the rest
// keeps its initialisation), and freeze layers by name so that fine-tuning trains only the others. Freezing itself
// lives in the trainer (ClassifierTrainer.frozen, filled from modules marked trainable = false); this file turns the
// names a person types into parameters and says exactly what did and did not match.
import type { Backend } from '../backends/backend.js';
import type { Variable } from '../graph/tensor.js';
import { fmt } from '../graph/shape.js';
import type { Module } from '../nn/module.js';
import type { ReadTensor } from '../store/safetensors.js';
import { namedVariables } from '../nn/state.js';

/** What initFrom did: tensors loaded, model variables left as they were, and checkpoint tensors not used. */
export interface InitReport {
  loaded: string[];
  /** Model variables the source has no tensor for. */
  missing: string[];
  /** Names in both whose shapes (or dtype) differ: `name [file shape] vs [model shape]`. */
  mismatched: string[];
  /** Source tensors of no model variable (optimizer state, counters, other layers). */
  unused: string[];
}

/**
 * Write every source tensor whose name and shape (F32) match one of the model's parameters or buffers into it; leave
 * the others as they are. Returns what matched and what did not, for the caller to show.
 */
export function initFrom(backend: Backend, model: Module, tensors: ReadonlyMap<string, ReadTensor>): InitReport {
  const vars = namedVariables(model);
  const r: InitReport = { loaded: [], missing: [], mismatched: [], unused: [] };
  for (const [name, v] of vars) {
    const t = tensors.get(name);
    if (!t) { r.missing.push(name); continue; }
    if (t.dtype !== 'F32' || fmt(t.shape) !== fmt(v.shape)) { r.mismatched.push(`${name} ${t.dtype} ${fmt(t.shape)} vs ${fmt(v.shape)}`); continue; }
    backend.writeVariable(v, t.array() as Float32Array);
    r.loaded.push(name);
  }
  for (const name of tensors.keys()) if (!vars.has(name)) r.unused.push(name);
  return r;
}

/** The layer names of a model's parameters: each parameter's name up to its last dot (conv1 for conv1.weight). */
export function layerNames(model: Module): string[] {
  return [...new Set(model.parameters().map((p) => p.name.replace(/\.[^.]*$/, '')))];
}

/**
 * The parameters under each of `names` (a layer, or a prefix of layers such as block1): `conv1` takes conv1.weight
 * and conv1.bias. Throws a RangeError naming the unknown names and listing the valid ones.
 */
export function parametersNamed(model: Module, names: readonly string[]): Variable[] {
  const params = model.parameters();
  const under = (name: string) => params.filter((p) => p.name.startsWith(`${name}.`));
  const unknown = names.filter((n) => under(n).length === 0);
  if (unknown.length) throw new RangeError(`no layer named ${unknown.map((n) => `'${n}'`).join(', ')} (this model's layers: ${layerNames(model).join(', ')})`);
  return [...new Set(names.flatMap(under))];
}
