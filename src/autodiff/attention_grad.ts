// Gradient rules of the sequence-model ops. Attention and RMSNorm are composites and need none; embedding_grad,
// label_count and topk are listed in NO_GRADIENT (rules.ts): a backward-only op, a count and indices.
import { embeddingGrad, softmaxGrad } from '../graph/attention.js';
import type { GradRules } from './rule.js';

export const ATTENTION_GRAD_RULES = {
  embedding: ({ inputs: [ids, table] }, dy) => [undefined, embeddingGrad(ids, dy, table.shape[0])],
  softmax: (n, dy) => [softmaxGrad(n, dy), undefined],
} satisfies GradRules;
