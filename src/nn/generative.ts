// Layers and models for generative work: the transposed convolution and upsampling that convolutional decoders need,
// dense and convolutional autoencoders, and a variational autoencoder. Image models take MNIST-like [B, 1, 28, 28]
// or [B, 784] pixels in [0, 1] and output logits of the same shape: sigmoid(logits) is the reconstruction.
import { Tensor, Variable } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { convTranspose2d, conv2dBias, Pair, ConvTransposeOpts } from '../graph/conv.js';
import { upsample2d, UpsampleMode } from '../graph/resample.js';
import { bceWithLogits } from '../graph/activations.js';
import { slice } from '../graph/shape_ops.js';
import { reparameterize, randn } from '../graph/random.js';
import { dropoutAdvance, DropoutCounter } from '../graph/norm.js';
import { ShapeError, fmt } from '../graph/shape.js';
import { Rng, hash32 } from '../util/rng.js';
import { initWeights } from './init.js';
import { Module, Sequential, Linear, Lambda, ReLU, Flatten } from './module.js';
import { Conv2d, pairOf } from './conv.js';
import type { Stateful } from './norm.js';

/** y = convTranspose2d(x, W) + b, W [in, out, KH, KW] (PyTorch's layout), He-initialised over in·KH·KW. */
export class ConvTranspose2d extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, readonly opts: ConvTransposeOpts & { bias?: boolean; rng: Rng; name?: string }) {
    super();
    const [kh, kw] = pairOf(kernel);
    const name = opts.name ?? `convt${inChannels}x${outChannels}`;
    const fanIn = inChannels * kh * kw;
    this.weight = new Variable(initWeights('he', inChannels * outChannels * kh * kw, fanIn, outChannels * kh * kw, opts.rng), [inChannels, outChannels, kh, kw], `${name}.weight`);
    if (opts.bias !== false) this.bias = Variable.zeros([outChannels], `${name}.bias`);
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new ShapeError('ConvTranspose2d', `expected input [batch, ${this.inChannels}, height, width], got ${fmt(x.shape)}`);
    }
    const y = convTranspose2d(x, this.weight.tensor, this.opts);
    return this.bias ? conv2dBias(y, this.bias.tensor) : y;
  }
  override parameters(): Variable[] { return this.bias ? [this.weight, this.bias] : [this.weight]; }
}

export const Upsample = (scale: number, mode: UpsampleMode = 'nearest') => new Lambda(`upsample_${mode}`, (x) => upsample2d(x, scale, mode));
const Reshape = (shape: number[]) => new Lambda('reshape', (x) => ops.reshape(x, [x.shape[0], ...shape]));

/** Mean over the batch of each image's summed binary cross-entropy: the reconstruction term of an autoencoder's loss. */
export function reconstructionLoss(logits: Tensor, pixels: Tensor): Tensor {
  const perImage = logits.size / logits.shape[0];
  return ops.mul(bceWithLogits(logits, ops.reshape(pixels, [...logits.shape])), perImage);
}

/** 784 -> hidden -> latent -> hidden -> 784, ReLU between, on flattened images. */
export function denseAutoencoder(rng: Rng, latent = 32, hidden = 256): Sequential {
  return new Sequential(
    Flatten(), new Linear(784, hidden, { rng, name: 'enc1' }), ReLU(), new Linear(hidden, latent, { rng, name: 'code' }), ReLU(),
    new Linear(latent, hidden, { rng, name: 'dec1' }), ReLU(), new Linear(hidden, 784, { rng, init: 'xavier', name: 'dec2' }),
  );
}

/**
 * [B,1,28,28] -> two stride-2 convolutions to [B,32,7,7] -> two stride-2 transposed convolutions back to one channel
 * of 28x28 logits. (A decoder of bilinear upsampling and a 16-channel 3x3 convolution at full size trained about
 * 5x slower a step on lavapipe, for the many small copies of the upsampling and the large im2col.)
 */
export function convAutoencoder(rng: Rng): Sequential {
  return new Sequential(
    Reshape([1, 28, 28]),
    new Conv2d(1, 16, 3, { stride: 2, padding: 1, rng, name: 'enc1' }), ReLU(),
    new Conv2d(16, 32, 3, { stride: 2, padding: 1, rng, name: 'enc2' }), ReLU(),
    new ConvTranspose2d(32, 16, 3, { stride: 2, padding: 1, outputPadding: 1, rng, name: 'dec1' }), ReLU(),
    new ConvTranspose2d(16, 1, 3, { stride: 2, padding: 1, outputPadding: 1, rng, name: 'dec2' }),
  );
}

/**
 * A variational autoencoder (Kingma and Welling): the encoder gives the mean and log-variance of a Gaussian code,
 * the code is sampled by reparameterisation on the counter-based RNG (redrawn each step by the counter's advance,
 * which stateUpdates collects), and the decoder gives pixel logits. `loss` is the negative ELBO per image:
 * reconstruction BCE plus the KL divergence of the code from N(0, I). Eval mode decodes the mean (no sampling).
 */
export class VAE extends Module implements Stateful {
  readonly encoder: Sequential;
  readonly decoder: Sequential;
  readonly counter: DropoutCounter = { step: 0 };
  /** The last forward's code statistics, for `kl`. */
  mu?: Tensor;
  logvar?: Tensor;
  private calls = 0;
  private advance = dropoutAdvance(this.counter);
  constructor(rng: Rng, readonly latent = 16, hidden = 400, private seed = 1) {
    super();
    this.encoder = new Sequential(Flatten(), new Linear(784, hidden, { rng, name: 'enc1' }), ReLU(), new Linear(hidden, 2 * latent, { rng, init: 'xavier', name: 'enc2' }));
    this.decoder = new Sequential(new Linear(latent, hidden, { rng, name: 'dec1' }), ReLU(), new Linear(hidden, 784, { rng, init: 'xavier', name: 'dec2' }));
  }
  forward(x: Tensor): Tensor {
    const h = this.encoder.forward(x), B = h.shape[0], L = this.latent;
    this.mu = slice(h, [0, 0], [B, L]);
    this.logvar = slice(h, [0, L], [B, L]);
    const z = this.training ? reparameterize(this.mu, this.logvar, hash32(this.seed, this.calls++, 0x5eed), this.counter) : this.mu;
    return this.decoder.forward(z);
  }
  /** KL(N(mu, exp(logvar)) || N(0, I)), summed over the code and averaged over the batch, for the last forward. */
  kl(): Tensor {
    if (!this.mu || !this.logvar) throw new ShapeError('VAE', 'kl() needs a forward pass first');
    const { mu, logvar } = this;
    const terms = ops.sub(ops.add(ops.mul(mu, mu), ops.exp(logvar)), ops.add(logvar, 1)); // μ² + σ² - log σ² - 1
    return ops.mul(ops.sum(terms), 0.5 / mu.shape[0]);
  }
  /** The negative ELBO per image, for ClassifierTrainer.objective: (logits, x) -> BCE + KL. */
  loss = (logits: Tensor, x: Tensor): Tensor => ops.add(reconstructionLoss(logits, x), this.kl());
  /** Pixel logits [n, 784] decoded from n draws of the prior N(0, I) (the counter's step picks the draw). */
  sample(n: number, seed: number, counter: DropoutCounter): Tensor {
    return this.decoder.forward(randn([n, this.latent], seed, counter));
  }
  stateUpdates(): Tensor[] { return this.training ? [this.advance] : []; }
  override children(): Module[] { return [this.encoder, this.decoder]; }
}
