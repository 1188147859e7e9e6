// A model's state by name: its parameters and module buffers (batch norm's running statistics), the values a
// checkpoint or a weights file holds. Names must be unique, and that is checked when a training step is compiled,
// not discovered when the first save fails after hours of training.
import type { Variable } from '../graph/tensor.js';
import type { Module } from './module.js';
import { UserError } from '../util/errors.js';

/** Two different variables of one model share a name: a save could not tell them apart. */
export class ParameterNameError extends UserError {
  override name = 'ParameterNameError';
}

/** Every variable a model's outputs depend on: parameters, then state such as batch norm's running statistics. */
export function modelVariables(m: Module): Variable[] {
  const own = (x: Module): Variable[] => {
    const b = (x as Partial<{ buffers(): Variable[] }>).buffers;
    return typeof b === 'function' ? b.call(x) : [];
  };
  const seen = new Set<Module>();
  const walk = (x: Module): Variable[] => {
    if (seen.has(x)) return []; // a shared layer holds the same buffers
    seen.add(x);
    return [...own(x), ...x.children().flatMap(walk)];
  };
  return [...m.parameters(), ...walk(m)];
}

/**
 * The model's variables by name. The same variable reached twice (a shared layer) counts once; two different ones
 * with one name throw `error(detail)` (ParameterNameError by default), naming both and the option that fixes it.
 */
export function namedVariables(m: Module, error: (detail: string) => Error = (d) => new ParameterNameError(d)): Map<string, Variable> {
  const byName = new Map<string, Variable>();
  const params = new Set(m.parameters());
  for (const v of modelVariables(m)) {
    const prev = byName.get(v.name);
    if (prev === v) continue;
    if (prev) {
      const what = (x: Variable) => (params.has(x) ? `a parameter ${x.shape.length ? `[${x.shape.join(',')}]` : ''}` : 'a module buffer');
      throw error(`two different variables are named '${v.name}' (${what(prev)} and ${what(v)}); give the modules distinct names (e.g. the name option of Linear, Conv2d, BatchNorm)`);
    }
    byName.set(v.name, v);
  }
  return byName;
}
