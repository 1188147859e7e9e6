// `wgtrain profile`: where one training step's time goes, kernel by kernel, and a Chrome trace of it.
import { writeFile } from 'node:fs/promises';
import { createBackend } from '../backends/index.js';
import { profileTrace, StepProfile } from '../backends/backend.js';
import { SGD } from '../optim/sgd.js';
import { ClassifierTrainer, stepFeeds } from '../train/trainer.js';
import { Rng } from '../util/rng.js';
import { parse, choice, intFlag, UsageError } from './args.js';
import { resolveModel, MODEL_FLAG_HELP } from './model_arg.js';

export const PROFILE_HELP = `usage: wgtrain profile --model NAME [options]

Runs a model's training step (forward, loss, backward, SGD-momentum update) on random inputs of the model's shape and
prints each kernel's time, longest first, with its GFLOP/s (products) or GB/s (the rest) and its share of the step,
then the host's own time per step. On WebGPU each kernel is timed on the device by timestamp queries where the
adapter has 'timestamp-query' (each kernel then runs in a compute pass of its own); elsewhere by the host clock, and
the output says which.
  --model NAME        ${MODEL_FLAG_HELP}
  --batch-size N      [32]
  --runs N            profiled steps; a kernel's time is their mean without the top and bottom fifth  [10]
  --backend NAME      webgpu or cpu  [webgpu]
  --top N             rows printed  [25]
  --trace FILE        also write the step as Chrome trace-event JSON (open it in Perfetto or chrome://tracing)
  --json FILE         also write the profile as JSON`;

export async function profile(argv: string[]): Promise<void> {
  const f = parse('profile', argv, {
    model: { type: 'string' }, 'batch-size': { type: 'string', default: '32' }, runs: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'webgpu' }, top: { type: 'string', default: '25' }, trace: { type: 'string' }, json: { type: 'string' },
  });
  if (f.model === undefined) throw new UsageError(`profile: --model is required (${MODEL_FLAG_HELP})`);
  const B = intFlag('profile', 'batch-size', f['batch-size']), runs = intFlag('profile', 'runs', f.runs), top = intFlag('profile', 'top', f.top);
  const backendName = choice('profile', 'backend', f.backend, ['webgpu', 'cpu'] as const);
  const m = await resolveModel('profile', String(f.model), new Rng(1));
  if (m.outputShape.length !== 1) throw new UsageError(`profile: model ${m.name} outputs [${m.outputShape.join(', ')}] per example; profile trains a classifier (one score per class)`);
  const backend = await createBackend(backendName);
  try {
    const trainer = new ClassifierTrainer(backend, m.model, new SGD({ lr: 0.01, momentum: 0.9 }), m.inputShape);
    const rng = new Rng(2), per = m.inputShape.reduce((a, b) => a * b, 1), classes = m.outputShape[0];
    const x = Float32Array.from({ length: B * per }, () => rng.normal());
    const y = Int32Array.from({ length: B }, () => rng.int(classes));
    const g = trainer.trainStep(x, y, B);
    const p = await g.ex.profile(stepFeeds(g, x, y), { runs });
    console.log(formatProfile(p, `${m.name}, batch ${B}`, top));
    if (typeof f.trace === 'string') { await writeFile(f.trace, JSON.stringify(profileTrace(p)) + '\n'); console.log(`wrote ${f.trace}`); }
    if (typeof f.json === 'string') { await writeFile(f.json, JSON.stringify(p, null, 2) + '\n'); console.log(`wrote ${f.json}`); }
    trainer.dispose();
  } finally {
    backend.dispose();
  }
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
