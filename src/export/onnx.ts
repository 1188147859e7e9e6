// `wgtrain export --format onnx`: a checkpoint's model as an ONNX inference graph (opset 17), in eval mode (batch norm
// uses its running statistics, dropout is the identity). Weights keep wgtrain's layouts where ONNX takes them as they
// are (MatMul with [in, out] weights needs no transpose); recurrent layers are reordered into ONNX's gate order.
import type { DecodedCheckpoint } from '../train/checkpoint.js';
import { buildModel, LayerConfig } from '../nn/config.js';
import { input, Variable } from '../graph/tensor.js';
import { Module, Linear, Sequential } from '../nn/module.js';
import { Conv2d, MaxPool2d, AvgPool2d } from '../nn/conv.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm, Residual } from '../nn/norm.js';
import { LeakyReLU, ELU, PReLU, Maxout } from '../nn/activations.js';
import { Recurrent, GRUCell, LSTMCell, RNNCell } from '../nn/recurrent.js';
import { Rng } from '../util/rng.js';
import { ExportError } from './torch_layers.js';
import { checkpointConfig } from './pytorch.js';
import { Gpt, GptConfig, sinusoidalTable } from '../nn/transformer.js';
import { encodeOnnx, OnnxNode, OnnxInit, Attr } from './onnx_proto.js';

export const ONNX_OPSET = 17;

type Pair = number | readonly [number, number] | undefined;
const pairOf = (p: Pair, d: number): [number, number] => (p === undefined ? [d, d] : typeof p === 'number' ? [p, p] : [p[0], p[1]]);

/**
 * ONNX's gate order, as indices into wgtrain's: LSTM i,o,f,c from wgtrain's i,f,g,o; GRU z,r,h from r,z,n. Each
 * recurrent weight becomes [1, gates·H, F] (ONNX multiplies x by its transpose) and the biases [1, 2·gates·H].
 */
const GATES = { lstm: [0, 3, 1, 2], gru: [1, 0, 2], rnn: [0] } as const;

function gateRows(w: Float32Array, rows: number, H: number, order: readonly number[]): Float32Array {
  const G = order.length, cols = G * H, out = new Float32Array(cols * rows);
  for (let g = 0; g < G; g++) for (let u = 0; u < H; u++) for (let r = 0; r < rows; r++) out[(g * H + u) * rows + r] = w[r * cols + order[g] * H + u];
  return out;
}
const gateVector = (b: Float32Array, H: number, order: readonly number[]) => Float32Array.from({ length: order.length * H }, (_, j) => b[order[Math.floor(j / H)] * H + (j % H)]);

/** Nodes and initializers as they are emitted, with the helpers both exporters below build from. */
function graphBuilder(ck: DecodedCheckpoint, file: string) {
  const nodes: OnnxNode[] = [], inits: OnnxInit[] = [];
  let count = 0;
  const fresh = (base: string) => `${base}_${count++}`;
  const op = (type: string, inputs: string[], attrs?: Record<string, Attr>, outputs = 1): string[] => {
    const outs = Array.from({ length: outputs }, () => fresh(type.toLowerCase()));
    nodes.push({ op: type, inputs, outputs: outs, attrs });
    return outs;
  };
  const one = (type: string, inputs: string[], attrs?: Record<string, Attr>) => op(type, inputs, attrs)[0];
  const constant = (base: string, dims: number[], data: Float32Array | BigInt64Array) => {
    const name = fresh(base);
    inits.push({ name, dims, data });
    return name;
  };
  const shapeOf = (dims: number[]) => constant('shape', [dims.length], BigInt64Array.from(dims.map(BigInt)));
  const weight = (v: Variable): Float32Array => {
    const t = ck.tensors.get(v.name);
    if (!t || t.dtype !== 'F32') throw new ExportError(`export: ${file} has no F32 tensor '${v.name}' for this model`);
    return t.array() as Float32Array;
  };
  const param = (v: Variable, dims = [...v.shape]) => constant(v.name, dims, weight(v));
  const scalar = (x: number) => constant('c', [], Float32Array.of(x));
  // MatMul takes wgtrain's [in, out] weights as they are, for inputs of any rank.
  const linear = (l: Linear, x: string) => { const y = one('MatMul', [x, param(l.weight)]); return l.bias ? one('Add', [y, param(l.bias)]) : y; };
  const layerNorm = (l: LayerNorm, x: string) => one('LayerNormalization', [x, param(l.weight), param(l.bias)], { axis: -1, epsilon: { float: l.eps } });
  const gelu = (x: string) => {
    // wgtrain's GELU is the tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). (Gelu itself is opset 20.)
    const cube = one('Mul', [one('Mul', [x, x]), x]);
    const inner = one('Mul', [one('Add', [x, one('Mul', [cube, scalar(0.044715)])]), scalar(Math.sqrt(2 / Math.PI))]);
    return one('Mul', [one('Mul', [x, scalar(0.5)]), one('Add', [one('Tanh', [inner]), scalar(1)])]);
  };
  return { nodes, inits, op, one, constant, shapeOf, weight, param, scalar, linear, layerNorm, gelu };
}

