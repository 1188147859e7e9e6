// Ops for sequence models: embedding lookup, softmax over the last axis with an optional causal or length mask,
// RMSNorm, scaled dot-product attention, sequence cross-entropy with an ignore index, and top-k for sampling.
//
// Only these are nodes with kernels of their own: embedding and its gradient, softmax, label_count, topk. RMSNorm and
// attention are composites (graph/composite.ts) whose specs below feed gradcheck, parity and the fuzzer; the softmax
// gradient is arithmetic on its output.
import { Tensor } from './tensor.js';
import { ShapeError, fmt } from './shape.js';
import { node, needF32, mul, sub, add, div, sum, mean, matmul, reshape, unary, softmaxCrossEntropyRows } from './ops.js';
import { rowsOf } from './activations.js';
import { composite, CompositeSpec } from './composite.js';
import type { Node } from './op_table.js';

// ---- embedding ----

/** Rows of `table` [V, D] picked by int32 `ids` of any shape: [...ids.shape, D]. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  needF32('embedding', table);
  if (ids.dtype !== 'i32') throw new ShapeError('embedding', `expected int32 ids, got ${ids.dtype} ${fmt(ids.shape)}`);
  if (table.rank !== 2) throw new ShapeError('embedding', `expected a table of shape [vocab, dim], got ${fmt(table.shape)}`);
  return node('embedding', [ids, table], [...ids.shape, table.shape[1]]);
}

/**
 * d table of an embedding: row v is the sum of dy's rows at the positions whose id is v, added in position order.
 * Each output row gathers its own positions (no scatter, no float atomics), so the GPU's sum is the same
 * deterministic sequence of additions on every run, and repeated ids accumulate exactly as the reference does.
 */
export const embeddingGrad = (ids: Tensor, dy: Tensor, vocab: number) =>
  node('embedding_grad', [ids, dy], [vocab, dy.shape[dy.rank - 1]]);

// ---- softmax with masks ----

export interface SoftmaxMask {
  /** Rows are queries of a [..., Tq, Tk] tensor: query q sees keys k <= q + Tk - Tq (the last query sees all keys). */
  causal?: boolean;
  /** int32 [x.shape[0]]: in every row under batch index b, only keys k < lengths[b] are seen (padding). */
  lengths?: Tensor;
}

/**
 * Softmax over the last axis; masked entries are 0 and take no part in the normaliser. A row with every key masked
 * (a length of 0) is all zeros rather than 0/0.
 */
export function softmax(x: Tensor, mask: SoftmaxMask = {}): Tensor {
  needF32('softmax', x);
  if (x.rank < 1) throw new ShapeError('softmax', `expected a tensor of rank >= 1 (softmax over its last axis), got a scalar ${fmt(x.shape)}`);
  const causal = !!mask.causal;
  if (causal && x.rank < 2) throw new ShapeError('softmax', `a causal mask needs rows of queries by keys [..., Tq, Tk], got ${fmt(x.shape)}`);
  if (causal && x.shape[x.rank - 2] > x.shape[x.rank - 1]) {
    throw new ShapeError('softmax', `a causal mask over ${fmt(x.shape)} leaves the first queries no key (expected Tq <= Tk)`);
  }
  const L = mask.lengths;
  if (L && (L.dtype !== 'i32' || L.rank !== 1 || x.rank < 2 || L.shape[0] !== x.shape[0])) {
    throw new ShapeError('softmax', `lengths must be int32 [${x.shape[0]}], one per index of dim 0 of ${fmt(x.shape)}, got ${L.dtype} ${fmt(L.shape)}`);
  }
  return node('softmax', L ? [x, L] : [x], x.shape, 'f32', { causal });
}

/** The rows, row length and mask facts both backends' softmax kernels read. */
export function softmaxRows(n: Node<'softmax'>): { rows: number; C: number; Tq: number; perBatch: number; causal: boolean; lengths: boolean } {
  const [rows, C] = rowsOf(n.shape);
  return {
    rows, C, Tq: n.rank >= 2 ? n.shape[n.rank - 2] : 1, perBatch: n.rank >= 2 ? rows / n.shape[0] : rows,
    causal: n.attrs.causal, lengths: n.inputs.length === 2,
  };
}

