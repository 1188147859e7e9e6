// Soak: many training steps on one backend, watching for leaks. Every `every` steps it records the buffer pool's
// bytes, the GPU buffers created so far and the process RSS; after warm-up the first two must not move at all (a
// replayed step allocates nothing) and RSS must stay within RSS_SLACK of where it stood at the first sample after
// warm-up (V8's heap and the driver's caches breathe a little; a leak of one small buffer per step does not).
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { MODELS } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { fit, Callback } from '../src/train/fit.js';
import { Rng } from '../src/util/rng.js';

export const RSS_SLACK = 32 * 2 ** 20;

export interface SoakSample { step: number; seconds: number; loss: number; poolBytes: number; buffersCreated: number; rssBytes: number; heapUsedBytes: number }
export interface SoakResult {
  model: string; backend: string; adapter: string; batchSize: number; steps: number; every: number; samplesPerSec: number;
  samples: SoakSample[];
  /** Compared from the first sample on (taken after `every` steps of warm-up) to the last. */
  flat: { poolBytes: boolean; buffersCreated: boolean; rss: boolean };
  rssGrowthBytes: number; rssSlackBytes: number;
}

export async function benchSoak(o: { model: string; batchSize: number; steps: number; every?: number; onSample?: (s: SoakSample) => void }): Promise<SoakResult> {
  const every = o.every ?? 500;
  const { train } = await loadMnist({ limitTest: 1 });
  normalize(train.x, MNIST_MEAN, MNIST_STD);
  const gpu = await WebGpuBackend.create();
  const trainer = new ClassifierTrainer(gpu, MODELS[o.model].build(new Rng(1)), new SGD({ lr: 0.01, momentum: 0.9 }), train.featureShape);
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  // fit's loop, as users run it: a sample is taken when a step's loss is read, one interval after the step.
  const sample: Callback = {
    onLoss: (r) => {
      const m = process.memoryUsage();
      const s = { step: r.step, seconds: (performance.now() - t0) / 1000, loss: r.loss, poolBytes: gpu.pool.bytes, buffersCreated: gpu.buffersCreated, rssBytes: m.rss, heapUsedBytes: m.heapUsed };
      samples.push(s);
      o.onSample?.(s);
    },
  };
  try {
    await fit(trainer, train, { steps: o.steps, batchSize: o.batchSize, seed: 1, dropLast: true, logEvery: every, callbacks: [sample] });
  } finally {
    trainer.dispose();
    gpu.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const first = samples[0], last = samples[samples.length - 1];
  const same = (k: 'poolBytes' | 'buffersCreated') => samples.every((s) => s[k] === first[k]);
  const rssGrowthBytes = last && first ? last.rssBytes - first.rssBytes : 0;
  return {
    model: o.model, backend: 'webgpu', adapter: gpu.description, batchSize: o.batchSize, steps: o.steps, every,
    samplesPerSec: (o.steps * o.batchSize) / seconds, samples,
    flat: { poolBytes: !!first && same('poolBytes'), buffersCreated: !!first && same('buffersCreated'), rss: !!first && rssGrowthBytes <= RSS_SLACK },
    rssGrowthBytes, rssSlackBytes: RSS_SLACK,
  };
}
