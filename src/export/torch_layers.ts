// A wgtrain model config seen as PyTorch: for every layer, the torch.nn module that computes the same function, and
// for every tensor, where a PyTorch state_dict keeps it. wgtrain and PyTorch lay some tensors out differently:
// Linear's weight is [in, out] here and [out, in] there; wgtrain's LSTM and RNN multiply one weight by [x, h] where
// nn.LSTM keeps weight_ih_l0 and weight_hh_l0 apart (each transposed), and nn.LSTM has a second bias wgtrain lacks.
// Each link below names the wgtrain variable, the PyTorch key and the rows of the wgtrain tensor it holds, so the same
// table serves export (weights and optimizer state) and import.
import { buildModel, LayerConfig, ModelConfig } from '../nn/config.js';
import { Module, Linear, Sequential } from '../nn/module.js';
import { Conv2d, MaxPool2d, AvgPool2d } from '../nn/conv.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm, Dropout, Residual } from '../nn/norm.js';
import { LeakyReLU, ELU, PReLU, Maxout } from '../nn/activations.js';
import { Recurrent, LSTMCell, RNNCell, GRUCell } from '../nn/recurrent.js';
import { Rng } from '../util/rng.js';
import { Gpt, GptConfig } from '../nn/transformer.js';
import type { Variable } from '../graph/tensor.js';
import { UserError } from '../util/errors.js';

/** A model wgtrain can build but PyTorch export cannot express (yet): names the layer and what to do. */
export class ExportError extends UserError {
  override name = 'ExportError';
}

/**
 * Where one PyTorch tensor comes from. `rows`: the PyTorch tensor is rows [start, start + count) of the wgtrain
 * variable, transposed (Linear: all rows; LSTM: the x rows or the h rows). `same`: identical layout. `zero`: a
 * PyTorch-only bias kept at zero and frozen, whose value folds into `wg` on import. `batches`: batch norm's
 * num_batches_tracked, an I64 count of training steps with no wgtrain counterpart.
 */
export type Layout = { kind: 'same' } | { kind: 'rows'; start: number; count: number } | { kind: 'zero' } | { kind: 'batches' };
export interface TensorLink { torch: string; wg: string; shape: number[]; layout: Layout; trainable: boolean }

/** One torch.nn module of the exported model: its attribute name, constructor call and children. */
export interface TorchModule { name: string; call: string; children?: TorchModule[] }

export interface TorchModel {
  /** A config model's config; absent for the GPT, whose model.py builds it from `python`. */
  config?: ModelConfig;
  description: string;
  /** The Python expression build_model() returns, when not the nn.Sequential of `modules`. */
  python?: string;
  /** The modules after the input reshape, in order (the model is their nn.Sequential). */
  modules: TorchModule[];
  links: TensorLink[];
  /** wgtrain's variables by name, with their shapes (parameters and buffers). */
  wgShapes: Map<string, number[]>;
}

const py = (v: unknown): string => {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return `(${v.map(py).join(', ')}${v.length === 1 ? ',' : ''})`;
  return typeof v === 'number' && !Number.isInteger(v) ? String(v) : JSON.stringify(v);
};
const pair = (v: unknown, dflt: number) => py(v ?? dflt);
/** A PyTorch attribute name from a wgtrain prefix: dots would nest modules, so they become underscores. */
const attr = (prefix: string) => prefix.replace(/[^A-Za-z0-9_]/g, '_');
const prefixOf = (name: string) => name.slice(0, name.lastIndexOf('.'));

/**
 * The PyTorch view of a model config: builds the wgtrain model (to learn its sizes and variable names) and walks
 * config and modules side by side. Throws ExportError for a layer with no PyTorch equivalent here.
 */