/** The ONNX model bytes of checkpoint `ck` (read from `file`): input `input` [batch, ...config.input], output `output`. */
export function exportOnnx(ck: DecodedCheckpoint, file: string): Uint8Array {
  const recorded = ck.meta.model as { name?: string; gpt?: GptConfig };
  if (recorded.name === 'gpt' && recorded.gpt) return gptOnnx(ck, file, recorded.gpt);
  const config = checkpointConfig(ck, file);
  const built = buildModel(config, new Rng(0), 'model config').model as Sequential;
  built.eval();
  const { nodes, inits, op, one, constant, shapeOf, weight, param, linear, layerNorm, gelu } = graphBuilder(ck, file);

  /** Emits layers on `x`, whose per-example shape is `shape`; returns the output's name and per-example shape. */
  const walk = (layers: LayerConfig[], mods: Module[], x: string, shape: number[]): [string, number[]] => {
    layers.forEach((c, i) => {
      const m = mods[i];
      const next = m.forward(input([2, ...shape])).shape.slice(1);
      x = layer(c, m, x, shape, next, i);
      shape = next;
    });
    return [x, shape];
  };
  const layer = (c: LayerConfig, m: Module, x: string, shape: number[], next: number[], i: number): string => {
    switch (c.type) {
      case 'linear': return linear(m as Linear, x);
      case 'conv2d': {
        const l = m as Conv2d, [ph, pw] = pairOf(c.padding as Pair, 0);
        return one('Conv', [x, param(l.weight), ...(l.bias ? [param(l.bias)] : [])], {
          kernel_shape: l.weight.shape.slice(2), strides: pairOf(c.stride as Pair, 1), pads: [ph, pw, ph, pw], dilations: pairOf(c.dilation as Pair, 1),
        });
      }
      case 'maxpool2d': case 'avgpool2d': {
        const l = m as MaxPool2d | AvgPool2d, k = pairOf(l.kernel, 0), [ph, pw] = pairOf(l.opts.padding, 0);
        const attrs: Record<string, Attr> = { kernel_shape: k, strides: pairOf(l.opts.stride ?? l.kernel, 0), pads: [ph, pw, ph, pw] };
        if (l instanceof AvgPool2d) attrs.count_include_pad = (l.opts.countIncludePad ?? true) ? 1 : 0;
        return one(l instanceof AvgPool2d ? 'AveragePool' : 'MaxPool', [x], attrs);
      }
      case 'batchnorm1d': case 'batchnorm2d': {
        const l = m as BatchNorm1d | BatchNorm2d;
        return one('BatchNormalization', [x, param(l.gamma), param(l.beta), param(l.runningMean), param(l.runningVar)], { epsilon: { float: l.eps } });
      }
      case 'layernorm': return layerNorm(m as LayerNorm, x);
      case 'prelu': {
        const l = m as PReLU;
        // The slope runs along dim 1 of [batch, C, ...]: shaped [C, 1, ...] to broadcast from the right.
        return one('PRelu', [x, param(l.slope, l.channels > 1 ? [l.channels, ...shape.slice(1).map(() => 1)] : [1])]);
      }
      case 'flatten': return one('Flatten', [x], { axis: 1 });
      case 'reshape': return one('Reshape', [x, shapeOf([0, ...next])]);
      case 'dropout': return x;
      case 'relu': return one('Relu', [x]);
      case 'sigmoid': return one('Sigmoid', [x]);
      case 'tanh': return one('Tanh', [x]);
      case 'softplus': return one('Softplus', [x]);
      case 'log_softmax': return one('LogSoftmax', [x], { axis: -1 });
      case 'leaky_relu': return one('LeakyRelu', [x], { alpha: { float: (m as LeakyReLU).alpha } });
      case 'elu': return one('Elu', [x], { alpha: { float: (m as ELU).alpha } });
      case 'gelu': return gelu(x);
      case 'maxout': {
        const k = (m as Maxout).k, last = shape[shape.length - 1];
        return one('ReduceMax', [one('Reshape', [x, shapeOf([0, ...shape.slice(0, -1), last / k, k])])], { axes: [-1], keepdims: 0 });
      }
      case 'residual': {
        const body = (m as Residual).body as Sequential;
        return one('Add', [x, walk(c.layers as LayerConfig[], body.layers, x, shape)[0]]);
      }
      case 'lstm': case 'gru': case 'rnn': {
        const r = m as Recurrent, cell = r.cell, F = cell.inputSize, H = cell.hiddenSize, order = GATES[c.type];
        let wx: Float32Array, wh: Float32Array, bx: Float32Array, bh: Float32Array;
        if (cell instanceof GRUCell) [wx, wh, bx, bh] = [weight(cell.weightX), weight(cell.weightH), weight(cell.biasX), weight(cell.biasH)];
        else {
          const { weight: wv, bias } = cell as LSTMCell | RNNCell, w = weight(wv), cols = order.length * H;
          [wx, wh, bx, bh] = [w.subarray(0, F * cols), w.subarray(F * cols), weight(bias), new Float32Array(cols)];
        }
        const G = order.length;
        const W = constant(`${c.type}.W`, [1, G * H, F], gateRows(wx, F, H, order));
        const R = constant(`${c.type}.R`, [1, G * H, H], gateRows(wh, H, H, order));
        const Bias = new Float32Array(2 * G * H);
        Bias.set(gateVector(bx, H, order));
        Bias.set(gateVector(bh, H, order), G * H);
        const attrs: Record<string, Attr> = { hidden_size: H, ...(c.type === 'gru' ? { linear_before_reset: 1 } : {}) };
        // ONNX Runtime runs only the time-major layout: X [time, batch, F], Y [time, 1, batch, H], Y_h [1, batch, H].
        const xt = one('Transpose', [x], { perm: [1, 0, 2] });
        const [y, yh] = op(c.type.toUpperCase(), [xt, W, R, constant(`${c.type}.B`, [1, 2 * G * H], Bias)], attrs, 2);
        if (!r.returnSequences) return one('Reshape', [yh, shapeOf([-1, H])]);
        return one('Transpose', [one('Squeeze', [y, shapeOf([1])])], { perm: [1, 0, 2] });
      }
      default: throw new ExportError(`export: layer ${i} (${c.type}) has no ONNX counterpart in this exporter`);
    }
  };
  const [out, outShape] = walk(config.layers, built.layers.slice(1), 'input', config.input);
  nodes.push({ op: 'Identity', inputs: [out], outputs: ['output'] });
  return encodeOnnx({
    name: config.description ?? 'wgtrain model', nodes, inits,
    inputs: [{ name: 'input', dims: ['batch', ...config.input] }], outputs: [{ name: 'output', dims: ['batch', ...outShape] }],
  }, ONNX_OPSET, 'wgtrain');
}

