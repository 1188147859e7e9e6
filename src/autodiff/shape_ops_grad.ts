// Gradient rules of the shape ops. Each is a strided copy, and the adjoint of each is another one:
// concat → a slice of dy per input, slice → dy zero-padded back to the input's shape, pad → the unpadded slice of dy.
import { slice, pad, padsAround, copySources } from '../graph/shape_ops.js';
import type { GradRules } from './rule.js';

export const SHAPE_OPS_GRAD_RULES = {
  concat: (n, dy) => copySources(n).map(({ x, offset }) => slice(dy, offset, x.shape)),
  slice: (n, dy) => [pad(dy, padsAround(n.inputs[0].shape, n.attrs.begin, n.shape))],
  pad: (n, dy) => [slice(dy, n.attrs.pads.map(([b]) => b), n.inputs[0].shape)],
} satisfies GradRules;
