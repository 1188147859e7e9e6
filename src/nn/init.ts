// Weight initialisation from a seeded RNG, so a run is reproducible and CPU and GPU start from the same weights.
import { Rng } from '../util/rng.js';
import { OptionError } from '../util/errors.js';

export type InitName = 'he' | 'xavier' | 'zeros';

/**
 * He (Kaiming) normal for ReLU layers: std = sqrt(2 / fanIn), keeping activation variance constant through depth.
 * Xavier (Glorot) uniform for tanh/sigmoid: U(±sqrt(6 / (fanIn + fanOut))).
 */
export function initWeights(name: InitName, n: number, fanIn: number, fanOut: number, rng: Rng): Float32Array {
  const w = new Float32Array(n);
  if (name === 'he') {
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
  } else if (name === 'xavier') {
    const a = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < n; i++) w[i] = (rng.next() * 2 - 1) * a;
  } else if (name !== 'zeros') {
    throw new OptionError(`init: unknown initialiser '${name}' (expected he, xavier or zeros)`);
  }
  return w;
}
