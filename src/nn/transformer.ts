// Transformer layers: token embedding, positions (learned or sinusoidal), multi-head attention, the pre-norm block,
// and two models built from them: a decoder-only GPT over characters or bytes, and a ViT that reads MNIST digits as
// sequences of patches.
//
// Activations are [batch, time, features]; Linear takes rank 2, so each projection reshapes to [batch·time, features]
// and back. Heads are split by a reshape and a transpose to [batch·heads, time, head size], the layout of the batched
// GEMMs in attention().
import { Tensor, Variable } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { ShapeError, fmt } from '../graph/shape.js';
import { slice, concat } from '../graph/shape_ops.js';
import { gelu } from '../graph/activations.js';
import { embedding, attention } from '../graph/attention.js';
import { Rng } from '../util/rng.js';
import { Module, Linear } from './module.js';
import { LayerNorm, Dropout } from './norm.js';

const normal = (n: number, std: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal() * std);

/** [..., D] through a Linear layer, for any leading dims. */
function linear(l: Linear, x: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  return ops.reshape(l.forward(ops.reshape(x, [-1, x.shape[x.rank - 1]])), [...lead, l.outFeatures]);
}

/** Rows of a [vocab, dim] table picked by int32 ids: [..., dim]. Initialised N(0, 0.02²), as GPT-2. */
export class Embedding extends Module {
  readonly weight: Variable;
  constructor(readonly vocab: number, readonly dim: number, o: { rng: Rng; name?: string }) {
    super();
    this.weight = new Variable(normal(vocab * dim, 0.02, o.rng), [vocab, dim], `${o.name ?? 'embedding'}.weight`);
  }
  forward(ids: Tensor): Tensor { return embedding(ids, this.weight.tensor); }
  override parameters(): Variable[] { return [this.weight]; }
}

/** sin/cos positions of Vaswani et al. (2017): row p, column 2i = sin(p / 10000^(2i/D)), 2i+1 = cos(same). */
export function sinusoidalTable(positions: number, dim: number): Float32Array {
  const t = new Float32Array(positions * dim);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < dim; i += 2) {
      const a = p / 10000 ** (i / dim);
      t[p * dim + i] = Math.sin(a);
      if (i + 1 < dim) t[p * dim + i + 1] = Math.cos(a);
    }
  }
  return t;
}

export type PositionKind = 'learned' | 'sinusoidal';

/**
 * Adds a position's row to each step of [B, T, D]. Learned rows are a parameter; sinusoidal rows are a fixed table,
 * held in a Variable that is not a parameter (no gradient, no optimizer state, rebuilt rather than saved).
 */
export class Positions extends Module {
  readonly table: Variable;
  constructor(readonly kind: PositionKind, readonly context: number, readonly dim: number, o: { rng: Rng; name?: string }) {
    super();
    const name = `${o.name ?? 'positions'}.weight`;
    this.table = kind === 'learned'
      ? new Variable(normal(context * dim, 0.02, o.rng), [context, dim], name)
      : new Variable(sinusoidalTable(context, dim), [context, dim], name);
  }
  forward(x: Tensor): Tensor {
    const T = x.shape[1];
    if (x.rank !== 3 || T > this.context || x.shape[2] !== this.dim) {
      throw new ShapeError('Positions', `expected input [batch, time <= ${this.context}, ${this.dim}], got ${fmt(x.shape)}`);
    }
    return ops.add(x, slice(this.table.tensor, [0, 0], [T, this.dim]));
  }
  /** The rows at int32 positions `pos` [...]: [..., D]. */
  at(pos: Tensor): Tensor { return embedding(pos, this.table.tensor); }
  override parameters(): Variable[] { return this.kind === 'learned' ? [this.table] : []; }
}

/** Keys and values of earlier positions, [B·heads, P, head size] each, and how many of the P each row may see. */
export interface PastKV { k: Tensor; v: Tensor; lengths: Tensor }

export interface MhaOptions { heads: number; causal?: boolean; dropout?: number; seed?: number; rng: Rng; name?: string }

/**
 * Multi-head self-attention: one Linear makes q, k and v for every head, attention() mixes each head's values, and a
 * Linear projects the heads back. Dropout (training only) applies to the attention weights.
 */
