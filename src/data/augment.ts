// Data augmentation on the host, applied by the DataLoader as it copies each row into a batch. Every draw comes from
// hash32(seed, epoch, row), so a sample's transform depends on nothing else: runs reproduce, a resumed run sees the
// same images as an uninterrupted one, and the batch order or size changes nothing.
import { Rng, hash32 } from '../util/rng.js';
import { OptionError } from '../util/errors.js';

export interface AugmentOptions {
  /** Shift by up to ±translate pixels in each direction (uniform integers); uncovered pixels take `fill`. */
  translate?: number;
  /** Mirror left-right with probability 1/2 (not for digits: a mirrored 2 is no 2). */
  flip?: boolean;
  /** Intensity jitter: x·(1 + a) + b with a, b uniform in [-jitter, jitter]; `fill` pixels are left alone. */
  jitter?: number;
  /** The value of an empty pixel: 0 for raw pixels; (0 - mean) / std after normalisation. */
  fill?: number;
  seed?: number;
}

/** Writes an augmented copy of one row (`src`) into `dst`; `epoch` and `row` (the dataset index) pick the draw. */
export type Augment = (src: Float32Array, dst: Float32Array, epoch: number, row: number) => void;

/**
 * An augmentation for rows of shape featureShape, whose last two dims are height and width (any leading dims, such
 * as channels, move together).
 */
export function augmentation(featureShape: readonly number[], o: AugmentOptions): Augment {
  if (featureShape.length < 2) throw new OptionError(`augmentation: expected rows of at least 2 dims [..., height, width], got [${featureShape.join(', ')}]`);
  const k = o.translate ?? 0, jitter = o.jitter ?? 0, fill = o.fill ?? 0, seed = o.seed ?? 0, flip = !!o.flip;
  if (!(Number.isInteger(k) && k >= 0)) throw new OptionError(`augmentation: translate must be an integer >= 0, got ${o.translate}`);
  if (!(jitter >= 0 && jitter < 1)) throw new OptionError(`augmentation: jitter must be in [0, 1), got ${o.jitter}`);
  const H = featureShape[featureShape.length - 2], W = featureShape[featureShape.length - 1];
  const planes = featureShape.slice(0, -2).reduce((a, b) => a * b, 1);
  return (src, dst, epoch, row) => {
    const rng = new Rng(hash32(seed, epoch, row));
    // Always four draws, so turning one transform on or off leaves the others' draws unchanged.
    const dy = rng.int(2 * k + 1) - k, dx = rng.int(2 * k + 1) - k;
    const mirror = rng.next() < 0.5 && flip;
    const a = 1 + jitter * (2 * rng.next() - 1), b = jitter * (2 * rng.next() - 1);
    for (let p = 0; p < planes; p++) {
      const base = p * H * W;
      for (let i = 0; i < H; i++) {
        const si = i - dy;
        for (let j = 0; j < W; j++) {
          const sj0 = j - dx, sj = mirror ? W - 1 - sj0 : sj0;
          const inside = si >= 0 && si < H && sj0 >= 0 && sj0 < W;
          dst[base + i * W + j] = inside ? src[base + si * W + sj] * a + b : fill;
        }
      }
    }
  };
}
