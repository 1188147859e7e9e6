// Layer norm: the composite's values against the definition computed here in float64, its shape errors, the LayerNorm
// module and the `layernorm` config layer. Its gradient, CPU/WebGPU parity and fuzzing come from the shared harnesses
// (gradcheck, parity and fuzz run every spec in src/graph/composite_ops.ts); the fused kernel is tested in fusion.test.ts.
import { describe, it, expect } from 'vitest';
import { input, Variable } from '../src/graph/tensor.js';
import { layerNorm } from '../src/graph/norm.js';
import { CpuBackend } from '../src/backends/index.js';
import { LayerNorm } from '../src/nn/norm.js';
import { buildModel } from '../src/nn/config.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, randn, runOn } from './helpers.js';

/** The definition, row by row, in float64. */
function reference(x: Float32Array, w: Float32Array, b: Float32Array, C: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    let mu = 0, v = 0;
    for (let c = 0; c < C; c++) mu += x[r * C + c] / C;
    for (let c = 0; c < C; c++) v += (x[r * C + c] - mu) ** 2 / C;
    for (let c = 0; c < C; c++) out[r * C + c] = ((x[r * C + c] - mu) / Math.sqrt(v + eps)) * w[c] + b[c];
  }
  return out;
}

describe('layer norm', () => {
  it('normalises each row of the last axis, then scales by weight and shifts by bias (CPU)', async () => {
    for (const [shape, eps] of [[[5, 7], 1e-5], [[2, 3, 9], 1e-2], [[1, 1], 1e-5]] as const) {
      const C = shape[shape.length - 1];
      const x = input([...shape]), w = input([C]), b = input([C]);
      const xv = randn(x.size, 1, 3).map((v, i) => v + i % 4), wv = randn(C, 2), bv = randn(C, 3);
      const [y] = await runOn(new CpuBackend(), [layerNorm(x, w, b, eps)], new Map([[x, xv], [w, wv], [b, bv]]));
      assertClose(y, reference(xv, wv, bv, C, eps), { atol: 1e-5, rtol: 1e-5, what: `layerNorm ${JSON.stringify(shape)}` });
    }
  });

  it('rejects a scalar, mismatched weight or bias, and a bad eps, naming what it expected', () => {
    expect(() => layerNorm(input([]), input([1]), input([1]))).toThrow(/layerNorm: expected a tensor of rank >= 1/);
    expect(() => layerNorm(input([4, 6]), input([5]), input([6]))).toThrow(/layerNorm: weight \[5\] does not match input \[4,6\] \(expected \[6\]/);
    expect(() => layerNorm(input([4, 6]), input([6]), input([6, 1]))).toThrow(/bias \[6,1\] does not match/);
    expect(() => layerNorm(input([4, 6]), input([6]), input([6]), 0)).toThrow(/eps must be a finite number > 0, got 0/);
  });

  it('LayerNorm starts at weight 1, bias 0, names its parameters, and checks its input', async () => {
    const ln = new LayerNorm(6, { name: 'ln1', eps: 1e-3 });
    expect(ln.parameters().map((p) => p.name)).toEqual(['ln1.weight', 'ln1.bias']);
    expect(Array.from(ln.weight.init)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(ln.bias.init)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(new LayerNorm(4).parameters().map((p) => p.name)).toEqual(['layernorm4.weight', 'layernorm4.bias']);
    expect(() => ln.forward(input([3, 5]))).toThrow(/LayerNorm: expected input \[batch, \.\.\., 6\], got \[3,5\]/);
    // Eval is the same computation as training: no running statistics.
    const x = input([3, 2, 6]), xv = randn(36, 5);
    const train = await runOn(new CpuBackend(), [ln.forward(x)], new Map([[x, xv]]));
    const ev = await runOn(new CpuBackend(), [ln.eval().forward(x)], new Map([[x, xv]]));
    expect(Array.from(ev[0])).toEqual(Array.from(train[0]));
    assertClose(train[0], reference(xv, new Float32Array(6).fill(1), new Float32Array(6), 6, 1e-3), { atol: 1e-5, rtol: 1e-5 });
  });

  it('is the config layer "layernorm", over the last dim of what precedes it', () => {
    const built = buildModel({ input: [5, 8], layers: [{ type: 'layernorm', eps: 1e-6, name: 'ln' }, { type: 'flatten' }, { type: 'linear', out: 3 }] }, new Rng(1));
    expect(built.outputShape).toEqual([3]);
    const ln = built.model.parameters().filter((p: Variable) => p.name.startsWith('ln.'));
    expect(ln.map((p) => [p.name, [...p.shape]])).toEqual([['ln.weight', [8]], ['ln.bias', [8]]]);
    expect(() => buildModel({ input: [8], layers: [{ type: 'layernorm', momentum: 0.1 }] }, new Rng(1))).toThrow(/unknown field "momentum" \(layernorm takes eps, name, trainable\)/);
  });
});