/** The keys row r of a masked softmax sees: [0, end). */
export function softmaxRowEnd(r: number, s: ReturnType<typeof softmaxRows>, lengths?: ArrayLike<number>): number {
  let end = s.C;
  if (s.causal) end = Math.min(end, (r % s.Tq) + s.C - s.Tq + 1);
  if (lengths) end = Math.min(end, Math.max(0, lengths[Math.floor(r / s.perBatch)]));
  return end;
}

/** dx of softmax from its output y: y·(dy - Σ y·dy), per row; masked entries have y = 0 and so get 0. */
export const softmaxGrad = (y: Tensor, dy: Tensor) => mul(y, sub(dy, sum(mul(y, dy), -1, true)));

// ---- RMSNorm ----

/** x / sqrt(mean(x², last axis) + eps) · weight, weight [D] (Zhang & Sennrich 2019): a composite of core ops. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-5): Tensor {
  needF32('rmsNorm', x, weight);
  const D = x.shape[x.rank - 1];
  if (x.rank < 1 || weight.rank !== 1 || weight.shape[0] !== D) {
    throw new ShapeError('rmsNorm', `weight ${fmt(weight.shape)} does not fit input ${fmt(x.shape)} (expected [${D}], one per feature of the last axis)`);
  }
  if (!(eps > 0 && Number.isFinite(eps))) throw new ShapeError('rmsNorm', `eps must be a finite number > 0, got ${eps} (input ${fmt(x.shape)})`);
  return composite('rms_norm', [x, weight], { eps }, () => mul(div(x, unary('sqrt', add(mean(mul(x, x), -1, true), eps))), weight));
}

export const RMS_NORM: CompositeSpec = {
  name: 'rmsNorm',
  examples: [
    { name: 'rmsNorm [3,5]', shapes: [[3, 5], [5]], f: (x, w) => rmsNorm(x, w) },
    { name: 'rmsNorm [257,33]', shapes: [[257, 33], [33]], f: (x, w) => rmsNorm(x, w) },
    { name: 'rmsNorm [2,7,9] eps 1e-3', shapes: [[2, 7, 9], [9]], f: (x, w) => rmsNorm(x, w, 1e-3) },
  ],
  fuzz: { ok: (x) => x.rank >= 1 && x.shape[x.rank - 1] >= 2, make: (d, x) => rmsNorm(x, d.fresh([x.shape[x.rank - 1]])) },
};

// ---- attention ----

/** The `recompute` attribute when the option is left out: fuse the backward from ATTENTION_FUSED_BACKWARD_KEYS keys on. */
export const RECOMPUTE_AUTO = 2;
export const ATTENTION_FUSED_BACKWARD_KEYS = 64;

export interface AttentionOptions extends SoftmaxMask {
  /** Multiplies q·kᵀ; default 1/sqrt(head size). */
  scale?: number;
  /** Applied to the attention weights (dropout on them), e.g. (p) => dropout(p, 0.1, seed, counter). */
  weights?: (p: Tensor) => Tensor;
  /**
   * Train with the fused backward kernels, which recompute the weights instead of keeping the [Tq, Tk] matrix (head
   * sizes that are multiples of 4 up to 64): less memory. By default they are used from 64 keys on, where on lavapipe
   * they beat the composite's GEMMs (bench attention; `bench train --model gpt`, context 64, 6,420 -> 6,850 tokens/s
   * against a threshold of 128, six alternations each won, 2026-12-07); true always, false never (the composite's
   * backward, which reads the stored weights).
   */
  recompute?: boolean;
}

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale, mask)·v, over q [N, Tq, dh], k and v [N, Tk, dh] (N: batch ×
 * heads): the composite (two batched GEMMs, the masked softmax) that a fused kernel must match.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  needF32('attention', q, k, v);
  const shapes = `q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)}`;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3 || fmt(k.shape) !== fmt(v.shape) || q.shape[0] !== k.shape[0] || q.shape[2] !== k.shape[2]) {
    throw new ShapeError('attention', `expected q [N, Tq, dh] and k, v [N, Tk, dh], got ${shapes}`);
  }
  const scale = o.scale ?? 1 / Math.sqrt(q.shape[2]);
  const inputs = o.lengths ? [q, k, v, o.lengths] : [q, k, v];
  // With weights (dropout) applied, the region is no longer plain attention: nothing may replace it by a fused kernel.
  const body = () => {
    const p = softmax(mul(matmul(q, k, { transB: true }), scale), o);
    return matmul(o.weights ? o.weights(p) : p, v);
  };
  return o.weights ? body() : composite('attention', inputs, { scale, causal: +!!o.causal, recompute: o.recompute === undefined ? RECOMPUTE_AUTO : +o.recompute }, body);
}

