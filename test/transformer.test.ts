// The transformer stack end to end: top-k's picks, the text pipeline, the key/value cache against the full forward,
// and a GPT trained for a few steps on the CPU reference and on WebGPU in lockstep.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { input } from '../src/graph/tensor.js';
import { topk, argmax } from '../src/graph/attention.js';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { Gpt, GptConfig } from '../src/nn/transformer.js';
import { MODELS } from '../src/nn/models.js';
import { buildModel, ConfigError } from '../src/nn/config.js';
import { Tokenizer, TextDataset, unigramLoss } from '../src/data/text.js';
import { TextTrainer } from '../src/train/text_trainer.js';
import { Sampler } from '../src/train/generate.js';
import { makeOptimizer } from '../src/optim/index.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randn, randInt, runOn } from './helpers.js';

const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(40) + 'pack my box with five dozen liquor jugs. '.repeat(20);

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

describe('top-k and argmax', () => {
  it('pick the largest entries in order, the lower index first among equal ones, on both backends', async () => {
    const x = input([33, 9], 'f32', 'x');
    const vals = Float32Array.from(randInt(33 * 9, 4, 7)); // many ties
    const outs = [topk(x, 4), argmax(x)];
    for (const be of [new CpuBackend(), gpu] as Backend[]) {
      const [top, am] = await runOn(be, outs, new Map([[x, vals]]));
      for (let r = 0; r < 33; r++) {
        const row = Array.from(vals.subarray(r * 9, r * 9 + 9));
        const want = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map((p) => p[1]);
        expect(Array.from(top.subarray(r * 4, r * 4 + 4)), `${be.name} row ${r}`).toEqual(want.slice(0, 4));
        expect(am[r]).toBe(want[0]);
      }
    }
  });
});

describe('text data', () => {
  it('character and byte tokenizers round-trip, and the vocabulary rebuilds from its spec', () => {
    const chars = Tokenizer.fit('char', TEXT);
    expect(chars.vocabSize).toBe(new Set(TEXT).size);
    expect(chars.decode(chars.encode('lazy fox'))).toBe('lazy fox');
    expect(Tokenizer.fromSpec(JSON.parse(JSON.stringify(chars.spec))).encode('dog')).toEqual(chars.encode('dog'));
    expect(() => chars.encode('Z')).toThrow(/"Z" is not in the model's vocabulary/);
    const bytes = Tokenizer.fit('byte', '');
    expect(bytes.vocabSize).toBe(256);
    expect(bytes.decode(bytes.encode('naïve €'))).toBe('naïve €');
  });

  it('unigram loss is the entropy of the token frequencies', () => {
    expect(unigramLoss(Int32Array.of(0, 1, 0, 1), 3)).toBeCloseTo(Math.log(2), 12);
    expect(unigramLoss(Int32Array.of(2, 2, 2), 3)).toBe(0);
  });

  it('windows: y is x shifted by one, the tail is held out, and a step always draws the same batch', () => {
    const ids = Int32Array.from({ length: 1000 }, (_, i) => i);
    const ds = new TextDataset(ids, 16, 0.1);
    expect(ds.train.length).toBe(900);
    const a = ds.batch(5, 3, 1), b = ds.batch(5, 3, 1);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    for (let i = 0; i < a.x.length; i++) { expect(a.y[i]).toBe(a.x[i] + 1); expect(a.y[i]).toBeLessThan(900); }
    const val = [...ds.valBatches(4)];
    expect(val.reduce((s, v) => s + v.windows, 0)).toBe(Math.floor(99 / 16));
    expect(val[0].x[0]).toBe(900);
    expect(() => new TextDataset(ids.subarray(0, 10), 16)).toThrow(/fewer than one window/);
  });
});

const tiny = (vocab: number): GptConfig => ({ vocab, context: 8, dim: 16, heads: 2, layers: 2, positions: 'learned', dropout: 0 });

describe('GPT', () => {
  it('the key/value cache gives the logits of the full forward, position by position (CPU and WebGPU)', async () => {
    for (const positions of ['learned', 'sinusoidal'] as const) {
      const model = new Gpt({ ...tiny(11), positions }, new Rng(3));
      const seq = Int32Array.from([1, 4, 2, 9, 0, 7, 3, 5]);
      const ids = input([1, 8], 'i32', 'ids');
      model.eval();
      const logits = model.forward(ids);
      for (const be of [new CpuBackend(), gpu] as Backend[]) {
        const [full] = await runOn(be, [logits], new Map([[ids, seq]]));
        const s = new Sampler(be, model, 3);
        for (let p = 0; p < 8; p++) {
          const r = await s.feed(seq[p]);
          assertClose(r.logits, full.subarray(p * 11, (p + 1) * 11), { atol: 2e-5, rtol: 1e-4, what: `${be.name} ${positions} position ${p}` });
        }
        expect(s.full).toBe(true);
        s.dispose();
      }
    }
  });

  it('trains for a few steps on the CPU reference and WebGPU in lockstep: same losses, falling', async () => {
    const tok = Tokenizer.fit('char', TEXT);
    const ds = new TextDataset(tok.encode(TEXT), 8, 0.1);
    const runs = [new CpuBackend(), gpu].map((be) => {
      const model = new Gpt({ ...tiny(tok.vocabSize), dropout: 0.1 }, new Rng(5));
      return new TextTrainer(be, model, makeOptimizer('adamw', { lr: 1e-2 }), 6);
    });
    const losses: number[][] = [[], []];
    for (let step = 0; step < 12; step++) {
      const b = ds.batch(step, 6, 1);
      for (let k = 0; k < 2; k++) { runs[k].run(b, 1e-2); losses[k].push(await runs[k].lastLoss()); }
      expect(Math.abs(losses[1][step] - losses[0][step]), `step ${step}: cpu ${losses[0][step]}, webgpu ${losses[1][step]}`).toBeLessThan(2e-4 * Math.max(1, losses[0][step]));
    }
    expect(losses[0][11]).toBeLessThan(losses[0][0] - 0.3);
    const [vc, vg] = [await runs[0].valLoss(ds), await runs[1].valLoss(ds)];
    expect(Math.abs(vc - vg)).toBeLessThan(1e-3);
    expect(vc).toBeLessThan(Math.log(tok.vocabSize));
    runs.forEach((r) => r.dispose());
  });

  it('generates the requested number of tokens from the vocabulary, and greedily the same text twice', async () => {
    const model = new Gpt(tiny(11), new Rng(9));
    const s = new Sampler(gpu, model, 5);
    const a = await s.generate(Int32Array.of(1, 2, 3), { tokens: 20, temperature: 0, topK: 5, seed: 1 });
    const b = await s.generate(Int32Array.of(1, 2, 3), { tokens: 20, temperature: 0, topK: 5, seed: 2 });
    expect(a.length).toBe(20); // more than the 8-position window: the cache is rebuilt on the way
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a).every((t) => t >= 0 && t < 11)).toBe(true);
    s.dispose();
  });
});

