// Attention: the fused kernels (shaders/attention.wgsl forward, shaders/attention_grad.wgsl backward) against the
// composite they replace (two batched GEMMs around the masked softmax), causal, on q, k, v [N, T, dh]: the forward
// alone (inference) and the forward + backward (training). The composite runs unfused by building it with an identity
// `weights` function, which attention() does not record as a fusable region.
import { input, Tensor } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { attention } from '../src/graph/attention.js';
import { grad } from '../src/autodiff/grad.js';
import type { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { timeIt, seededUniform } from './timing.js';

export interface AttentionRow { T: number; N: number; dh: number; pass: 'forward' | 'forward+backward'; impl: 'fused' | 'composite'; ms: number; min: number; max: number }

export const ATTENTION_LENGTHS = [128, 256, 512];

export async function benchAttention(gpu: WebGpuBackend, lengths: number[], o: { N?: number; dh?: number } = {}): Promise<AttentionRow[]> {
  const N = o.N ?? 32, dh = o.dh ?? 32, rows: AttentionRow[] = [];
  for (const T of lengths) {
    const q = input([N, T, dh], 'f32', 'q'), k = input([N, T, dh], 'f32', 'k'), v = input([N, T, dh], 'f32', 'v');
    const feeds = new Map<Tensor, Float32Array>([[q, seededUniform(q.size, 1, 2)], [k, seededUniform(k.size, 2, 2)], [v, seededUniform(v.size, 3, 2)]]);
    const fused = attention(q, k, v, { causal: true, recompute: true });
    const composite = attention(q, k, v, { causal: true, weights: (p) => p });
    const R = input([N, T, dh], 'f32', 'R');
    feeds.set(R, seededUniform(R.size, 4));
    const L = ops.sum(ops.mul(composite, R)), Lf = ops.sum(ops.mul(fused, R));
    const cases: [AttentionRow['pass'], AttentionRow['impl'], Tensor[]][] = [
      ['forward', 'fused', [fused]], ['forward', 'composite', [composite]],
      ['forward+backward', 'fused', [Lf, ...grad(Lf, [q, k, v])]], ['forward+backward', 'composite', [L, ...grad(L, [q, k, v])]],
    ];
    for (const [pass, impl, outputs] of cases) {
      const ex = gpu.compile(outputs);
      const t = await timeIt(async () => { ex.run(feeds); await gpu.sync(); }, { minIterations: 5, minMs: 1500 });
      ex.dispose();
      rows.push({ T, N, dh, pass, impl, ms: t.ms, min: t.min, max: t.max });
    }
  }
  return rows;
}
