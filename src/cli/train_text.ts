// `wgtrain train --model gpt`: a character- (or byte-) level GPT on a text file, trained for a number of steps or
// minutes, with the learning-rate schedule spread over that span. Progress in tokens per second; at the end, the
// held-out loss in nats per token next to the unigram loss (the entropy of the training text's token frequencies).
import { writeFile } from 'node:fs/promises';
import { createBackend, BackendName } from '../backends/index.js';
import { Gpt } from '../nn/transformer.js';
import { Tokenizer, TextDataset, unigramLoss } from '../data/text.js';
import { TextTrainer } from '../train/text_trainer.js';
import { saveCheckpoint, readCheckpoint } from '../train/checkpoint_file.js';
import { existsSync } from 'node:fs';
import { makeOptimizer } from '../optim/index.js';
import { Rng } from '../util/rng.js';
import { parse, intFlag, numFlag, choice, UsageError } from './args.js';
import { loadText, GPT_FLAGS, GPT_FLAGS_HELP, gptConfig, tokenizerKind } from './text_arg.js';
import { AUTOTUNE_FLAG, autotuneWanted } from './tune.js';

export const TRAIN_TEXT_HELP = `usage: wgtrain train --model gpt [options]

  --data FILE.txt     the text to learn  [the default corpus: Debian's fortunes, installed by 'scripts/setup.sh text']
  --backend NAME      webgpu or cpu  [webgpu]
${GPT_FLAGS_HELP}
  --batch-size N      windows per step  [32]
  --steps N           optimisation steps  [1000, or as many as --max-minutes allows]
  --max-minutes M     stop after M minutes of training; the schedule (warm-up, then cosine) spans those minutes
  --lr X              peak learning rate of AdamW  [0.003]
  --weight-decay X    AdamW's decoupled decay  [0.01]
  --warmup N          linear warm-up over the first N steps  [50]
  --clip-norm X       clip the gradients to global L2 norm X (costs ~3 small kernels per parameter a step)  [off]
  --held-out X        the fraction of the text, at its end, held out to measure the loss  [0.1]
  --eval-windows N    held-out windows the final loss is measured on  [256]
  --log-every N       print (and read back) the loss every N steps  [25]
  --seed N            seeds initialisation and batches  [1]
  --save FILE         write a checkpoint (safetensors, with the vocabulary) at the end; refuses to overwrite a file
                      that is not a wgtrain checkpoint
  --json FILE         write a summary: valLoss and unigramLoss (nats per token), tokensPerSec, ...`;

