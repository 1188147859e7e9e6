// Mini-batches over a Dataset. The order depends only on (seed, epoch), so a run can be resumed or reproduced
// at any epoch without replaying the ones before it.
import type { Dataset } from './dataset.js';
import { permutation, isRegression, targetsPerRow } from './dataset.js';
import { Rng, hash32 } from '../util/rng.js';
import type { Augment } from './augment.js';
import { OptionError } from '../util/errors.js';

export interface Batch {
  x: Float32Array;
  /** Class indices, or float targets (the dataset's targetShape per row). */
  y: Int32Array | Float32Array;
  size: number;
  /** Dataset rows in this batch, in order; a view valid until the next epoch starts. */
  indices: Int32Array;
}

export interface LoaderOptions {
  batchSize: number; shuffle?: boolean; seed?: number; dropLast?: boolean;
  /** Applied to each row as it is copied into a batch, keyed by (epoch, dataset row): see augment.ts. */
  augment?: Augment;
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly augment?: Augment;
  // Reused across batches and epochs: training copies a batch to the device before asking for the next one, so
  // allocating per batch would only make garbage. Keyed by batch size because the last partial batch differs.
  private buffers = new Map<number, { x: Float32Array; y: Int32Array | Float32Array }>();

  constructor(readonly ds: Dataset, o: LoaderOptions) {
    if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) throw new OptionError(`DataLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? true;
    this.seed = o.seed ?? 0;
    this.dropLast = o.dropLast ?? false;
    this.augment = o.augment;
  }

  get numBatches(): number {
    return this.dropLast ? Math.floor(this.ds.n / this.batchSize) : Math.ceil(this.ds.n / this.batchSize);
  }

  /** The row order for `epoch`. The per-epoch seed is hashed so neighbouring (seed, epoch) pairs are unrelated. */
  order(epoch: number): Int32Array {
    if (this.shuffle) return permutation(this.ds.n, new Rng(hash32(this.seed, epoch, 0x10ade5)));
    return Int32Array.from({ length: this.ds.n }, (_, i) => i);
  }

  /**
   * Yields batches; x and y are overwritten by the next batch of the same size, so copy them to keep them. `from`
   * skips the epoch's first batches without copying them: a run resumed mid-epoch sees the batches it had not seen.
   */
  *batches(epoch: number, from = 0): Generator<Batch> {
    if (!(Number.isInteger(from) && from >= 0)) throw new OptionError(`DataLoader.batches: from must be an integer >= 0, got ${from}`);
    const { ds, batchSize } = this;
    const per = ds.x.length / ds.n, perY = targetsPerRow(ds);
    const order = this.order(epoch);
    for (let b = from; b < this.numBatches; b++) {
      const indices = order.subarray(b * batchSize, Math.min((b + 1) * batchSize, ds.n));
      const size = indices.length;
      let buf = this.buffers.get(size);
      if (!buf) this.buffers.set(size, buf = { x: new Float32Array(size * per), y: isRegression(ds) ? new Float32Array(size * perY) : new Int32Array(size) });
      for (let k = 0; k < size; k++) {
        const i = indices[k];
        if (this.augment) this.augment(ds.x.subarray(i * per, (i + 1) * per), buf.x.subarray(k * per, (k + 1) * per), epoch, i);
        else buf.x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
        buf.y.set(ds.y.subarray(i * perY, (i + 1) * perY), k * perY);
      }
      yield { x: buf.x, y: buf.y, size, indices };
    }
  }
}