export function torchModel(config: ModelConfig): TorchModel {
  const built = buildModel(config, new Rng(0), 'model config').model as Sequential;
  const links: TensorLink[] = [];
  const wgShapes = new Map<string, number[]>();
  const used = new Set<string>();
  const unique = (base: string) => { let n = base, k = 1; while (used.has(n)) n = `${base}_${k++}`; used.add(n); return n; };

  const walk = (layers: LayerConfig[], mods: Module[], path: string, where: string): TorchModule[] => layers.map((c, i) => {
    const m = mods[i], at = `${where}layer ${i} (${c.type})`;
    const link = (name: string, wg: { name: string; shape: readonly number[] }, layout: Layout, shape: number[], trainable = true) => {
      wgShapes.set(wg.name, [...wg.shape]);
      links.push({ torch: `${path}${name}`, wg: wg.name, shape, layout, trainable });
    };
    const same = (mod: string, key: string, v: { name: string; shape: readonly number[] }, trainable = true) =>
      link(`${mod}.${key}`, v, { kind: 'same' }, [...v.shape], trainable);
    switch (c.type) {
      case 'linear': {
        const l = m as Linear, n = unique(attr(prefixOf(l.weight.name)));
        link(`${n}.weight`, l.weight, { kind: 'rows', start: 0, count: l.inFeatures }, [l.outFeatures, l.inFeatures]);
        if (l.bias) same(n, 'bias', l.bias);
        return { name: n, call: `nn.Linear(${l.inFeatures}, ${l.outFeatures}, bias=${py(!!l.bias)})` };
      }
      case 'conv2d': {
        const l = m as Conv2d, n = unique(attr(prefixOf(l.weight.name))), [, , kh, kw] = l.weight.shape;
        same(n, 'weight', l.weight);
        if (l.bias) same(n, 'bias', l.bias);
        return { name: n, call: `nn.Conv2d(${l.inChannels}, ${l.outChannels}, ${py([kh, kw])}, stride=${pair(c.stride, 1)}, padding=${pair(c.padding, 0)}, dilation=${pair(c.dilation, 1)}, bias=${py(!!l.bias)})` };
      }
      case 'maxpool2d': {
        const l = m as MaxPool2d;
        return { name: unique(`pool${i}`), call: `nn.MaxPool2d(${pair(l.kernel, 0)}, stride=${pair(l.opts.stride ?? l.kernel, 0)}, padding=${pair(l.opts.padding, 0)})` };
      }
      case 'avgpool2d': {
        const l = m as AvgPool2d;
        return { name: unique(`pool${i}`), call: `nn.AvgPool2d(${pair(l.kernel, 0)}, stride=${pair(l.opts.stride ?? l.kernel, 0)}, padding=${pair(l.opts.padding, 0)}, count_include_pad=${py(l.opts.countIncludePad ?? true)})` };
      }
      case 'batchnorm1d': case 'batchnorm2d': {
        const l = m as BatchNorm1d | BatchNorm2d, n = unique(attr(prefixOf(l.gamma.name)));
        link(`${n}.weight`, l.gamma, { kind: 'same' }, [l.channels]);
        link(`${n}.bias`, l.beta, { kind: 'same' }, [l.channels]);
        same(n, 'running_mean', l.runningMean, false);
        same(n, 'running_var', l.runningVar, false);
        links.push({ torch: `${path}${n}.num_batches_tracked`, wg: '', shape: [], layout: { kind: 'batches' }, trainable: false });
        return { name: n, call: `nn.BatchNorm${c.type === 'batchnorm1d' ? '1' : '2'}d(${l.channels}, eps=${py(l.eps)}, momentum=${py(l.momentum)})` };
      }
      case 'layernorm': {
        const l = m as LayerNorm, n = unique(attr(prefixOf(l.weight.name)));
        same(n, 'weight', l.weight);
        same(n, 'bias', l.bias);
        return { name: n, call: `nn.LayerNorm(${l.features}, eps=${py(l.eps)})` };
      }
      case 'prelu': {
        const l = m as PReLU, n = unique(attr(prefixOf(l.slope.name)));
        link(`${n}.weight`, l.slope, { kind: 'same' }, [l.channels]);
        return { name: n, call: `nn.PReLU(${l.channels})` };
      }
      case 'lstm': case 'rnn': case 'gru': {
        const r = m as Recurrent, cell = r.cell, F = cell.inputSize, H = cell.hiddenSize;
        const cls = { lstm: 'LSTM', rnn: 'RNN', gru: 'GRU' }[c.type]!, gates = { lstm: 4, rnn: 1, gru: 3 }[c.type]!;
        if (cell instanceof GRUCell) {
          const n = unique(attr(prefixOf(cell.weightX.name)));
          link(`${n}.weight_ih_l0`, cell.weightX, { kind: 'rows', start: 0, count: F }, [3 * H, F]);
          link(`${n}.weight_hh_l0`, cell.weightH, { kind: 'rows', start: 0, count: H }, [3 * H, H]);
          same(n, 'bias_ih_l0', cell.biasX);
          same(n, 'bias_hh_l0', cell.biasH);
          return { name: n, call: `GRU(${F}, ${H}, return_sequences=${py(r.returnSequences)})` };
        }
        const cellW = cell as LSTMCell | RNNCell, n = unique(attr(prefixOf(cellW.weight.name)));
        link(`${n}.weight_ih_l0`, cellW.weight, { kind: 'rows', start: 0, count: F }, [gates * H, F]);
        link(`${n}.weight_hh_l0`, cellW.weight, { kind: 'rows', start: F, count: H }, [gates * H, H]);
        same(n, 'bias_ih_l0', cellW.bias);
        link(`${n}.bias_hh_l0`, cellW.bias, { kind: 'zero' }, [gates * H], false);
        return { name: n, call: `${cls}(${F}, ${H}, return_sequences=${py(r.returnSequences)})` };
      }
      case 'residual': {
        const body = (m as Residual).body as Sequential, n = unique(`residual${i}`);
        return { name: n, call: 'Residual', children: walk(c.layers as LayerConfig[], body.layers, `${path}${n}.body.`, `${at}: `) };
      }
      case 'dropout': return { name: unique(`dropout${i}`), call: `nn.Dropout(${py((m as Dropout).p)})` };
      case 'flatten': return { name: unique(`flatten${i}`), call: 'nn.Flatten()' };
      case 'reshape': return { name: unique(`reshape${i}`), call: `Reshape(${py(c.shape)})` };
      case 'relu': return { name: unique(`relu${i}`), call: 'nn.ReLU()' };
      case 'sigmoid': return { name: unique(`sigmoid${i}`), call: 'nn.Sigmoid()' };
      case 'tanh': return { name: unique(`tanh${i}`), call: 'nn.Tanh()' };
      case 'softplus': return { name: unique(`softplus${i}`), call: 'nn.Softplus()' };
      case 'gelu': return { name: unique(`gelu${i}`), call: "nn.GELU(approximate='tanh')" };
      case 'log_softmax': return { name: unique(`log_softmax${i}`), call: 'nn.LogSoftmax(dim=-1)' };
      case 'leaky_relu': return { name: unique(`leaky_relu${i}`), call: `nn.LeakyReLU(${py((m as LeakyReLU).alpha)})` };
      case 'elu': return { name: unique(`elu${i}`), call: `nn.ELU(${py((m as ELU).alpha)})` };
      case 'maxout': return { name: unique(`maxout${i}`), call: `Maxout(${(m as Maxout).k})` };
      default: throw new ExportError(`export: ${at} has no PyTorch counterpart in this exporter (it handles ${SUPPORTED.join(', ')})`);
    }
  });
  // layers[0] of a built model is its input reshape; the config's layers follow it one to one.
  const modules = walk(config.layers, built.layers.slice(1), '', '');
  return { config, description: config.description ?? 'A wgtrain model', modules, links, wgShapes };
}

