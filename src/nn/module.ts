// Modules build graph: forward(x) returns a Tensor expression, so the same model object serves training graphs,
// evaluation graphs and any batch size. Parameters are Variables, living on whichever backend runs them.
import { Tensor, Variable } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { ShapeError, fmt } from '../graph/shape.js';
import { Rng, defaultRng } from '../util/rng.js';
import { initWeights, InitName } from './init.js';

export abstract class Module {
  training = true;
  /**
   * false freezes the module's parameters and its children's (Keras's `trainable`): a trainer built on the model
   * leaves them out of its step (no gradient, no optimizer state, no update). Read when the trainer is made.
   */
  trainable = true;
  abstract forward(x: Tensor): Tensor;
  /**
   * The Variables held in its own properties (those buffers() lists aside), then its children's parameters, each
   * once (a layer used twice is one set of weights), as PyTorch registers nn.Parameter attributes.
   */
  parameters(): Variable[] {
    const buffers = new Set((this as Partial<{ buffers(): Variable[] }>).buffers?.call(this) ?? []);
    const own = Object.values(this).filter((v): v is Variable => v instanceof Variable && !buffers.has(v));
    return [...new Set([...own, ...this.children().flatMap((c) => c.parameters())])];
  }
  /**
   * The modules this one holds, found in its own properties (a module, or an array of modules) in the order they
   * were assigned, as PyTorch registers attributes: a custom module needs no hand-written list. Override it to
   * choose another order or to hide a module.
   */
  children(): Module[] {
    const found = new Set<Module>();
    for (const v of Object.values(this)) {
      if (v instanceof Module) found.add(v);
      else if (Array.isArray(v)) for (const x of v) if (x instanceof Module) found.add(x);
    }
    return [...found];
  }
  /** Switch training-only behaviour (dropout, batch statistics) on or off, recursively. */
  train(on = true): this { this.training = on; this.children().forEach((c) => c.train(on)); return this; }
  eval(): this { return this.train(false); }
}

export interface LinearOptions {
  bias?: boolean;
  init?: InitName;
  /** Draws the initial weights [defaultRng(), seeded by manualSeed]. */
  rng?: Rng;
  /** Prefix of the parameter names (`name.weight`, `name.bias`) [linear<in>x<out>]: unique within a model. */
  name?: string;
}

/** y = x·W + b, W stored [in, out] so the forward needs no transpose. */
export class Linear extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: LinearOptions = {}) {
    super();
    const name = o.name ?? `linear${inFeatures}x${outFeatures}`;
    this.weight = new Variable(initWeights(o.init ?? 'he', inFeatures * outFeatures, inFeatures, outFeatures, o.rng ?? defaultRng()), [inFeatures, outFeatures], `${name}.weight`);
    if (o.bias !== false) this.bias = Variable.zeros([outFeatures], `${name}.bias`);
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new ShapeError('Linear', `expected input [batch, ${this.inFeatures}], got ${fmt(x.shape)}`);
    }
    const y = x.matmul(this.weight.tensor);
    return this.bias ? y.add(this.bias.tensor) : y;
  }
  override parameters(): Variable[] { return this.bias ? [this.weight, this.bias] : [this.weight]; }
}

/** A parameter-free function as a module. */
export class Lambda extends Module {
  constructor(readonly name: string, private fn: (x: Tensor) => Tensor) { super(); }
  forward(x: Tensor): Tensor { return this.fn(x); }
}

export const ReLU = () => new Lambda('relu', ops.relu);
export const Sigmoid = () => new Lambda('sigmoid', ops.sigmoid);
export const Tanh = () => new Lambda('tanh', ops.tanh);
/** Collapse every dim after the batch dim. */
export const Flatten = () => new Lambda('flatten', (x) => x.reshape([x.shape[0], -1]));

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) { super(); this.layers = layers; }
  forward(x: Tensor): Tensor { return this.layers.reduce((h, l) => l.forward(h), x); }
  override children(): Module[] { return this.layers; }
}

/** The parameters of every module marked `trainable = false`, and of the modules inside those. */
export function frozenParameters(m: Module): Variable[] {
  const out = new Set<Variable>();
  const walk = (x: Module) => {
    if (!x.trainable) for (const p of x.parameters()) out.add(p);
    else x.children().forEach(walk);
  };
  walk(m);
  return [...out];
}
