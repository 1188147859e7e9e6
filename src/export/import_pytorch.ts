// `wgtrain import --from pytorch`: a PyTorch state_dict (safetensors, PyTorch's names and layouts, as model.py of
// `wgtrain export` defines them) back into wgtrain's variables. `pytorchStateDict` gives the values by wgtrain name,
// for loadStateDict (or a run's --init-from); `importPytorch` wraps them as a wgtrain checkpoint holding the model
// config, which `wgtrain predict` reads and a run can start from.
import { decodeSafetensors, encodeSafetensors, SafeTensor } from '../store/safetensors.js';
import type { ModelConfig } from '../nn/config.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from '../train/checkpoint.js';
import { torchModel, TorchModel } from './torch_layers.js';
import { fromStateDict } from './torch_state.js';

/** wgtrain's values by variable name from the bytes of a PyTorch state_dict; a mismatch lists every tensor at fault (StateDictError). */
export function pytorchStateDict(bytes: Uint8Array, config: ModelConfig | TorchModel, file = 'state dict'): Map<string, Float32Array> {
  const m = 'links' in config ? config : torchModel(config);
  const values = fromStateDict(m, decodeSafetensors(bytes, file).tensors, file);
  return new Map([...m.wgShapes.keys()].map((k) => [k, values.get(k)!]));
}

/**
 * A wgtrain checkpoint (weights only: step 0, no optimizer state) of the PyTorch state dict in `bytes`, for model
 * `config`; `model` is what the checkpoint records about it (a name, a description), beside the config.
 */
export function importPytorch(bytes: Uint8Array, config: ModelConfig, file: string, model: Record<string, unknown> = {}): Uint8Array {
  const values = pytorchStateDict(bytes, config, file);
  const shapes = torchModel(config).wgShapes;
  const tensors = new Map<string, SafeTensor>([...values].map(([k, data]) => [k, { dtype: 'F32', shape: shapes.get(k)!, data }]));
  const meta = {
    step: 0, epoch: 0, batch: 0, model: { ...model, config }, lr: 0,
    // No optimizer state came with the weights: a run may start from them, not resume them.
    optimizer: { kind: 'none' }, run: { imported: file },
  };
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT, version: String(CHECKPOINT_VERSION),
    ...Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, JSON.stringify(v)])),
  });
}
