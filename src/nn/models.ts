// Named models the CLI can train.
import { Rng } from '../util/rng.js';
import { Module, Sequential, Linear, ReLU, Flatten } from './module.js';
import { cnn } from './conv.js';

/** A ReLU MLP: sizes = [in, hidden..., out], He-initialised. */
export function mlp(sizes: number[], rng: Rng): Sequential {
  const layers: Module[] = [Flatten()];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i], sizes[i + 1], { rng, name: `fc${i + 1}` }));
    if (i + 2 < sizes.length) layers.push(ReLU());
  }
  return new Sequential(...layers);
}

export const MODELS: Record<string, { build: (rng: Rng) => Module; description: string }> = {
  mlp: { build: (rng) => mlp([784, 256, 128, 10], rng), description: '784-256-128-10 ReLU MLP' },
  cnn: { build: (rng) => cnn(rng), description: 'conv5x5(16)-relu-maxpool2, conv5x5(32)-relu-maxpool2, linear 1568-10' },
};