export class MultiHeadAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly drop?: Dropout;
  readonly heads: number;
  readonly causal: boolean;
  constructor(readonly dim: number, o: MhaOptions) {
    super();
    if (!Number.isInteger(o.heads) || o.heads < 1 || dim % o.heads !== 0) throw new ShapeError('MultiHeadAttention', `${dim} features do not split into ${o.heads} heads (expected a divisor of ${dim})`);
    const name = o.name ?? 'attn';
    this.heads = o.heads;
    this.causal = !!o.causal;
    this.qkv = new Linear(dim, 3 * dim, { rng: o.rng, init: 'xavier', name: `${name}.qkv` });
    this.proj = new Linear(dim, dim, { rng: o.rng, init: 'xavier', name: `${name}.proj` });
    if (o.dropout) this.drop = new Dropout(o.dropout, o.seed ?? 0);
  }

  get headSize(): number { return this.dim / this.heads; }

  forward(x: Tensor): Tensor { return this.attend(x).y; }

  /**
   * y for x [B, T, D], and this call's keys and values [B·H, T, dh] (what a cache keeps). With `past`, the queries
   * also see the cached positions; a generating step (T = 1) needs no causal mask, since the cache holds only earlier
   * positions.
   */
  attend(x: Tensor, past?: PastKV): { y: Tensor; k: Tensor; v: Tensor } {
    const [B, T, D] = x.shape, H = this.heads, dh = this.headSize;
    if (x.rank !== 3 || D !== this.dim) throw new ShapeError('MultiHeadAttention', `expected input [batch, time, ${this.dim}], got ${fmt(x.shape)}`);
    // [B, T, 3, H, dh] -> [3, B, H, T, dh]: q, k and v each [B·H, T, dh].
    const qkv = ops.transpose(ops.reshape(linear(this.qkv, x), [B, T, 3, H, dh]), [2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => ops.reshape(slice(qkv, [i, 0, 0, 0, 0], [1, B, H, T, dh]), [B * H, T, dh]));
    // The new position goes first: softmax and the weighted sum do not depend on the order of the keys, and the
    // length mask then covers this position and the cached ones before the cache's unused tail.
    const keys = past ? concat([k, past.k], 1) : k, values = past ? concat([v, past.v], 1) : v;
    const drop = this.training && this.drop;
    const o = attention(q, keys, values, {
      causal: this.causal && !past, lengths: past?.lengths, weights: drop ? (p) => drop.forward(p) : undefined,
    });
    const heads = ops.reshape(ops.transpose(ops.reshape(o, [B, H, T, dh]), [0, 2, 1, 3]), [B, T, D]);
    return { y: linear(this.proj, heads), k, v };
  }

  override children(): Module[] { return this.drop ? [this.qkv, this.proj, this.drop] : [this.qkv, this.proj]; }
}

export interface BlockOptions extends MhaOptions { mlpRatio?: number }

/** Pre-norm block (GPT-2): x + attn(ln1(x)), then x + mlp(ln2(x)), the MLP Linear(D, r·D) - GELU - Linear(r·D, D). */
export class TransformerBlock extends Module {
  readonly ln1: LayerNorm;
  readonly ln2: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(readonly dim: number, o: BlockOptions) {
    super();
    const name = o.name ?? 'block';
    this.ln1 = new LayerNorm(dim, { name: `${name}.ln1` });
    this.ln2 = new LayerNorm(dim, { name: `${name}.ln2` });
    this.attn = new MultiHeadAttention(dim, { ...o, name: `${name}.attn` });
    const hidden = Math.round((o.mlpRatio ?? 4) * dim);
    this.fc1 = new Linear(dim, hidden, { rng: o.rng, init: 'xavier', name: `${name}.fc1` });
    this.fc2 = new Linear(hidden, dim, { rng: o.rng, init: 'xavier', name: `${name}.fc2` });
  }
  forward(x: Tensor): Tensor { return this.step(x).y; }
  /** The block's output and its attention's keys and values (see MultiHeadAttention.attend). */
  step(x: Tensor, past?: PastKV): { y: Tensor; k: Tensor; v: Tensor } {
    const a = this.attn.attend(this.ln1.forward(x), past);
    const h = ops.add(x, a.y);
    return { y: ops.add(h, linear(this.fc2, gelu(linear(this.fc1, this.ln2.forward(h))))), k: a.k, v: a.v };
  }
  override children(): Module[] { return [this.ln1, this.ln2, this.attn, this.fc1, this.fc2]; }
}

// ---- GPT ----

export interface GptConfig {
  vocab: number;
  /** Longest sequence the model reads (positions). */
  context: number;
  dim: number;
  heads: number;
  layers: number;
  positions: PositionKind;
  /** On the attention weights, in training. */
  dropout: number;
}

