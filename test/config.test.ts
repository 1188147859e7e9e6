// Model configs: every layer type builds and runs, the named models' configs give the same parameters as their
// builders, and each kind of mistake is a ConfigError naming the layer and the field.
import { describe, it, expect } from 'vitest';
import { buildModel, ConfigError, LAYER_TYPES, MODEL_CONFIGS } from '../src/nn/config.js';
import { loadModelConfig } from '../src/nn/config_file.js';
import { mlp } from '../src/nn/models.js';
import { cnn } from '../src/nn/conv.js';
import { Rng } from '../src/util/rng.js';
import { input } from '../src/graph/tensor.js';
import { CpuBackend } from '../src/backends/index.js';
import { randn } from './helpers.js';

const bad = (config: unknown, message: RegExp) => expect(() => buildModel(config, new Rng(1), 'net.json')).toThrow(message);

describe('model configs', () => {
  it('named models: configs give the same parameters (names, shapes, values) as mlp() and cnn()', () => {
    const pairs = [[buildModel(MODEL_CONFIGS.mlp, new Rng(3)).model, mlp([784, 256, 128, 10], new Rng(3))], [buildModel(MODEL_CONFIGS.cnn, new Rng(3)).model, cnn(new Rng(3))]];
    for (const [a, b] of pairs) {
      const pa = a.parameters(), pb = b.parameters();
      expect(pa.map((p) => `${p.name}${JSON.stringify(p.shape)}`)).toEqual(pb.map((p) => `${p.name}${JSON.stringify(p.shape)}`));
      pa.forEach((p, i) => expect(p.init).toEqual(pb[i].init));
    }
  });

  it('every layer type builds, infers its input size, and runs forward on the CPU', async () => {
    const config = {
      input: [2, 6, 6],
      layers: [
        { type: 'conv2d', out: 4, kernel: 3, padding: 1 }, { type: 'batchnorm2d' }, { type: 'prelu', per_channel: true },
        { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: [3, 3], padding: [1, 1] }, { type: 'elu', alpha: 0.5 }] }, { type: 'elu' },
        { type: 'conv_transpose2d', out: 3, kernel: 3, stride: 2, padding: 1, output_padding: 1 }, { type: 'upsample', scale: 2, mode: 'bilinear' },
        { type: 'conv2d', out: 4, kernel: 3, stride: 4, padding: 1 }, { type: 'maxpool2d', kernel: 2 }, { type: 'avgpool2d', kernel: 3, stride: 1, padding: 1, count_include_pad: false },
        { type: 'reshape', shape: [3, -1] }, { type: 'gru', hidden: 5 }, { type: 'lstm', hidden: 6 }, { type: 'rnn', hidden: 4, return_sequences: false },
        { type: 'linear', out: 12, init: 'xavier' }, { type: 'maxout', k: 2 }, { type: 'batchnorm1d', momentum: 0.2 }, { type: 'layernorm', eps: 1e-4 }, { type: 'leaky_relu', alpha: 0.1 },
        { type: 'dropout', p: 0.1 }, { type: 'gelu' }, { type: 'softplus' }, { type: 'tanh' }, { type: 'sigmoid' }, { type: 'relu' },
        { type: 'flatten' }, { type: 'linear', out: 3, bias: false }, { type: 'log_softmax' },
      ],
    };
    // Sequence layers read [batch, time, features] (an embedding, int32 ids): a second model covers them.
    const sequence = {
      input: [5],
      layers: [
        { type: 'embedding', vocab: 7, dim: 8 }, { type: 'positions', kind: 'sinusoidal' }, { type: 'attention', heads: 2, causal: true },
        { type: 'transformer', heads: 4, mlp_ratio: 2 }, { type: 'mean_tokens' },
      ],
    };
    const images = { input: [1, 6, 6], layers: [{ type: 'patches', size: 3, dim: 4 }, { type: 'positions' }, { type: 'mean_tokens' }] };
    expect(new Set([...config.layers, ...sequence.layers, ...images.layers].map((l) => l.type))).toEqual(new Set(LAYER_TYPES));
    const seq = buildModel(sequence, new Rng(2)), img = buildModel(images, new Rng(2));
    expect(seq.outputShape).toEqual([8]);
    expect(img.outputShape).toEqual([4]);
    const ids = input([3, 5], 'i32', 'ids');
    const pooled = seq.model.forward(ids), seqEx = new CpuBackend().compile([pooled]);
    seqEx.run(new Map([[ids, Int32Array.of(0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0)]]));
    const sy = await seqEx.read(pooled);
    expect(sy.length).toBe(3 * 8);
    expect(Array.from(sy).every(Number.isFinite)).toBe(true);
    const built = buildModel(config, new Rng(1));
    expect(built.outputShape).toEqual([3]);
    expect(built.parameterCount).toBeGreaterThan(0);
    built.model.eval();
    const x = input([4, 72]); // flat rows: the model reshapes them to [4, 2, 6, 6]
    const out = built.model.forward(x);
    const be = new CpuBackend();
    const ex = be.compile([out]);
    ex.run(new Map([[x, randn(4 * 72, 7)]]));
    const y = await ex.read(out);
    // log-softmax rows: every row's probabilities sum to 1
    for (let r = 0; r < 4; r++) expect(Array.from(y.subarray(r * 3, r * 3 + 3)).reduce((a, v) => a + Math.exp(v), 0)).toBeCloseTo(1, 5);
  });

  it('rejects malformed configs with the layer index, type and field', () => {
    bad([], /net\.json: expected an object/);
    bad({ layers: [{ type: 'relu' }] }, /"input" must be the shape of one example/);
    bad({ input: [784], layers: [] }, /"layers" must be a non-empty array/);
    bad({ input: [784], layers: [{ type: 'relu' }], extra: 1 }, /unknown top-level field "extra"/);
    bad({ input: [784], layers: [{ type: 'relu' }, { type: 'dense', out: 3 }] }, /layer 1 \(dense\): unknown layer type "dense" \(expected one of linear, conv2d/);
    bad({ input: [784], layers: [{ out: 3 }] }, /layer 0: missing "type"/);
    bad({ input: [784], layers: [{ type: 'linear' }] }, /layer 0 \(linear\): missing required field "out"/);
    bad({ input: [784], layers: [{ type: 'linear', out: '10' }] }, /layer 0 \(linear\): "out" must be a positive integer, got "10"/);
    bad({ input: [784], layers: [{ type: 'linear', out: 0 }] }, /layer 0 \(linear\): "out" must be a positive integer, got 0/);
    bad({ input: [784], layers: [{ type: 'linear', out: 10, units: 3 }] }, /layer 0 \(linear\): unknown field "units" \(linear takes out, bias, init, name, trainable\)/);
    bad({ input: [784], layers: [{ type: 'linear', out: 10, init: 'glorot' }] }, /"init" must be "he", "xavier" or "zeros"/);
    bad({ input: [1, 28, 28], layers: [{ type: 'linear', out: 10 }] }, /layer 0 \(linear\): expects \[batch, features\], but the input here is \[batch, 1, 28, 28\] \(add \{"type":"flatten"\} before it\)/);
    bad({ input: [1, 28, 28], layers: [{ type: 'conv2d', out: 4, kernel: 3 }, { type: 'maxpool2d', kernel: 40 }] }, /layer 1 \(maxpool2d\): /);
    bad({ input: [4], layers: [{ type: 'residual', layers: [{ type: 'linear', out: 3 }] }] }, /layer 0 \(residual\): .*expected the same shape/);
    bad({ input: [4], layers: [{ type: 'residual', layers: [{ type: 'linear', out: 4 }, { type: 'relu', x: 1 }] }] }, /layer 0\.1 \(relu\): unknown field "x"/);
    bad({ input: [4], layers: [{ type: 'dropout', p: 1.5 }] }, /layer 0 \(dropout\): "p" must be a number in \[0, 1\), got 1.5/);
  });

  it('a model file: missing, not JSON', async () => {
    await expect(loadModelConfig('/nonexistent/net.json')).rejects.toThrow(ConfigError);
    await expect(loadModelConfig('/nonexistent/net.json')).rejects.toThrow(/\/nonexistent\/net\.json: cannot read the model config \(ENOENT/);
    await expect(loadModelConfig('package-lock.json').then((c) => buildModel(c, new Rng(1), 'package-lock.json'))).rejects.toThrow(/unknown top-level field/);
  });

  it('a model refuses input of the wrong size', () => {
    const { model } = buildModel(MODEL_CONFIGS.mlp, new Rng(1));
    expect(() => model.forward(input([2, 27, 28]))).toThrow(/expected examples of shape \[784\] \(784 values each\), got input \[2,27,28\]/);
  });
});
