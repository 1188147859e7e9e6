// The library's public surface, safe for browsers: nothing here imports a Node built-in, so
// `esbuild --bundle --platform=browser` of `import … from 'wgtrain'` works. Data and models come in and go out as
// bytes and typed arrays; file I/O (MNIST, CSV and model files from disk, checkpoints and weights as files) is
// in node.ts, the `wgtrain/node` entry, which Node also gets for `wgtrain` itself (package.json's exports map).

// Graphs, gradients, plans.
export { Tensor, Variable, input } from './graph/tensor.js';
export * as ops from './graph/ops.js';
export * as conv from './graph/conv.js';
export * as activations from './graph/activations.js';
export { concat, slice, pad } from './graph/shape_ops.js';
export { batchNormTrain, batchNormEval, runningUpdate, dropout, dropoutAdvance, layerNorm } from './graph/norm.js';
export type { DropoutCounter } from './graph/norm.js';
export { upsample2d } from './graph/resample.js';
export { randn, reparameterize } from './graph/random.js';
export { ShapeError } from './graph/shape.js';
export { grad } from './autodiff/grad.js';
export { plan, FeedError, NonFiniteInputError } from './schedule/plan.js';
export type { Plan, Feed, Feeds } from './schedule/plan.js';
export { setAutotuneStore, clearAutotuneMemory, AUTOTUNE_VERSION } from './schedule/autotune.js';
export type { AutotuneStore, AutotuneFile, TuneEntry, TuneResult } from './schedule/autotune.js';

// Backends.
export { createBackend, CpuBackend, WebGpuBackend } from './backends/index.js';
export type { BackendName } from './backends/index.js';
export type { CpuBackendOptions } from './backends/cpu/cpu_backend.js';
export { LifecycleError, profileTrace } from './backends/backend.js';
export type { Backend, Executable, RunOptions, ProfileOptions, StepProfile, NodeProfile } from './backends/backend.js';
export { acquireDevice, NoAdapterError, DeviceLostError } from './backends/webgpu/device.js';
export type { DeviceOptions } from './backends/webgpu/device.js';
export { LimitError } from './backends/webgpu/limits.js';

// Modules and models.
export { Module, Linear, Sequential, ReLU, Sigmoid, Tanh, Flatten, Lambda } from './nn/module.js';
export type { LinearOptions } from './nn/module.js';
export { LeakyReLU, PReLU, ELU, Softplus, GELU, Maxout, LogSoftmax } from './nn/activations.js';
export { Conv2d, MaxPool2d, AvgPool2d, cnn } from './nn/conv.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, Dropout, Residual, stateUpdates } from './nn/norm.js';
export { Cell, RNNCell, LSTMCell, GRUCell, Recurrent, RNN, LSTM, GRU } from './nn/recurrent.js';
export { mlp, MODELS } from './nn/models.js';
export { buildModel, MODEL_CONFIGS, LAYER_TYPES, ConfigError } from './nn/config.js';
export type { ModelConfig, LayerConfig, BuiltModel } from './nn/config.js';
export type { InitName } from './nn/init.js';
export { modelVariables, namedVariables, ParameterNameError } from './nn/state.js';

export { ConvTranspose2d, Upsample, denseAutoencoder, convAutoencoder, VAE, reconstructionLoss } from './nn/generative.js';

// Optimizers, schedules, regularization.
export { SGD, Adam, AdamW, NAdam, RMSprop, Adagrad, Adadelta, makeOptimizer, defaultLr, OPTIMIZER_NAMES, clipGradNorm, globalNorm } from './optim/index.js';
export type { Optimizer } from './optim/optimizer.js';
export { constant, cosine, stepDecay, exponential, warmup, ReduceOnPlateau, makeSchedule, SCHEDULES } from './optim/schedules.js';
export type { Schedule, ScheduleName, ScheduleSpec, PlateauOptions } from './optim/schedules.js';
export type { Regularization } from './optim/regularizers.js';

