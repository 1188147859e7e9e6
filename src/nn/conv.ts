// Convolution and pooling modules (NCHW).
import { Tensor, Variable } from '../graph/tensor.js';
import { conv2d, maxPool2d, avgPool2d, Pair, ConvOpts, PoolOpts, AvgPoolOpts } from '../graph/conv.js';
import { ShapeError, fmt } from '../graph/shape.js';
import { Rng, defaultRng } from '../util/rng.js';
import { initWeights } from './init.js';
import { Module, Sequential, Lambda, Linear, ReLU, Flatten } from './module.js';

export const pairOf = (k: Pair): [number, number] => (typeof k === 'number' ? [k, k] : [k[0], k[1]]);

/** y = conv2d(x, W) + b, W [out, in, KH, KW] He-initialised (fan-in in·KH·KW, for ReLU nets); b starts at zero. */
export class Conv2d extends Module {
  readonly weight: Variable;
  readonly bias?: Variable;
  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, readonly opts: ConvOpts & { bias?: boolean; rng?: Rng; name?: string } = {}) {
    super();
    const [kh, kw] = pairOf(kernel);
    const name = opts.name ?? `conv${inChannels}x${outChannels}`;
    const fanIn = inChannels * kh * kw, n = outChannels * fanIn;
    this.weight = new Variable(initWeights('he', n, fanIn, outChannels * kh * kw, opts.rng ?? defaultRng()), [outChannels, inChannels, kh, kw], `${name}.weight`);
    if (opts.bias !== false) this.bias = Variable.zeros([outChannels], `${name}.bias`);
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new ShapeError('Conv2d', `expected input [batch, ${this.inChannels}, height, width], got ${fmt(x.shape)}`);
    }
    return conv2d(x, this.weight.tensor, this.opts, this.bias?.tensor);
  }
  override parameters(): Variable[] { return this.bias ? [this.weight, this.bias] : [this.weight]; }
}

export class MaxPool2d extends Module {
  constructor(readonly kernel: Pair, readonly opts: PoolOpts = {}) { super(); }
  forward(x: Tensor): Tensor { return maxPool2d(x, this.kernel, this.opts); }
}

/** Average pooling; padding counts towards the divisor unless countIncludePad is false (PyTorch's default: true). */
export class AvgPool2d extends Module {
  constructor(readonly kernel: Pair, readonly opts: AvgPoolOpts = {}) { super(); }
  forward(x: Tensor): Tensor { return avgPool2d(x, this.kernel, this.opts); }
}

/**
 * A small MNIST CNN: conv 5x5 (1->16, pad 2) - relu - maxpool 2, conv 5x5 (16->32, pad 2) - relu - maxpool 2, then
 * linear 32·7·7 -> 128 - relu - linear 128 -> 10. Takes [B, 28, 28] images (what the MNIST loader yields) and adds the channel dim itself.
 */
export function cnn(rng: Rng): Sequential {
  return new Sequential(
    new Lambda('to NCHW', (x) => (x.rank === 3 ? x.reshape([x.shape[0], 1, x.shape[1], x.shape[2]]) : x)),
    new Conv2d(1, 16, 5, { padding: 2, rng, name: 'conv1' }), ReLU(), new MaxPool2d(2),
    new Conv2d(16, 32, 5, { padding: 2, rng, name: 'conv2' }), ReLU(), new MaxPool2d(2),
    Flatten(),
    new Linear(32 * 7 * 7, 128, { rng, name: 'fc1' }), ReLU(),
    new Linear(128, 10, { rng, name: 'fc2', init: 'zeros' }),
  );
}
