// Soak: many training steps on one backend, watching for leaks. Every `every` steps it records the buffer pool's
// bytes, the GPU buffers created so far and the process RSS; after warm-up the first two must not move at all (a
// replayed step allocates nothing) and RSS must stay within RSS_BOUND from its lowest to its highest sample. Warm-up
// is the first WARMUP_STEPS steps: the data's loading garbage, the first pipelines, and (under the CLI) the first of
// the periodic collections that return the native memory of spent command buffers (cli/native_gc.ts). A leak of one
// small buffer or a few KB a step crosses the bound within a few thousand steps.
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { MODELS } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { fit, Callback } from '../src/train/fit.js';
import { Rng } from '../src/util/rng.js';

/** RSS may move this much, lowest to highest sample after warm-up: measured 4-6 MiB over 20,000 steps on lavapipe. */
export const RSS_BOUND = 8 * 2 ** 20;
export const WARMUP_STEPS = 1000;

export interface SoakSample { step: number; seconds: number; loss: number; poolBytes: number; buffersCreated: number; rssBytes: number; heapUsedBytes: number }
export interface SoakResult {
  model: string; backend: string; adapter: string; batchSize: number; steps: number; every: number; samplesPerSec: number;
  samples: SoakSample[];
  /** Compared over the samples after warm-up (WARMUP_STEPS). */
  flat: { poolBytes: boolean; buffersCreated: boolean; rss: boolean };
  /** Last sample's RSS minus the first's after warm-up; rssSpreadBytes: highest minus lowest, held to rssBoundBytes. */
  rssGrowthBytes: number; rssSpreadBytes: number; rssBoundBytes: number;
}

export async function benchSoak(o: { model: string; batchSize: number; steps: number; every?: number; onSample?: (s: SoakSample) => void }): Promise<SoakResult> {
  const every = o.every ?? 500;
  const { train } = await loadMnist({ limitTest: 1 });
  normalize(train.x, MNIST_MEAN, MNIST_STD);
  const gpu = await WebGpuBackend.create();
  const trainer = new ClassifierTrainer(gpu, MODELS[o.model].build(new Rng(1)), new SGD({ lr: 0.01, momentum: 0.9 }), train.featureShape);
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  // fit's loop, as users run it: a sample is taken when a step's loss is read, one interval after the step. The loss
  // is read every 50 steps, as `wgtrain train` does: the host then runs at most ~100 steps ahead of the device, and
  // the device's upload staging for those steps' batches (100 KB each at mlp, batch 32) stays the same from sample to
  // sample instead of swinging with the sampling interval.
  const sample: Callback = {
    onLoss: (r) => {
      if (r.step % every) return;
      const m = process.memoryUsage();
      const s = { step: r.step, seconds: (performance.now() - t0) / 1000, loss: r.loss, poolBytes: gpu.pool.bytes, buffersCreated: gpu.buffersCreated, rssBytes: m.rss, heapUsedBytes: m.heapUsed };
      samples.push(s);
      o.onSample?.(s);
    },
  };
  try {
    await fit(trainer, train, { steps: o.steps, batchSize: o.batchSize, seed: 1, dropLast: true, logEvery: every % 50 ? every : 50, callbacks: [sample] });
  } finally {
    trainer.dispose();
    gpu.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const settled = samples.filter((s) => s.step >= Math.min(WARMUP_STEPS, o.steps));
  const first = settled[0], last = settled[settled.length - 1];
  const same = (k: 'poolBytes' | 'buffersCreated') => settled.every((s) => s[k] === first[k]);
  const rssGrowthBytes = last && first ? last.rssBytes - first.rssBytes : 0;
  const rss = settled.map((s) => s.rssBytes), rssSpreadBytes = rss.length ? Math.max(...rss) - Math.min(...rss) : 0;
  return {
    model: o.model, backend: 'webgpu', adapter: gpu.description, batchSize: o.batchSize, steps: o.steps, every,
    samplesPerSec: (o.steps * o.batchSize) / seconds, samples,
    flat: { poolBytes: !!first && same('poolBytes'), buffersCreated: !!first && same('buffersCreated'), rss: !!first && rssSpreadBytes <= RSS_BOUND },
    rssGrowthBytes, rssSpreadBytes, rssBoundBytes: RSS_BOUND,
  };
}
