// Upsampling of NCHW images by an integer factor, nearest and bilinear: composites of broadcasting, slices and
// concatenation, so their gradients (sums over each block, and the transposed interpolation) come from autodiff.
import { Tensor } from './tensor.js';
import { ShapeError, fmt } from './shape.js';
import { needF32, reshape, broadcastTo, add, mul } from './ops.js';
import { concat, slice } from './shape_ops.js';
import { composite, CompositeSpec } from './composite.js';

export type UpsampleMode = 'nearest' | 'bilinear';

/**
 * x [N,C,H,W] -> [N,C,H·scale,W·scale]. 'nearest' repeats each pixel in a scale x scale block; 'bilinear' is
 * PyTorch's with align_corners=False: output pixel o reads the input at (o + 0.5)/scale - 0.5, clamped to the image.
 */
export function upsample2d(x: Tensor, scale: number, mode: UpsampleMode = 'nearest'): Tensor {
  needF32('upsample2d', x);
  if (x.rank !== 4) throw new ShapeError('upsample2d', `expected an NCHW input of rank 4, got ${fmt(x.shape)}`);
  if (!Number.isInteger(scale) || scale < 1) throw new ShapeError('upsample2d', `scale must be an integer >= 1, got ${scale} (input ${fmt(x.shape)})`);
  if (mode !== 'nearest' && mode !== 'bilinear') throw new ShapeError('upsample2d', `unknown mode '${mode}' (expected nearest or bilinear)`);
  if (scale === 1) return x;
  const [N, C, H, W] = x.shape;
  return composite(`upsample_${mode}`, [x], { scale }, () => {
    if (mode === 'nearest') {
      const spread = broadcastTo(reshape(x, [N, C, H, 1, W, 1]), [N, C, H, scale, W, scale]);
      return reshape(spread, [N, C, H * scale, W * scale]);
    }
    return bilinearAxis(bilinearAxis(x, 2, scale), 3, scale);
  });
}

/**
 * Bilinear interpolation along one axis. For an integer scale, the output pixels i·scale + r of phase r all sit at
 * the same fraction f = (r + 0.5)/scale - 0.5 from input pixel i, so each phase is (1 - |f|)·x + |f|·(x shifted one
 * pixel towards f), the edge pixel repeated for the shift (PyTorch clamps there). The phases are interleaved by
 * stacking them on a new axis after `axis` and merging the two.
 */
function bilinearAxis(x: Tensor, axis: 2 | 3, scale: number): Tensor {
  const n = x.shape[axis];
  const begin = (at: number) => x.shape.map((_, i) => (i === axis ? at : 0));
  const size = (len: number) => x.shape.map((d, i) => (i === axis ? len : d));
  const edge = (at: number) => slice(x, begin(at), size(1));
  const prev = n === 1 ? x : concat([edge(0), slice(x, begin(0), size(n - 1))], axis);
  const next = n === 1 ? x : concat([slice(x, begin(1), size(n - 1)), edge(n - 1)], axis);
  const phases: Tensor[] = [];
  for (let r = 0; r < scale; r++) {
    const f = (r + 0.5) / scale - 0.5;
    const y = f === 0 ? x : add(mul(x, 1 - Math.abs(f)), mul(f < 0 ? prev : next, Math.abs(f)));
    phases.push(reshape(y, [...x.shape.slice(0, axis + 1), 1, ...x.shape.slice(axis + 1)]));
  }
  const stacked = concat(phases, axis + 1);
  return reshape(stacked, x.shape.map((d, i) => (i === axis ? d * scale : d)));
}

export const UPSAMPLE: CompositeSpec = {
  name: 'upsample2d',
  examples: [
    { name: 'upsample2d nearest x2 [2,3,5,3]', shapes: [[2, 3, 5, 3]], f: (x) => upsample2d(x, 2) },
    { name: 'upsample2d nearest x3 [1,2,1,4]', shapes: [[1, 2, 1, 4]], f: (x) => upsample2d(x, 3) },
    { name: 'upsample2d bilinear x2 [2,3,5,3]', shapes: [[2, 3, 5, 3]], f: (x) => upsample2d(x, 2, 'bilinear') },
    { name: 'upsample2d bilinear x3 [1,2,4,1]', shapes: [[1, 2, 4, 1]], f: (x) => upsample2d(x, 3, 'bilinear') },
  ],
  fuzz: {
    ok: (x) => x.rank === 4 && x.size <= 2048,
    make: (d, x) => upsample2d(x, d.int(2, 3), d.pick(['nearest', 'bilinear'] as const)),
  },
};
