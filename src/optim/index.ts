// Optimizers by name, for the command line and config files.
import { Optimizer } from './optimizer.js';
import { SGD } from './sgd.js';
import { Adam, AdamW, NAdam, RMSprop, Adagrad, Adadelta } from './adaptive.js';
import { OptionError } from '../util/errors.js';

export { SGD } from './sgd.js';
export { Adam, AdamW, NAdam, RMSprop, Adagrad, Adadelta } from './adaptive.js';
export { clipGradNorm, globalNorm } from './clip.js';
export type { Optimizer } from './optimizer.js';

type Options = Record<string, unknown>;

/** Each optimizer's constructor, the options it takes, and its default learning rate (PyTorch's; SGD: the CLI's). */
const OPTIMIZERS: Record<string, { make: (o: Options) => Optimizer; options: string[]; lr: number }> = {
  sgd: { make: (o) => new SGD(o as never), options: ['lr', 'momentum', 'nesterov', 'weightDecay'], lr: 0.03 },
  adam: { make: (o) => new Adam(o), options: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'], lr: 1e-3 },
  adamw: { make: (o) => new AdamW(o), options: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'], lr: 1e-3 },
  rmsprop: { make: (o) => new RMSprop(o), options: ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered'], lr: 1e-2 },
  adagrad: { make: (o) => new Adagrad(o), options: ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps'], lr: 1e-2 },
  adadelta: { make: (o) => new Adadelta(o), options: ['lr', 'rho', 'eps', 'weightDecay'], lr: 1 },
  nadam: { make: (o) => new NAdam(o), options: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'momentumDecay', 'decoupledWeightDecay'], lr: 2e-3 },
};

export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS);

/** The learning rate `name` uses when none is given. */
export function defaultLr(name: string): number {
  return lookup(name).lr;
}

function lookup(name: string) {
  const o = OPTIMIZERS[name];
  if (!o) throw new OptionError(`makeOptimizer: unknown optimizer '${name}' (expected one of ${OPTIMIZER_NAMES.join(', ')})`);
  return o;
}

/**
 * An optimizer by name. Options are the constructor's (camelCase, as `config()` reports them, so a config's
 * `{ kind, ...options }` round-trips); undefined values are dropped, unknown ones are an error.
 */
export function makeOptimizer(name: string, options: Options = {}): Optimizer {
  const o = lookup(name);
  const given = Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'kind'));
  for (const k of Object.keys(given)) {
    if (!o.options.includes(k)) throw new OptionError(`makeOptimizer: ${name} has no option '${k}' (it takes ${o.options.join(', ')})`);
  }
  return o.make({ lr: o.lr, ...given });
}