export const ATTENTION: CompositeSpec = {
  name: 'attention',
  examples: [
    { name: 'attention [2,4,3]', shapes: [[2, 4, 3], [2, 4, 3], [2, 4, 3]], f: (q, k, v) => attention(q, k, v) },
    { name: 'attention causal [2,4,3]', shapes: [[2, 4, 3], [2, 4, 3], [2, 4, 3]], f: (q, k, v) => attention(q, k, v, { causal: true }) },
    { name: 'attention causal q [2,3,3], k v [2,5,3]', shapes: [[2, 3, 3], [2, 5, 3], [2, 5, 3]], f: (q, k, v) => attention(q, k, v, { causal: true }) },
    { name: 'attention [3,33,7]', shapes: [[3, 33, 7], [3, 33, 7], [3, 33, 7]], f: (q, k, v) => attention(q, k, v) },
    { name: 'attention causal q [5,7,16], k v [5,33,16]', shapes: [[5, 7, 16], [5, 33, 16], [5, 33, 16]], f: (q, k, v) => attention(q, k, v, { causal: true }) },
  ],
  fuzz: {
    ok: (x) => x.rank === 3,
    make: (d, x) => {
      const [N, T, dh] = x.shape, Tk = d.pick([T, T + d.int(1, 4)]), kv = () => d.fresh([N, Tk, dh], 1 / Math.sqrt(dh));
      return attention(x, kv(), kv(), { causal: d.pick([false, true]) });
    },
  },
};

// ---- sequence loss ----

/** max(1, the number of labels that are not `ignore`), as a float scalar: the mean's divisor when some are ignored. */
export function labelCount(labels: Tensor, ignore: number): Tensor {
  if (labels.dtype !== 'i32') throw new ShapeError('labelCount', `expected int32 labels, got ${labels.dtype} ${fmt(labels.shape)}`);
  return node('label_count', [labels], [], 'f32', { ignore });
}

/**
 * Mean softmax cross-entropy of logits [B, T, V] against int32 labels [B, T], over the positions whose label is not
 * `ignoreIndex` (those contribute neither loss nor gradient). Without an ignore index, the mean over all B·T.
 */
export function sequenceCrossEntropy(logits: Tensor, labels: Tensor, o: { ignoreIndex?: number } = {}): Tensor {
  needF32('sequenceCrossEntropy', logits);
  if (logits.rank !== 3) throw new ShapeError('sequenceCrossEntropy', `expected logits [batch, time, vocab], got ${fmt(logits.shape)}`);
  const [B, T, V] = logits.shape;
  if (labels.dtype !== 'i32' || fmt(labels.shape) !== fmt([B, T])) {
    throw new ShapeError('sequenceCrossEntropy', `expected int32 labels [${B}, ${T}] for logits ${fmt(logits.shape)}, got ${labels.dtype} ${fmt(labels.shape)}`);
  }
  const flat = reshape(labels, [B * T]);
  const rows = softmaxCrossEntropyRows(reshape(logits, [B * T, V]), flat, o.ignoreIndex);
  return o.ignoreIndex === undefined ? mean(rows) : div(sum(rows), labelCount(flat, o.ignoreIndex));
}

// ---- sampling ----

/** Indices of the k largest entries along the last axis, largest first (ties: the lower index first); int32 [..., k]. */
export function topk(x: Tensor, k: number): Tensor {
  needF32('topk', x);
  const C = x.shape[x.rank - 1];
  if (x.rank < 1 || !Number.isInteger(k) || k < 1 || k > C) {
    throw new ShapeError('topk', `k must be an integer in [1, ${C}] for input ${fmt(x.shape)}, got ${k}`);
  }
  return node('topk', [x], [...x.shape.slice(0, -1), k], 'i32', { k });
}

/** Index of the largest entry along the last axis (the first of equal ones): int32 [...]. */
export const argmax = (x: Tensor) => reshape(topk(x, 1), x.shape.slice(0, -1));
