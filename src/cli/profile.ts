// `wgtrain profile`: where one training step's time goes, kernel by kernel, and a Chrome trace of it.
import { writeFile } from 'node:fs/promises';
import { createBackend } from '../backends/index.js';
import { profileTrace, StepProfile } from '../backends/backend.js';
import { SGD } from '../optim/sgd.js';
import { ClassifierTrainer, stepFeeds } from '../train/trainer.js';
import { Rng } from '../util/rng.js';
import { parse, choice, intFlag, UsageError } from './args.js';
import { resolveModel, MODEL_FLAG_HELP, ResolvedModel } from './model_arg.js';
import { Gpt, GPT_DEFAULTS } from '../nn/transformer.js';
import { TextTrainer } from '../train/text_trainer.js';
import { makeOptimizer } from '../optim/index.js';
import { GPT_BENCH_VOCAB } from '../../bench/train_gpt.js';
import type { Backend } from '../backends/backend.js';
import { PRECISIONS, Precision } from '../graph/f16.js';
import { AUTOTUNE_FLAG, AUTOTUNE_HELP, autotuneWanted } from './tune.js';

export const PROFILE_HELP = `usage: wgtrain profile --model NAME [options]

Runs a model's training step (forward, loss, backward, SGD-momentum update; for gpt, train's default GPT with AdamW
on random windows of a ${GPT_BENCH_VOCAB}-symbol vocabulary) on random inputs of the model's shape and
prints each kernel's time, longest first, with its GFLOP/s (products) or GB/s (the rest) and its share of the step,
then the host's own time per step. On WebGPU each kernel is timed on the device by timestamp queries where the
adapter has 'timestamp-query' (each kernel then runs in a compute pass of its own); elsewhere by the host clock, and
the output says which.
  --model NAME        gpt, ${MODEL_FLAG_HELP}
  --batch-size N      [32]
  --runs N            profiled steps; a kernel's time is their mean without the top and bottom fifth  [10]
  --backend NAME      webgpu or cpu  [webgpu]
  --precision P       f32, or f16: the mixed-precision step of train --precision f16 (classifiers; needs the
                      adapter's 'shader-f16')  [f32]
  --top N             rows printed  [25]
  --trace FILE        also write the step as Chrome trace-event JSON (open it in Perfetto or chrome://tracing)
  --json FILE         also write the profile as JSON
${AUTOTUNE_HELP}`;

export async function profile(argv: string[]): Promise<void> {
  const f = parse('profile', argv, {
    model: { type: 'string' }, 'batch-size': { type: 'string', default: '32' }, runs: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'webgpu' }, top: { type: 'string', default: '25' }, trace: { type: 'string' }, json: { type: 'string' },
    precision: { type: 'string', default: 'f32' }, ...AUTOTUNE_FLAG,
  });
  if (f.model === undefined) throw new UsageError(`profile: --model is required (${MODEL_FLAG_HELP})`);
  const B = intFlag('profile', 'batch-size', f['batch-size']), runs = intFlag('profile', 'runs', f.runs), top = intFlag('profile', 'top', f.top);
  const backendName = choice('profile', 'backend', f.backend, ['webgpu', 'cpu'] as const);
  const precision = choice<Precision>('profile', 'precision', f.precision, PRECISIONS);
  if (precision === 'f16' && f.model === 'gpt') throw new UsageError('profile: --precision f16 profiles a classifier\'s step; the gpt step runs in float32 only');
  // A bad model is reported before any device is opened.
  const m = f.model === 'gpt' ? undefined : await resolveModel('profile', String(f.model), new Rng(1));
  if (m && m.outputShape.length !== 1) throw new UsageError(`profile: model ${m.name} outputs [${m.outputShape.join(', ')}] per example; profile trains a classifier (one score per class) or gpt`);
  const backend = await createBackend(backendName, { autotune: autotuneWanted('profile', f) });
  try {
    backend.checkPrecision?.(precision);
    const { p, what } = m ? await profileClassifier(backend, m, B, runs, precision) : await profileGpt(backend, B, runs);
    console.log(formatProfile(p, what, top));
    if (typeof f.trace === 'string') { await writeFile(f.trace, JSON.stringify(profileTrace(p)) + '\n'); console.log(`wrote ${f.trace}`); }
    if (typeof f.json === 'string') { await writeFile(f.json, JSON.stringify(p, null, 2) + '\n'); console.log(`wrote ${f.json}`); }
  } finally {
    backend.dispose();
  }
}

