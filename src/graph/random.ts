// Gaussian noise on the counter-based RNG, and the reparameterisation a VAE samples its code with.
//
// Element i of a randn node at step s is Box-Muller of two hashes, hash32(seed, s, 2i) and hash32(seed, s, 2i+1)
// (src/util/rng.ts; shaders/hash32.wgsl bit for bit), so the CPU and the GPU draw the same numbers (up to the
// float32 log and cos of the GPU) with nothing stored. The step is the same host-side counter dropout reads; include
// `dropoutAdvance(counter)` in a training step so each run draws anew.
import { Tensor } from './tensor.js';
import { ShapeError, fmt } from './shape.js';
import { node, needF32, add, mul, exp } from './ops.js';
import type { Node } from './op_table.js';
import type { DropoutCounter } from './attrs.js';
import { hash32 } from '../util/rng.js';

/** Standard normal samples of `shape`, redrawn at each step of `counter`. */
export function randn(shape: number[], seed: number, counter: DropoutCounter): Tensor {
  if (!shape.every((d) => Number.isInteger(d) && d >= 1)) throw new ShapeError('randn', `shape ${fmt(shape)} must hold integers >= 1`);
  return node('randn', [], [...shape], 'f32', { seed: seed >>> 0, counter });
}

/** z = mu + exp(logvar / 2)·ε, ε ~ N(0, 1): a sample of N(mu, exp(logvar)) that is differentiable in mu and logvar. */
export function reparameterize(mu: Tensor, logvar: Tensor, seed: number, counter: DropoutCounter): Tensor {
  needF32('reparameterize', mu, logvar);
  if (fmt(mu.shape) !== fmt(logvar.shape)) throw new ShapeError('reparameterize', `mu ${fmt(mu.shape)} and logvar ${fmt(logvar.shape)} differ (expected the same shape)`);
  return add(mu, mul(exp(mul(logvar, 0.5)), randn([...mu.shape], seed, counter)));
}

/** What both backends draw a randn node with. */
export const randnParams = (n: Node<'randn'>) => ({ n: n.size, seed: n.attrs.seed, step: n.attrs.counter.step >>> 0 });

const TWO_POW_M24 = 2 ** -24, TWO_PI_F32 = Math.fround(2 * Math.PI);

/**
 * The CPU reference of element i: u1 in (0, 1] and u2 in [0, 1) from the top 24 bits of each hash (exact in float32
 * on both sides), then sqrt(-2·ln u1)·cos(2π·u2).
 */
export function gaussianAt(seed: number, step: number, i: number): number {
  const u1 = ((hash32(seed, step, (2 * i) >>> 0) >>> 8) + 1) * TWO_POW_M24;
  const u2 = (hash32(seed, step, (2 * i + 1) >>> 0) >>> 8) * TWO_POW_M24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.fround(TWO_PI_F32 * u2));
}
