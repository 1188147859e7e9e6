// Host-side augmentation: each transform on a tiny image worked out by hand, determinism per (seed, epoch, row), and
// the DataLoader applying it so that batch size and order do not change what a row becomes.
import { describe, it, expect } from 'vitest';
import { augmentation } from '../src/data/augment.js';
import { DataLoader } from '../src/data/loader.js';
import type { Dataset } from '../src/data/dataset.js';
import { Rng, hash32 } from '../src/util/rng.js';
import { randn } from './helpers.js';

// 3x4 image with distinct values 1..12.
const img = Float32Array.from({ length: 12 }, (_, i) => i + 1);
const H = 3, W = 4;

/** The (dy, dx, mirror, a, b) the augmentation draws for (seed, epoch, row), mirroring its draw order. */
function draws(seed: number, epoch: number, row: number, k: number, jitter: number) {
  const r = new Rng(hash32(seed, epoch, row));
  const dy = r.int(2 * k + 1) - k, dx = r.int(2 * k + 1) - k, mirror = r.next() < 0.5;
  return { dy, dx, mirror, a: 1 + jitter * (2 * r.next() - 1), b: jitter * (2 * r.next() - 1) };
}

describe('augmentation', () => {
  it('translation shifts by whole pixels and fills what it uncovers', () => {
    // Find rows whose draw is a known shift, then check the image pixel by pixel.
    let seen = 0;
    for (let row = 0; row < 200 && seen < 6; row++) {
      const { dy, dx } = draws(3, 0, row, 1, 0);
      if (dy === 0 && dx === 0) continue;
      const out = new Float32Array(12);
      augmentation([H, W], { translate: 1, fill: -7, seed: 3 })(img, out, 0, row);
      const want = new Float32Array(12);
      for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
        const si = i - dy, sj = j - dx;
        want[i * W + j] = si >= 0 && si < H && sj >= 0 && sj < W ? img[si * W + sj] : -7;
      }
      expect(Array.from(out), `row ${row}, shift (${dy}, ${dx})`).toEqual(Array.from(want));
      seen++;
    }
    expect(seen).toBe(6);
    // Shift down-right by one, by hand: the first row and column are fill.
    const row = [...Array(500).keys()].find((r) => { const d = draws(3, 0, r, 1, 0); return d.dy === 1 && d.dx === 1; })!;
    const out = new Float32Array(12);
    augmentation([H, W], { translate: 1, fill: 0, seed: 3 })(img, out, 0, row);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7]);
  });

  it('flip mirrors about half the rows, and jitter scales and shifts intensity within its bounds', () => {
    const f = augmentation([H, W], { flip: true, seed: 9 });
    let flipped = 0;
    for (let row = 0; row < 400; row++) {
      const out = new Float32Array(12);
      f(img, out, 2, row);
      const m = draws(9, 2, row, 0, 0).mirror;
      expect(Array.from(out)).toEqual(m ? [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9] : Array.from(img));
      flipped += m ? 1 : 0;
    }
    expect(flipped).toBeGreaterThan(160);
    expect(flipped).toBeLessThan(240);
    const out = new Float32Array(12);
    augmentation([H, W], { jitter: 0.2, seed: 1 })(img, out, 0, 5);
    const { a, b } = draws(1, 0, 5, 0, 0.2);
    expect(a).not.toBe(1);
    out.forEach((v, i) => expect(v).toBeCloseTo(Math.fround(img[i] * a + b), 5));
    expect(Math.abs(a - 1)).toBeLessThanOrEqual(0.2);
  });

  it('moves channels together and is deterministic per (seed, epoch, row)', () => {
    const x = randn(2 * 5 * 5, 1);
    const f = augmentation([2, 5, 5], { translate: 2, flip: true, jitter: 0.1, seed: 4 });
    const o1 = new Float32Array(50), o2 = new Float32Array(50), o3 = new Float32Array(50);
    f(x, o1, 1, 17); f(x, o2, 1, 17); f(x, o3, 2, 17);
    expect(Array.from(o2)).toEqual(Array.from(o1));
    expect(Array.from(o3)).not.toEqual(Array.from(o1));
    // Channel 1 of the output is channel 1 of the input under the same transform as channel 0.
    const c0 = new Float32Array(25), c1 = new Float32Array(25), g = augmentation([5, 5], { translate: 2, flip: true, jitter: 0.1, seed: 4 });
    g(x.subarray(0, 25), c0, 1, 17); g(x.subarray(25), c1, 1, 17);
    expect(Array.from(o1)).toEqual([...c0, ...c1]);
  });

  it('rejects bad options clearly', () => {
    expect(() => augmentation([784], { translate: 1 })).toThrow(/augmentation: expected rows of at least 2 dims \[\.\.\., height, width\], got \[784\]/);
    expect(() => augmentation([4, 4], { translate: 1.5 })).toThrow(/translate must be an integer >= 0, got 1.5/);
    expect(() => augmentation([4, 4], { jitter: 2 })).toThrow(/jitter must be in \[0, 1\), got 2/);
  });
});

describe('DataLoader with augmentation', () => {
  const n = 10, ds: Dataset = { x: randn(n * 16, 5), y: Int32Array.from({ length: n }, (_, i) => i % 3), n, featureShape: [4, 4], numClasses: 3 };
  const aug = augmentation([4, 4], { translate: 1, jitter: 0.1, seed: 8 });
  const rows = (l: DataLoader, epoch: number) => {
    const m = new Map<number, number[]>();
    for (const b of l.batches(epoch)) b.indices.forEach((r, k) => m.set(r, Array.from(b.x.subarray(k * 16, (k + 1) * 16))));
    return m;
  };

  it('a row becomes the same image whatever the batch size and order, and a different one next epoch', () => {
    const a = rows(new DataLoader(ds, { batchSize: 3, seed: 1, augment: aug }), 4);
    const b = rows(new DataLoader(ds, { batchSize: 4, seed: 2, augment: aug }), 4);
    expect(a.size).toBe(n);
    for (let r = 0; r < n; r++) {
      expect(b.get(r)).toEqual(a.get(r));
      const direct = new Float32Array(16);
      aug(ds.x.subarray(r * 16, (r + 1) * 16), direct, 4, r);
      expect(a.get(r)).toEqual(Array.from(direct));
    }
    const next = rows(new DataLoader(ds, { batchSize: 3, seed: 1, augment: aug }), 5);
    expect([...Array(n).keys()].some((r) => JSON.stringify(next.get(r)) !== JSON.stringify(a.get(r)))).toBe(true);
    // Labels are untouched and the source data is never written.
    const plain = rows(new DataLoader(ds, { batchSize: 3, seed: 1 }), 4);
    for (let r = 0; r < n; r++) expect(plain.get(r)).toEqual(Array.from(ds.x.subarray(r * 16, (r + 1) * 16)));
  });
});
