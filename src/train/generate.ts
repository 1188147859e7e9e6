// Sampling text from a GPT, one token per step, with a cache of keys and values: each step runs the model on the one
// new position against the cached ones (Gpt.step), so a token costs one position, not the whole window. The cache
// lives on the host: the step returns the new position's keys and values, and the cache goes back in as inputs.
// When the window is full, the cache is rebuilt from the last half of it (positions restart at 0).
import { input, Tensor } from '../graph/tensor.js';
import { topk } from '../graph/attention.js';
import type { Backend, Executable } from '../backends/backend.js';
import type { Gpt } from '../nn/transformer.js';
import { Rng } from '../util/rng.js';

export interface SampleOptions { tokens: number; temperature: number; topK: number; seed: number }

export class Sampler {
  private ex: Executable;
  private id: Tensor;
  private pos: Tensor;
  private lengths: Tensor;
  private past: { k: Tensor; v: Tensor }[];
  private out: { logits: Tensor; top: Tensor; k: Tensor[]; v: Tensor[] };
  private cache: { k: Float32Array; v: Float32Array }[];
  /** Positions held in the cache. */
  private filled = 0;
  readonly topK: number;

  constructor(readonly backend: Backend, readonly model: Gpt, topK: number) {
    const { heads, dim, context, layers, vocab } = model.config, dh = dim / heads;
    this.topK = Math.min(Math.max(1, topK), vocab);
    model.eval();
    this.id = input([1, 1], 'i32', 'id');
    this.pos = input([1], 'i32', 'pos');
    this.lengths = input([heads], 'i32', 'lengths');
    this.past = Array.from({ length: layers }, (_, i) => ({ k: input([heads, context, dh], 'f32', `k${i}`), v: input([heads, context, dh], 'f32', `v${i}`) }));
    const r = model.step(this.id, this.pos, this.past, this.lengths);
    this.out = { ...r, top: topk(r.logits, this.topK) };
    this.ex = backend.compile([r.logits, this.out.top, ...r.k, ...r.v]);
    this.cache = this.past.map(() => ({ k: new Float32Array(heads * context * dh), v: new Float32Array(heads * context * dh) }));
  }

  /** Feed one token at the next position; returns the logits for the token after it and their top-k ids. */
  async feed(token: number): Promise<{ logits: Float32Array; top: Int32Array }> {
    const { heads, dim, context } = this.model.config, dh = dim / heads;
    const feeds = new Map<Tensor, Float32Array | Int32Array>([
      [this.id, Int32Array.of(token)], [this.pos, Int32Array.of(this.filled)], [this.lengths, new Int32Array(heads).fill(this.filled + 1)],
    ]);
    this.past.forEach((p, i) => { feeds.set(p.k, this.cache[i].k); feeds.set(p.v, this.cache[i].v); });
    this.ex.run(feeds);
    const [logits, top, ...kv] = await Promise.all([this.out.logits, this.out.top, ...this.out.k, ...this.out.v].map((t) => this.ex.read(t)));
    const L = this.past.length;
    for (let i = 0; i < L; i++) {
      for (let h = 0; h < heads; h++) {
        this.cache[i].k.set(kv[i].subarray(h * dh, (h + 1) * dh), (h * context + this.filled) * dh);
        this.cache[i].v.set(kv[L + i].subarray(h * dh, (h + 1) * dh), (h * context + this.filled) * dh);
      }
    }
    this.filled++;
    return { logits: logits as Float32Array, top: top as Int32Array };
  }

  /** Forget the cache (the next token goes to position 0). */
  reset(): void { this.filled = 0; }
  get full(): boolean { return this.filled === this.model.config.context; }

  /**
   * `prompt` ids, then `o.tokens` sampled ones: at temperature T from the softmax over the top-k logits (T = 0: the
   * most likely token). Calls `onToken` with each new id as it is drawn.
   */
  async generate(prompt: Int32Array, o: SampleOptions, onToken?: (id: number) => void): Promise<Int32Array> {
    if (prompt.length === 0) throw new RangeError('generate: the prompt is empty (expected at least one character)');
    const rng = new Rng(o.seed), ids = Array.from(prompt), ctx = this.model.config.context;
    this.reset();
    let next = await this.refill(ids.slice(-ctx));
    for (let n = 0; n < o.tokens; n++) {
      const t = pick(next, o.temperature, rng);
      ids.push(t);
      onToken?.(t);
      if (this.full) { this.reset(); next = await this.refill(ids.slice(-Math.ceil(ctx / 2))); } else next = await this.feed(t);
    }
    return Int32Array.from(ids.slice(prompt.length));
  }

  private async refill(ids: number[]): Promise<{ logits: Float32Array; top: Int32Array }> {
    let r!: { logits: Float32Array; top: Int32Array };
    for (const t of ids) r = await this.feed(t);
    return r;
  }

  dispose(): void { this.ex.dispose(); }
}

/** A draw from softmax(logits[top] / temperature); the top id at temperature 0. */
function pick({ logits, top }: { logits: Float32Array; top: Int32Array }, temperature: number, rng: Rng): number {
  if (!(temperature > 0)) return top[0];
  const w = Array.from(top, (i) => Math.exp((logits[i] - logits[top[0]]) / temperature));
  let u = rng.next() * w.reduce((a, b) => a + b, 0);
  for (let j = 0; j < w.length; j++) if ((u -= w[j]) <= 0) return top[j];
  return top[top.length - 1];
}
