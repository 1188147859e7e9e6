// Activation modules. Parameter-free ones are Lambdas made by a factory, like ReLU() in module.ts; ones with an
// option are classes, like MaxPool2d; PReLU owns its slope Variable.
import { Tensor, Variable } from '../graph/tensor.js';
import { ShapeError } from '../graph/shape.js';
import * as act from '../graph/activations.js';
import { Module, Lambda } from './module.js';

export const Softplus = () => new Lambda('softplus', act.softplus);
/** GELU, tanh approximation (on both backends). */
export const GELU = () => new Lambda('gelu', act.gelu);
/** Log-softmax over the last axis. */
export const LogSoftmax = () => new Lambda('logSoftmax', act.logSoftmax);

export class LeakyReLU extends Module {
  constructor(readonly alpha = 0.01) { super(); }
  forward(x: Tensor): Tensor { return act.leakyRelu(x, this.alpha); }
}

export class ELU extends Module {
  constructor(readonly alpha = 1) { super(); }
  forward(x: Tensor): Tensor { return act.elu(x, this.alpha); }
}

/** [..., C·k] -> [..., C]: the max of each k consecutive features. */
export class Maxout extends Module {
  constructor(readonly k: number) { super(); }
  forward(x: Tensor): Tensor { return act.maxout(x, this.k); }
}

/**
 * Parametric ReLU with a learned slope per channel (dim 1), or one shared slope (channels = 1), as in PyTorch.
 * The slope starts at `init` (0.25, PyTorch's default) and is trained like any weight.
 */
export class PReLU extends Module {
  readonly slope: Variable;
  constructor(readonly channels = 1, init = 0.25, name = 'prelu') {
    super();
    if (!Number.isInteger(channels) || channels < 1) throw new ShapeError('PReLU', `channels must be a positive integer, got ${channels}`);
    this.slope = new Variable(new Float32Array(channels).fill(init), [channels], `${name}.slope`);
  }
  forward(x: Tensor): Tensor { return act.prelu(x, this.slope.tensor); }
  override parameters(): Variable[] { return [this.slope]; }
}