async function profileClassifier(backend: Backend, m: ResolvedModel, B: number, runs: number, precision: Precision): Promise<{ p: StepProfile; what: string }> {
  const trainer = new ClassifierTrainer(backend, m.model, new SGD({ lr: 0.01, momentum: 0.9 }), m.inputShape);
  trainer.precision = precision;
  const rng = new Rng(2), per = m.inputShape.reduce((a, b) => a * b, 1), classes = m.outputShape[0];
  const x = Float32Array.from({ length: B * per }, () => rng.normal());
  const y = Int32Array.from({ length: B }, () => rng.int(classes));
  if (backend.tuner?.enabled) await trainer.prepareAsync({ train: [B] }); // tuned, as a training run compiles it
  const g = trainer.trainStep(x, y, B);
  const p = await g.ex.profile(stepFeeds(g, x, y), { runs });
  trainer.dispose();
  return { p, what: `${m.name}, batch ${B}${precision === 'f16' ? ', precision f16' : ''}` };
}

/** The GPT that `train --model gpt` builds by default, as `bench train --model gpt` measures it. */
async function profileGpt(backend: Backend, B: number, runs: number): Promise<{ p: StepProfile; what: string }> {
  const config = { ...GPT_DEFAULTS, vocab: GPT_BENCH_VOCAB };
  const trainer = new TextTrainer(backend, new Gpt(config, new Rng(1)), makeOptimizer('adamw', { lr: 1e-3 }), B);
  const rng = new Rng(2), T = config.context;
  const x = Int32Array.from({ length: B * T }, () => rng.int(config.vocab)), y = Int32Array.from({ length: B * T }, () => rng.int(config.vocab));
  trainer.run({ x, y }, 1e-3);
  const g = trainer.prepare();
  const p = await g.ex.profile(new Map([[g.ids, x], [g.targets, y]]), { runs });
  trainer.dispose();
  return { p, what: `gpt (context ${T}, dim ${config.dim}, ${config.layers} layers), batch ${B} x ${T} tokens` };
}

export function formatProfile(p: StepProfile, what: string, top: number): string {
  const how = p.timing === 'gpu-timestamps' ? 'GPU timestamps, one compute pass per kernel' : p.backend === 'cpu' ? 'host clock around each kernel' : "host clock, each kernel submitted alone (the adapter has no 'timestamp-query')";
  const rate = (n: StepProfile['nodes'][number]) => (n.gflops !== undefined ? `${n.gflops.toFixed(1)} GFLOP/s` : n.gbps !== undefined ? `${n.gbps.toFixed(2)} GB/s` : '—');
  const rows = p.nodes.slice(0, top).map((n) => `| ${n.ms.toFixed(3)} | ${(n.share * 100).toFixed(1)}% | ${rate(n)} | ${n.kernel}${n.dispatches > 1 ? ` (${n.dispatches} launches)` : ''} | ${n.node} |`);
  const rest = p.nodes.slice(top);
  if (rest.length) rows.push(`| ${rest.reduce((a, n) => a + n.ms, 0).toFixed(3)} | ${(rest.reduce((a, n) => a + n.share, 0) * 100).toFixed(1)}% | | ${rest.length} more kernels | |`);
  const h = p.host;
  return [
    `profile of one training step: ${what}, ${p.backend} (${p.device}); ${p.nodes.length} kernels timed by ${how}; trimmed means over ${p.runs} steps`,
    '', '| ms | share | rate | kernel | node |', '|---|---|---|---|---|', ...rows, '',
    `kernels sum to ${p.nodeSumMs.toFixed(2)} ms, and account for ${(p.coverage * 100).toFixed(1)}% of the profiled step (${p.profiledStepMs.toFixed(2)} ms ${p.timing === 'gpu-timestamps' ? 'on the device' : 'on the host'}); a plain step takes ${p.stepMs.toFixed(2)} ms from feeding to done (median)` +
      (p.backend === 'webgpu' ? `, of which the host encodes (with feeds) ${h.encodeMs.toFixed(2)} ms, submits ${h.submitMs.toFixed(2)} ms and waits ${h.waitMs.toFixed(2)} ms` : `, of which checking and copying the feeds ${h.encodeMs.toFixed(2)} ms`),
  ].join('\n');
}
