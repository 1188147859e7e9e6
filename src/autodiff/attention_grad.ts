// Gradient rules of the sequence-model ops. Attention and RMSNorm are composites and need none; label_count and topk
// produce nothing differentiable (a count, indices).
import { embeddingGrad, softmaxGrad } from '../graph/attention.js';
import type { GradRule } from './rules.js';

export const ATTENTION_GRAD_RULES: Record<string, GradRule> = {
  embedding: ({ inputs: [ids, table] }, dy) => [undefined, embeddingGrad(ids, dy, table.shape[0])],
  softmax: (n, dy) => [softmaxGrad(n, dy), undefined],
};