// Training: the trainer, fit and its callbacks, model selection, losses.
export { ClassifierTrainer, NonFiniteLossError, NonFiniteGradientError } from './train/trainer.js';
export { fit, EarlyStopping, predict, evaluate, softmaxRows, buildTrainer, readWeights, writeWeights } from './train/fit.js';
export type { FitOptions, FitContext, Callback, History, Logs, Monitor, EarlyStoppingOptions, EarlyStoppingState, LossRead, TrainerSpec } from './train/fit.js';
export { GanTrainer } from './train/gan.js';
export type { GanRead } from './train/gan.js';
export { kFold, gridSearch, randomSearch, sampleParams, Bagging, bootstrap, accuracyOf } from './train/selection.js';
export type { KFoldResult, FoldResult, SearchOptions, SearchResult, Trial, Params, Distribution } from './train/selection.js';
export { LOSSES } from './train/losses.js';
export { runFlagsOf, flagRecord, flagDifferences, runOptimizer, runSchedule, configureTrainer, runAugment, runSplit, cliArgs, EpochControl, scheduleRecord } from './train/run_flags.js';
export type { RunFlags, SavedControl } from './train/run_flags.js';
export type { LossName } from './train/losses.js';

// Checkpoints and weights, as bytes.
export { encodeCheckpoint, decodeCheckpoint, restoreCheckpoint, CheckpointError, NonFiniteCheckpointError, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './train/checkpoint.js';
export type { CheckpointMeta, CheckpointInfo, DecodedCheckpoint, RunPosition, Trainable } from './train/checkpoint.js';
export { stateDict, loadStateDict, saveWeights, loadWeights, WeightsError, WEIGHTS_FORMAT } from './train/weights.js';
export { encodeSafetensors, decodeSafetensors, SafetensorsError } from './store/safetensors.js';
export type { SafeTensor, ReadTensor, SafeDType } from './store/safetensors.js';

// Data: datasets, batches, MNIST and CSV from bytes or text.
export type { Dataset } from './data/dataset.js';
export { subset, permutation, splitValidation } from './data/dataset.js';
export { DataLoader } from './data/loader.js';
export type { Batch, LoaderOptions } from './data/loader.js';
export { augmentation } from './data/augment.js';
export type { Augment, AugmentOptions } from './data/augment.js';
export { parseIdx, IdxError } from './data/idx_parse.js';
export { mnistFromIdx, normalize, MNIST_MEAN, MNIST_STD } from './data/mnist_parse.js';
export { parseCsv, csvDataset, columnStats, standardize, CsvError, splitTable } from './data/csv.js';
export type { CsvOptions, CsvTable, CsvTask, TableSplit } from './data/csv.js';

// Checking WebGPU against the CPU reference, and errors.
export { checkParity, REDUCTION_LENGTH, BRANCHES, PARITY_ATOL, PARITY_ATOL_PER_SQRT_K, PARITY_RTOL } from './check/parity.js';
export type { ParityOptions, ParityReport, ParityEntry } from './check/parity.js';
export { Rng, manualSeed, defaultRng } from './util/rng.js';
export { UserError, OptionError } from './util/errors.js';

// Regression and transfer learning.
export { unstandardize } from './data/standardize.js';
export type { ColumnStats } from './data/standardize.js';
export { isRegression } from './data/dataset.js';
export { regressionMetrics } from './train/losses.js';
export type { RegressionMetrics } from './train/losses.js';
export type { Evaluation } from './train/trainer.js';
export { initFrom, parametersNamed, layerNames } from './train/transfer.js';
export type { InitReport } from './train/transfer.js';
export { frozenParameters } from './nn/module.js';
export * as attention from './graph/attention.js';
export { Embedding, Positions, MultiHeadAttention, TransformerBlock, PatchEmbed, Gpt, GPT_DEFAULTS, sinusoidalTable } from './nn/transformer.js';
export type { GptConfig, PositionKind } from './nn/transformer.js';
export { Tokenizer, TextDataset, unigramLoss } from './data/text.js';
export type { TokenizerSpec, TokenizerKind } from './data/text.js';
export { TextTrainer } from './train/text_trainer.js';
export { Sampler } from './train/generate.js';
