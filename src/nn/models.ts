// Named models the CLI can train.
import { Rng } from '../util/rng.js';
import { Module, Sequential, Linear, ReLU, Flatten } from './module.js';
import { MODEL_CONFIGS, buildModel, ModelConfig, LayerConfig } from './config.js';

/** A ReLU MLP: sizes = [in, hidden..., out], He-initialised. */
export function mlp(sizes: number[], rng: Rng): Sequential {
  const layers: Module[] = [Flatten()];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i], sizes[i + 1], { rng, name: `fc${i + 1}` }));
    if (i + 2 < sizes.length) layers.push(ReLU());
  }
  return new Sequential(...layers);
}

const conv3x3 = (out: number, name: string, stride = 1): LayerConfig => ({ type: 'conv2d', out, kernel: 3, padding: 1, stride, bias: false, name });
const bn = (name: string): LayerConfig => ({ type: 'batchnorm2d', name });
/** x + bn(conv(relu(bn(conv(x))))), then relu: the basic block of He et al. (2016), at constant width. */
const block = (c: number, name: string): LayerConfig[] => [
  { type: 'residual', layers: [conv3x3(c, `${name}.conv1`), bn(`${name}.bn1`), { type: 'relu' }, conv3x3(c, `${name}.conv2`), bn(`${name}.bn2`)] },
  { type: 'relu' },
];

/**
 * A small residual CNN for 28x28 images, about as costly as `cnn` per image: a 3x3 stem at 28x28, max-pool to 14x14,
 * a basic block at 16 channels, a strided 3x3 conv to 32 channels at 7x7, a second block, global average pooling and
 * a linear head. Convs feeding batch norm have no bias (the norm's shift replaces it).
 */
export const RESNET_CONFIG: ModelConfig = {
  description: 'residual CNN: conv3x3(16)-bn-relu, maxpool2, block(16), conv3x3/2(32)-bn-relu, block(32), avgpool7, linear 32-10',
  input: [1, 28, 28],
  layers: [
    conv3x3(16, 'stem.conv'), bn('stem.bn'), { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
    ...block(16, 'block1'),
    conv3x3(32, 'down.conv', 2), bn('down.bn'), { type: 'relu' },
    ...block(32, 'block2'),
    { type: 'avgpool2d', kernel: 7 }, { type: 'flatten' },
    { type: 'linear', out: 10, name: 'fc' },
  ],
};

/**
 * A vision transformer (Dosovitskiy et al. 2021) for MNIST: 7x7 patches as 16 tokens of 64 features, learned
 * positions, four pre-norm blocks of 4 heads, a final layer norm, the mean over tokens and a linear head.
 */
export const VIT_CONFIG: ModelConfig = {
  description: 'vision transformer: 7x7 patches -> 16 tokens x 64, learned positions, 4 blocks of 4 heads, layernorm, mean, linear 64-10',
  input: [1, 28, 28],
  layers: [
    { type: 'patches', size: 7, dim: 64, name: 'patch' }, { type: 'positions', name: 'pos' },
    ...[0, 1, 2, 3].map((i): LayerConfig => ({ type: 'transformer', heads: 4, name: `h${i}` })),
    { type: 'layernorm', name: 'lnf' }, { type: 'mean_tokens' }, { type: 'linear', out: 10, name: 'head' },
  ],
};

/**
 * Built from their configs (src/nn/config.ts), which a JSON model file can copy and vary. `optimizer`: what `wgtrain
 * train` uses when no --optimizer is given (SGD otherwise): a transformer trains poorly with plain SGD.
 */
export const MODELS: Record<string, { build: (rng: Rng) => Module; description: string; optimizer?: string }> = Object.fromEntries(
  Object.entries({ ...MODEL_CONFIGS, resnet: RESNET_CONFIG, vit: VIT_CONFIG }).map(([name, c]) => [name, {
    build: (rng: Rng) => buildModel(c, rng, name).model, description: c.description ?? name, ...(name === 'vit' && { optimizer: 'adamw' }),
  }]),
);
