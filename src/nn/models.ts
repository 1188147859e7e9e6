// Named models the CLI can train.
import { Rng } from '../util/rng.js';
import { Module, Sequential, Linear, ReLU, Flatten } from './module.js';
import { MODEL_CONFIGS, buildModel } from './config.js';

/** A ReLU MLP: sizes = [in, hidden..., out], He-initialised. */
export function mlp(sizes: number[], rng: Rng): Sequential {
  const layers: Module[] = [Flatten()];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i], sizes[i + 1], { rng, name: `fc${i + 1}` }));
    if (i + 2 < sizes.length) layers.push(ReLU());
  }
  return new Sequential(...layers);
}

/** Built from their configs (src/nn/config.ts), which a JSON model file can copy and vary. */
export const MODELS: Record<string, { build: (rng: Rng) => Module; description: string }> = Object.fromEntries(
  Object.entries(MODEL_CONFIGS).map(([name, c]) => [name, { build: (rng: Rng) => buildModel(c, rng, name).model, description: c.description ?? name }]),
);
