// Attention: the fused kernels (shaders/attention.wgsl forward, shaders/attention_grad.wgsl backward) against the
// composite they replace (two batched GEMMs around the masked softmax), causal, on q, k, v [N, T, dh]: the forward
// alone (inference) and the forward + backward (training). The composite runs unfused by building it with an identity
// `weights` function, which attention() does not record as a fusable region.
//
// q, k, v and the upstream gradient live on the device (Variables), as they do in a model, where the projections
// before attention make them: a run times the kernels, not a host upload. `fed` uploads all four at every run
// instead (4 MB at T = 256, about 4 ms on lavapipe for either implementation; this benchmark's method before
// 2026-12-07). Each row also gives the device's own time for a step (GPU timestamps, first kernel's start to last
// one's end), which a busy host does not inflate.
//
// The forward + backward takes the upstream gradient R as given (grad's dy). Until 2026-12-07 it differentiated a
// loss sum(out · R) instead, whose product and sum (about 1.2 ms of GPU time at T = 256 on lavapipe, the same for
// both implementations) are not attention's.
import { input, Tensor, Variable } from '../src/graph/tensor.js';
import { attention } from '../src/graph/attention.js';
import { grad } from '../src/autodiff/grad.js';
import type { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { timeIt, seededUniform } from './timing.js';

export interface AttentionRow {
  T: number; N: number; dh: number; pass: 'forward' | 'forward+backward'; impl: 'fused' | 'composite';
  /** Where q, k, v and the upstream gradient come from: device-resident Variables, or uploaded at every run. */
  inputs: 'resident' | 'fed';
  ms: number; min: number; max: number;
  /** The device's time for one run (StepProfile.profiledStepMs): GPU timestamps where the adapter has them. */
  deviceMs: number;
}

export const ATTENTION_LENGTHS = [128, 256, 512];

export async function benchAttention(gpu: WebGpuBackend, lengths: number[], o: { N?: number; dh?: number; fed?: boolean } = {}): Promise<AttentionRow[]> {
  const N = o.N ?? 32, dh = o.dh ?? 32, rows: AttentionRow[] = [], inputs = o.fed ? 'fed' : 'resident';
  for (const T of lengths) {
    const feeds = new Map<Tensor, Float32Array>();
    const operand = (name: string, seed: number, scale: number): Tensor => {
      const values = seededUniform(N * T * dh, seed, scale);
      if (!o.fed) return new Variable(values, [N, T, dh], name).tensor;
      const t = input([N, T, dh], 'f32', name);
      feeds.set(t, values);
      return t;
    };
    const [q, k, v, R] = [operand('q', 1, 2), operand('k', 2, 2), operand('v', 3, 2), operand('R', 4, 1)];
    const fused = attention(q, k, v, { causal: true, recompute: true });
    const composite = attention(q, k, v, { causal: true, weights: (p) => p });
    // R is the gradient arriving at the output, as the layers after attention would send it (PyTorch's
    // out.backward(R)): the step is the attention's forward and backward and nothing else.
    const cases: [AttentionRow['pass'], AttentionRow['impl'], Tensor[]][] = [
      ['forward', 'fused', [fused]], ['forward', 'composite', [composite]],
      ['forward+backward', 'fused', [fused, ...grad(fused, [q, k, v], R)]], ['forward+backward', 'composite', [composite, ...grad(composite, [q, k, v], R)]],
    ];
    for (const [pass, impl, outputs] of cases) {
      const ex = gpu.compile(outputs);
      const t = await timeIt(async () => { ex.run(feeds); await gpu.sync(); }, { minIterations: 5, minMs: 1500 });
      const prof = await ex.profile(feeds, { runs: 10 });
      ex.dispose();
      rows.push({ T, N, dh, pass, impl, inputs, ms: t.ms, min: t.min, max: t.max, deviceMs: prof.profiledStepMs });
    }
  }
  return rows;
}
