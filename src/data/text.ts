// Text for language models: a tokenizer (characters or UTF-8 bytes) whose vocabulary travels in the checkpoint, and a
// dataset of context windows over a token stream, with the tail held out to measure loss on text never trained on.
import { Rng, hash32 } from '../util/rng.js';

export type TokenizerKind = 'char' | 'byte';

/** What a checkpoint stores to rebuild the tokenizer: the kind and, for characters, the vocabulary in id order. */
export interface TokenizerSpec { kind: TokenizerKind; chars?: string[] }

export class Tokenizer {
  private ids = new Map<string, number>();
  private constructor(readonly kind: TokenizerKind, readonly chars: string[]) {
    chars.forEach((c, i) => this.ids.set(c, i));
  }

  /** The characters of `text` (by code point), sorted, as the vocabulary; or the 256 byte values. */
  static fit(kind: TokenizerKind, text: string): Tokenizer {
    return kind === 'byte' ? new Tokenizer('byte', []) : new Tokenizer('char', [...new Set(text)].sort());
  }
  static fromSpec(s: TokenizerSpec): Tokenizer {
    if (s.kind === 'byte') return new Tokenizer('byte', []);
    if (s.kind !== 'char' || !Array.isArray(s.chars) || s.chars.length === 0) throw new Error(`tokenizer: expected {kind: 'char', chars: [...]} or {kind: 'byte'}, got ${JSON.stringify(s).slice(0, 80)}`);
    return new Tokenizer('char', s.chars);
  }
  get spec(): TokenizerSpec { return this.kind === 'byte' ? { kind: 'byte' } : { kind: 'char', chars: this.chars }; }
  get vocabSize(): number { return this.kind === 'byte' ? 256 : this.chars.length; }

  /** Ids of `text`; a character outside the vocabulary is an error naming it (a prompt may hold one). */
  encode(text: string): Int32Array {
    if (this.kind === 'byte') return Int32Array.from(new TextEncoder().encode(text));
    const out = new Int32Array([...text].length);
    let i = 0;
    for (const c of text) {
      const id = this.ids.get(c);
      if (id === undefined) throw new RangeError(`tokenizer: the character ${JSON.stringify(c)} is not in the model's vocabulary of ${this.chars.length} characters`);
      out[i++] = id;
    }
    return out;
  }
  decode(ids: ArrayLike<number>): string {
    if (this.kind === 'byte') return new TextDecoder().decode(Uint8Array.from(ids as ArrayLike<number>));
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]];
    return s;
  }
}

/** Entropy in nats of the token frequencies of `ids`: the loss of the best model that ignores context. */
export function unigramLoss(ids: Int32Array, vocab: number): number {
  const counts = new Float64Array(vocab);
  for (const t of ids) counts[t]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

export interface TextBatch { x: Int32Array; y: Int32Array }

/**
 * Context windows over a token stream: x = ids[o, o + T), y = ids[o + 1, o + T + 1). The last `heldOut` fraction is
 * the validation tail. Training windows start at offsets drawn from (seed, step), so a step's batch depends on nothing
 * before it; validation walks the tail in consecutive windows.
 */
export class TextDataset {
  readonly train: Int32Array;
  readonly val: Int32Array;
  constructor(readonly ids: Int32Array, readonly context: number, heldOut = 0.1) {
    const nVal = Math.floor(ids.length * heldOut);
    this.train = ids.subarray(0, ids.length - nVal);
    this.val = ids.subarray(ids.length - nVal);
    if (this.train.length < context + 1) throw new RangeError(`text: ${this.train.length} training tokens, fewer than one window of ${context + 1} (use a longer text or a shorter --context)`);
    if (heldOut > 0 && this.val.length < context + 1) throw new RangeError(`text: the held-out tail has ${this.val.length} tokens, fewer than one window of ${context + 1} (use a longer text)`);
  }

  /** Batch `step` of B training windows, written into `into` (reused between steps). */
  batch(step: number, B: number, seed: number, into?: TextBatch): TextBatch {
    const T = this.context, out = into ?? { x: new Int32Array(B * T), y: new Int32Array(B * T) };
    const rng = new Rng(hash32(seed, step, 0x7e47));
    const span = this.train.length - T - 1;
    for (let b = 0; b < B; b++) {
      const o = rng.int(span + 1);
      out.x.set(this.train.subarray(o, o + T), b * T);
      out.y.set(this.train.subarray(o + 1, o + T + 1), b * T);
    }
    return out;
  }

  /** Consecutive held-out windows, B at a time (the last batch padded by repeating its first window), at most `max`. */
  *valBatches(B: number, max = Infinity): Generator<TextBatch & { windows: number }> {
    const T = this.context, total = Math.min(Math.floor((this.val.length - 1) / T), max);
    for (let w = 0; w < total; w += B) {
      const n = Math.min(B, total - w), x = new Int32Array(B * T), y = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        const o = (w + (b < n ? b : 0)) * T;
        x.set(this.val.subarray(o, o + T), b * T);
        y.set(this.val.subarray(o + 1, o + T + 1), b * T);
      }
      yield { x, y, windows: n };
    }
  }
}