export async function trainText(argv: string[]): Promise<void> {
  const f = parse('train', argv, {
    model: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string', default: 'webgpu' }, ...GPT_FLAGS,
    'batch-size': { type: 'string', default: '32' }, steps: { type: 'string' }, 'max-minutes': { type: 'string' },
    lr: { type: 'string', default: '0.003' }, 'weight-decay': { type: 'string', default: '0.01' }, warmup: { type: 'string', default: '50' },
    'clip-norm': { type: 'string' }, 'held-out': { type: 'string', default: '0.1' }, 'eval-windows': { type: 'string', default: '256' },
    'log-every': { type: 'string', default: '25' }, seed: { type: 'string', default: '1' }, save: { type: 'string' }, json: { type: 'string' },
    ...AUTOTUNE_FLAG,
  });
  const backendName = choice<BackendName>('train', 'backend', f.backend, ['webgpu', 'cpu']);
  const B = intFlag('train', 'batch-size', f['batch-size']);
  const minutes = f['max-minutes'] === undefined ? undefined : numFlag('train', 'max-minutes', f['max-minutes']);
  const steps = f.steps === undefined ? (minutes === undefined ? 1000 : Infinity) : intFlag('train', 'steps', f.steps);
  const lr = numFlag('train', 'lr', f.lr), warmup = intFlag('train', 'warmup', f.warmup, 0);
  const weightDecay = Number(f['weight-decay']);
  if (!(weightDecay >= 0)) throw new UsageError(`train: --weight-decay must be a number >= 0, got '${f['weight-decay']}'`);
  const clip = f['clip-norm'] === undefined ? undefined : numFlag('train', 'clip-norm', f['clip-norm']);
  const heldOut = numFlag('train', 'held-out', f['held-out']);
  if (heldOut >= 0.5) throw new UsageError(`train: --held-out must be below 0.5, got '${f['held-out']}'`);
  const evalWindows = intFlag('train', 'eval-windows', f['eval-windows']), logEvery = intFlag('train', 'log-every', f['log-every']);
  const seed = intFlag('train', 'seed', f.seed, 0);

  // Before any work: a --save path that holds something other than a checkpoint is the user's, not ours to replace.
  if (typeof f.save === 'string' && existsSync(f.save)) {
    await readCheckpoint(f.save).catch(() => { throw new UsageError(`train: --save ${f.save} exists and is not a wgtrain checkpoint; refusing to overwrite it (choose another path)`); });
  }
  const t0 = performance.now();
  const { text, description } = await loadText('train', f.data as string | undefined);
  const tokenizer = Tokenizer.fit(tokenizerKind('train', f), text);
  const config = gptConfig('train', f, tokenizer.vocabSize);
  let ds: TextDataset;
  try { ds = new TextDataset(tokenizer.encode(text), config.context, heldOut); } catch (e) { throw new UsageError(`train: ${(e as Error).message}`); }
  const unigram = unigramLoss(ds.train, tokenizer.vocabSize);
  const backend = await createBackend(backendName, { autotune: autotuneWanted('train', f) });
  const model = new Gpt(config, new Rng(seed));
  const params = model.parameters().reduce((a, p) => a + p.size, 0);
  const trainer = new TextTrainer(backend, model, makeOptimizer('adamw', { lr, weightDecay }), B, clip);
  const unit = tokenizer.kind === 'char' ? 'char' : 'byte';
  console.log(`backend ${backend.name}: ${backend.description}`);
  console.log(`data ${description}: ${ds.train.length.toLocaleString('en')} training and ${ds.val.length.toLocaleString('en')} held-out ${unit}s, vocabulary ${tokenizer.vocabSize}; unigram loss ${unigram.toFixed(3)} nats/${unit}`);
  console.log(`model gpt: ${config.layers} blocks, dim ${config.dim}, ${config.heads} heads, context ${config.context}, ${config.positions} positions, ${params.toLocaleString('en')} parameters`);
  console.log(`batch ${B} x ${config.context} tokens, adamw lr ${lr} (warm-up ${warmup}, cosine to 10% over ${minutes === undefined ? `${steps} steps` : `${minutes} min`}), seed ${seed}`);

  // Where in the run a step is: the larger of the step fraction and the time fraction, so --max-minutes stretches
  // the same schedule over the minutes.
  const budget = minutes === undefined ? Infinity : minutes * 60_000;
  const lrAt = (step: number, frac: number) => (step < warmup ? (lr * (step + 1)) / warmup : lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, frac)))));
  if (backend.tuner?.enabled) await trainer.prepareAsync(); else trainer.prepare(); // compileAsync tunes first
  const start = performance.now();
  let lastLog = start, lastLogStep = 0, trainLoss = NaN;
  for (let step = 0; step < steps; step++) {
    const elapsed = performance.now() - start;
    if (elapsed >= budget) break;
    trainer.run(ds.batch(step, B, seed), lrAt(step, Math.max(step / steps, elapsed / budget)));
    // With a time budget, wait for each step: the clock must measure the device's work, not how far the host has
    // queued ahead of it (a 15-minute run overran by 40 s without this). A step is seconds; the wait is not.
    if (minutes !== undefined) await backend.sync();
    if ((step + 1) % logEvery === 0 || step + 1 === steps) {
      trainLoss = await trainer.lastLoss();
      if (!Number.isFinite(trainLoss)) throw new Error(`training stopped: loss is ${trainLoss} at step ${step + 1} (try a lower --lr)`);
      const now = performance.now(), tps = ((step + 1 - lastLogStep) * B * config.context) / ((now - lastLog) / 1000);
      console.log(`step ${step + 1}  loss ${trainLoss.toFixed(3)}  ${Math.round(tps).toLocaleString('en')} tokens/s  lr ${trainer.optimizer.lr.toExponential(2)}  ${((now - start) / 60_000).toFixed(1)} min`);
      lastLog = now; lastLogStep = step + 1;
    }
  }
  await backend.sync();
  const trainSeconds = (performance.now() - start) / 1000, tokens = trainer.step * B * config.context;
  if (!(trainer.step % logEvery === 0)) trainLoss = await trainer.lastLoss();
  const valLoss = await trainer.valLoss(ds, evalWindows);
  const tokensPerSec = tokens / trainSeconds;
  console.log(`trained ${trainer.step} steps, ${tokens.toLocaleString('en')} tokens in ${(trainSeconds / 60).toFixed(1)} min (${Math.round(tokensPerSec).toLocaleString('en')} tokens/s)`);
  console.log(`held-out loss ${valLoss.toFixed(3)} nats/${unit} (unigram ${unigram.toFixed(3)}, ratio ${(valLoss / unigram).toFixed(3)})`);
  if (typeof f.save === 'string') {
    await saveCheckpoint(f.save, trainer, { epoch: 0, batch: 0, seed, model: { name: 'gpt', gpt: config, tokenizer: tokenizer.spec } });
    console.log(`wrote ${f.save}`);
  }
  if (typeof f.json === 'string') {
    const summary = {
      backend: backend.name, adapter: backend.description, model: 'gpt', config, tokenizer: tokenizer.kind, data: description,
      steps: trainer.step, batchSize: B, tokens, trainSeconds, tokensPerSec, trainLoss, valLoss, unigramLoss: unigram,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    await writeFile(f.json, JSON.stringify(summary, null, 2) + '\n');
  }
  trainer.dispose();
  backend.dispose();
}