/**
 * wgtrain's GPT as ONNX: input `input`, int64 token ids [batch, context]; output `output`, logits [batch, context,
 * vocab]. Attention as MultiHeadAttention writes it: q, k, v from one MatMul laid out [batch, time, 3, heads, head
 * size], softmax(q·kᵀ/√head size + causal mask) per head.
 */
function gptOnnx(ck: DecodedCheckpoint, file: string, config: GptConfig): Uint8Array {
  const gpt = new Gpt(config, new Rng(0));
  const { nodes, inits, one, constant, shapeOf, param, scalar, linear, layerNorm, gelu } = graphBuilder(ck, file);
  const { context: T, dim: D, heads: H } = config, dh = D / H;
  const positions = config.positions === 'learned' ? param(gpt.positions.table) : constant('pos', [T, D], sinusoidalTable(T, D));
  let x = one('Add', [one('Gather', [param(gpt.tokens.weight), 'input'], { axis: 0 }), positions]);
  const mask = constant('causal', [T, T], Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -Infinity : 0)));
  const pick = (qkv: string, i: number) => one('Gather', [qkv, constant('i', [], BigInt64Array.of(BigInt(i)))], { axis: 0 });
  for (const b of gpt.blocks) {
    const qkv = one('Transpose', [one('Reshape', [linear(b.attn.qkv, layerNorm(b.ln1, x)), shapeOf([0, T, 3, H, dh])])], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = [0, 1, 2].map((i) => pick(qkv, i));
    const scores = one('Add', [one('Mul', [one('MatMul', [q, one('Transpose', [k], { perm: [0, 1, 3, 2] })]), scalar(1 / Math.sqrt(dh))]), mask]);
    const heads = one('Reshape', [one('Transpose', [one('MatMul', [one('Softmax', [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] }), shapeOf([0, T, D])]);
    x = one('Add', [x, linear(b.attn.proj, heads)]);
    x = one('Add', [x, linear(b.fc2, gelu(linear(b.fc1, layerNorm(b.ln2, x))))]);
  }
  nodes.push({ op: 'Identity', inputs: [linear(gpt.head, layerNorm(gpt.lnf, x))], outputs: ['output'] });
  return encodeOnnx({
    name: `GPT, ${config.layers} blocks`, nodes, inits,
    inputs: [{ name: 'input', dims: ['batch', T], type: 'int64' }], outputs: [{ name: 'output', dims: ['batch', T, config.vocab] }],
  }, ONNX_OPSET, 'wgtrain');
}
