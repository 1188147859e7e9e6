// `wgtrain generate`: text from a GPT checkpoint, one token per step through the key/value cache (src/train/generate.ts).
import { createBackend, BackendName } from '../backends/index.js';
import { Gpt, GptConfig } from '../nn/transformer.js';
import { Tokenizer, TokenizerSpec } from '../data/text.js';
import { CheckpointError } from '../train/checkpoint.js';
import { readCheckpoint } from '../train/checkpoint_file.js';
import { Sampler } from '../train/generate.js';
import { fmt } from '../graph/shape.js';
import { Rng } from '../util/rng.js';
import { parse, intFlag, choice, UsageError } from './args.js';

export const GENERATE_HELP = `usage: wgtrain generate --weights FILE [options]

  --weights FILE      a checkpoint written by 'wgtrain train --model gpt --save FILE'
  --prompt TEXT       the text to continue (every character must be in the model's vocabulary)  [a newline]
  --tokens N          tokens to sample  [200]
  --temperature X     divides the logits; 0 takes the most likely token each time  [0.8]
  --top-k N           sample among the N most likely tokens  [40]
  --seed N            seeds the sampling  [1]
  --backend NAME      webgpu or cpu  [webgpu]`;

export async function generate(argv: string[]): Promise<void> {
  const f = parse('generate', argv, {
    weights: { type: 'string' }, prompt: { type: 'string', default: '\n' }, tokens: { type: 'string', default: '200' },
    temperature: { type: 'string', default: '0.8' }, 'top-k': { type: 'string', default: '40' }, seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'webgpu' },
  });
  if (typeof f.weights !== 'string') throw new UsageError(`generate: --weights FILE is required (a checkpoint from 'wgtrain train --model gpt --save FILE')`);
  const tokens = intFlag('generate', 'tokens', f.tokens, 0), topK = intFlag('generate', 'top-k', f['top-k']), seed = intFlag('generate', 'seed', f.seed, 0);
  const temperature = Number(f.temperature);
  if (!(temperature >= 0 && Number.isFinite(temperature))) throw new UsageError(`generate: --temperature must be a number >= 0, got '${f.temperature}'`);
  const backendName = choice<BackendName>('generate', 'backend', f.backend, ['webgpu', 'cpu']);

  const { meta, tensors } = await readCheckpoint(f.weights);
  const m = meta.model as { name?: string; gpt?: GptConfig; tokenizer?: TokenizerSpec };
  if (m.name !== 'gpt' || !m.gpt || !m.tokenizer) throw new CheckpointError(f.weights, `holds a ${String(m.name ?? 'model')} model, not a GPT (expected a checkpoint from 'wgtrain train --model gpt --save FILE')`);
  const tokenizer = Tokenizer.fromSpec(m.tokenizer);
  let prompt: Int32Array;
  try { prompt = tokenizer.encode(String(f.prompt)); } catch (e) { throw new UsageError(`generate: --prompt: ${(e as Error).message}`); }
  if (prompt.length === 0) throw new UsageError('generate: --prompt is empty (expected at least one character)');

  const model = new Gpt(m.gpt, new Rng(0));
  const backend = await createBackend(backendName);
  try {
    for (const p of model.parameters()) {
      const t = tensors.get(p.name);
      if (!t || t.dtype !== 'F32' || fmt(t.shape) !== fmt(p.shape)) throw new CheckpointError(f.weights, `tensor '${p.name}' is ${t ? `${t.dtype} ${fmt(t.shape)}` : 'missing'}, expected F32 ${fmt(p.shape)}`);
      backend.writeVariable(p, t.array() as Float32Array);
    }
    const sampler = new Sampler(backend, model, topK);
    process.stdout.write(String(f.prompt));
    const t0 = performance.now();
    const ids = await sampler.generate(prompt, { tokens, temperature, topK, seed }, (id) => {
      if (tokenizer.kind === 'char') process.stdout.write(tokenizer.decode([id]));
    });
    if (tokenizer.kind === 'byte') process.stdout.write(tokenizer.decode(ids)); // bytes of one character may span steps
    const s = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    console.error(`(${tokens} tokens in ${s.toFixed(1)} s, ${(tokens / s).toFixed(1)} tokens/s, on ${backend.name})`);
    sampler.dispose();
  } finally {
    backend.dispose();
  }
}
