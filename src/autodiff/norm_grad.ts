// Gradient rules of the normalisation family. Batch norm is a composite and needs none of its own; running_update
// and dropout_advance are effects. Dropout is a diagonal linear map (mask·scale), so its gradient is the same map
// applied to dy: the same seed and counter give the same mask, recomputed rather than stored.
import { dropout } from '../graph/norm.js';
import type { GradRules } from './rule.js';

export const NORM_GRAD_RULES = {
  dropout: (n, dy) => [dropout(dy, n.attrs.p, n.attrs.seed, n.attrs.counter)],
} satisfies GradRules;