describe('ViT and the JSON layer types', () => {
  it('vit maps [B, 28, 28] images to [B, 10] class scores, the same on both backends', async () => {
    const model = MODELS.vit.build(new Rng(2));
    const x = input([3, 28, 28], 'f32', 'x');
    const y = model.forward(x);
    expect(y.shape).toEqual([3, 10]);
    const feeds = new Map([[x, randn(3 * 784, 4)]]);
    const [c] = await runOn(new CpuBackend(), [y], feeds), [g] = await runOn(gpu, [y], feeds);
    assertClose(g, c, { atol: 1e-4, rtol: 1e-4, what: 'vit logits' });
    expect(new Set(model.parameters().map((p) => p.name)).size).toBe(model.parameters().length);
  });

  it('a character model from JSON: embedding, positions, attention and transformer layers', () => {
    const built = buildModel({
      input: [16],
      layers: [
        { type: 'embedding', vocab: 40, dim: 24 }, { type: 'positions', kind: 'sinusoidal' },
        { type: 'attention', heads: 3, causal: true }, { type: 'transformer', heads: 2, causal: true, dropout: 0.1 },
        { type: 'transformer', heads: 2, causal: true }, { type: 'layernorm' },
      ],
    }, new Rng(1));
    expect(built.outputShape).toEqual([16, 24]);
    expect(new Set(built.model.parameters().map((p) => p.name)).size).toBe(built.model.parameters().length);
    expect(() => buildModel({ input: [16, 8], layers: [{ type: 'transformer', heads: 3 }] }, new Rng(1))).toThrow(ConfigError);
    expect(() => buildModel({ input: [16, 8], layers: [{ type: 'transformer', heads: 3 }] }, new Rng(1))).toThrow(/8 features do not split into 3 heads/);
    expect(() => buildModel({ input: [16], layers: [{ type: 'positions', kind: 'rotary' }] }, new Rng(1))).toThrow(/"kind" must be "learned" or "sinusoidal"/);
  });
});
