// The library's public surface.
export { Tensor, Variable, input } from './graph/tensor.js';
export * as ops from './graph/ops.js';
export { ShapeError } from './graph/shape.js';
export { grad } from './autodiff/grad.js';
export { plan } from './schedule/plan.js';
export { createBackend, CpuBackend, WebGpuBackend } from './backends/index.js';
export type { Backend, Executable } from './backends/backend.js';
export { acquireDevice, NoAdapterError } from './backends/webgpu/device.js';
export { Module, Linear, Sequential, ReLU, Sigmoid, Tanh, Flatten, Lambda } from './nn/module.js';
export { mlp, MODELS } from './nn/models.js';
export { SGD } from './optim/sgd.js';
export { ClassifierTrainer, NonFiniteLossError } from './train/trainer.js';
export { Rng } from './util/rng.js';