/** Links for a wgtrain Linear under PyTorch prefix `n`: the weight transposed, the bias as it is. */
function linearLinks(n: string, l: Linear): TensorLink[] {
  return [
    { torch: `${n}.weight`, wg: l.weight.name, shape: [l.outFeatures, l.inFeatures], layout: { kind: 'rows', start: 0, count: l.inFeatures }, trainable: true },
    ...(l.bias ? [{ torch: `${n}.bias`, wg: l.bias.name, shape: [l.outFeatures], layout: { kind: 'same' as const }, trainable: true }] : []),
  ];
}

const sameLink = (torch: string, v: Variable): TensorLink => ({ torch, wg: v.name, shape: [...v.shape], layout: { kind: 'same' }, trainable: true });

/** The PyTorch view of wgtrain's GPT (model_layers.py's GPT class): GPT-2's layout, wgtrain's names under h.<i>. */
export function torchGpt(config: GptConfig): TorchModel {
  const gpt = new Gpt(config, new Rng(0));
  const links: TensorLink[] = [sameLink('tok.weight', gpt.tokens.weight)];
  if (config.positions === 'learned') links.push(sameLink('pos.weight', gpt.positions.table));
  gpt.blocks.forEach((b, i) => {
    const p = `h.${i}.`;
    for (const [n, ln] of [['ln1', b.ln1], ['ln2', b.ln2]] as const) links.push(sameLink(`${p}${n}.weight`, ln.weight), sameLink(`${p}${n}.bias`, ln.bias));
    links.push(...linearLinks(`${p}attn.qkv`, b.attn.qkv), ...linearLinks(`${p}attn.proj`, b.attn.proj), ...linearLinks(`${p}fc1`, b.fc1), ...linearLinks(`${p}fc2`, b.fc2));
  });
  links.push(sameLink('lnf.weight', gpt.lnf.weight), sameLink('lnf.bias', gpt.lnf.bias), ...linearLinks('head', gpt.head));
  const hidden = gpt.blocks[0]?.fc1.outFeatures ?? 4 * config.dim;
  if (hidden !== 4 * config.dim) throw new ExportError(`export: the GPT's MLP has ${hidden} hidden features; model.py's GPT builds 4·dim`);
  const { vocab, context, dim, heads, layers, positions, dropout } = config;
  return {
    description: `GPT: ${layers} blocks, dim ${dim}, ${heads} heads, context ${context}, vocabulary ${vocab}`, modules: [], links,
    wgShapes: new Map(links.map((l) => [l.wg, [...gpt.parameters().find((v) => v.name === l.wg)!.shape]])),
    python: `GPT(vocab=${vocab}, context=${context}, dim=${dim}, heads=${heads}, layers=${layers}, positions=${py(positions)}, dropout=${py(dropout)})`,
  };
}

const SUPPORTED = ['linear', 'conv2d', 'maxpool2d', 'avgpool2d', 'batchnorm1d', 'batchnorm2d', 'layernorm', 'prelu', 'lstm', 'rnn', 'gru', 'residual',
  'dropout', 'flatten', 'reshape', 'relu', 'sigmoid', 'tanh', 'softplus', 'gelu', 'log_softmax', 'leaky_relu', 'elu', 'maxout'];