// Sized for minutes on a CPU-emulated GPU: 15 minutes on lavapipe see about 1.5M tokens, which a smaller, shallower
// model with a shorter window uses better than a larger one.
export const GPT_DEFAULTS: Omit<GptConfig, 'vocab'> = { context: 64, dim: 128, heads: 4, layers: 3, positions: 'learned', dropout: 0 };

/** Decoder-only transformer over token ids: embedding + positions, causal blocks, a final layer norm, a linear head. */
export class Gpt extends Module {
  readonly tokens: Embedding;
  readonly positions: Positions;
  readonly blocks: TransformerBlock[];
  readonly lnf: LayerNorm;
  readonly head: Linear;
  constructor(readonly config: GptConfig, rng: Rng) {
    super();
    const { vocab, context, dim, heads, layers, positions, dropout } = config;
    this.tokens = new Embedding(vocab, dim, { rng, name: 'tok' });
    this.positions = new Positions(positions, context, dim, { rng, name: 'pos' });
    this.blocks = Array.from({ length: layers }, (_, i) => new TransformerBlock(dim, { heads, causal: true, dropout, seed: i + 1, rng, name: `h${i}` }));
    this.lnf = new LayerNorm(dim, { name: 'lnf' });
    this.head = new Linear(dim, vocab, { rng, init: 'xavier', name: 'head' });
  }

  /** Logits [B, T, vocab] for int32 ids [B, T]. */
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'i32' || ids.rank !== 2) throw new ShapeError('gpt', `expected int32 token ids [batch, time], got ${ids.dtype} ${fmt(ids.shape)}`);
    let h = this.positions.forward(this.tokens.forward(ids));
    for (const b of this.blocks) h = b.forward(h);
    return linear(this.head, this.lnf.forward(h));
  }

  /**
   * One generating step for B sequences: ids [B, 1] at int32 positions pos [B], each row seeing `lengths` of the
   * cached keys and values in past[layer]. Returns the logits [B, vocab] and each layer's new key and value
   * [B·heads, 1, head size], which the caller stores at the position in its cache.
   */
  step(ids: Tensor, pos: Tensor, past: { k: Tensor; v: Tensor }[], lengths: Tensor): { logits: Tensor; k: Tensor[]; v: Tensor[] } {
    let h = ops.add(this.tokens.forward(ids), ops.reshape(this.positions.at(pos), [ids.shape[0], 1, this.config.dim]));
    const k: Tensor[] = [], v: Tensor[] = [];
    this.blocks.forEach((b, i) => {
      const r = b.step(h, { ...past[i], lengths });
      h = r.y; k.push(r.k); v.push(r.v);
    });
    return { logits: ops.reshape(linear(this.head, this.lnf.forward(h)), [ids.shape[0], this.config.vocab]), k, v };
  }

  override children(): Module[] { return [this.tokens, this.positions, ...this.blocks, this.lnf, this.head]; }
}

// ---- ViT pieces ----

/**
 * Square grey images [B, S, S] (or [B, 1, S, S]) as sequences of non-overlapping P x P patches, each a token through a
 * Linear layer: [B, (S/P)², dim]. Patch (i, j) is token i·(S/P) + j, its pixels in row-major order.
 */
export class PatchEmbed extends Module {
  readonly proj: Linear;
  constructor(readonly image: number, readonly patch: number, readonly dim: number, o: { rng: Rng; name?: string }) {
    super();
    if (image % patch !== 0) throw new ShapeError('patches', `patch size ${patch} does not divide the image size ${image}`);
    this.proj = new Linear(patch * patch, dim, { rng: o.rng, init: 'xavier', name: o.name ?? 'patch' });
  }
  get tokens(): number { return (this.image / this.patch) ** 2; }
  forward(x: Tensor): Tensor {
    const S = this.image, P = this.patch, B = x.shape[0], n = S / P;
    if (x.size !== B * S * S) throw new ShapeError('patches', `expected images [batch, ${S}, ${S}], got ${fmt(x.shape)}`);
    // [B, n, P, n, P] -> [B, n, n, P, P]
    const patches = ops.reshape(ops.transpose(ops.reshape(x, [B, n, P, n, P]), [0, 1, 3, 2, 4]), [B, n * n, P * P]);
    return linear(this.proj, patches);
  }
  override children(): Module[] { return [this.proj]; }
}
