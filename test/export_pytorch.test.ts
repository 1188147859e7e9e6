// The PyTorch hand-off, checked against real PyTorch (Debian's python3-torch, installed by scripts/setup.sh): for each
// model, wgtrain trains two steps on the CPU backend and saves a checkpoint; the export's forward in PyTorch must equal
// wgtrain's, three more steps in PyTorch from the exported optimizer state must equal three more wgtrain steps, and
// importing the exported state_dict must give the checkpoint's weights back bit for bit. A 2-process DDP run (gloo)
// must continue the CNN's training with a falling loss. The largest differences seen are printed.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { buildModel, MODEL_CONFIGS, ModelConfig } from '../src/nn/config.js';
import { makeOptimizer } from '../src/optim/index.js';
import { makeSchedule } from '../src/optim/schedules.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { encodeCheckpoint, decodeCheckpoint } from '../src/train/checkpoint.js';
import { stateDict } from '../src/train/weights.js';
import { encodeSafetensors, decodeSafetensors } from '../src/store/safetensors.js';
import { exportPytorch } from '../src/export/pytorch.js';
import { pytorchStateDict } from '../src/export/import_pytorch.js';
import { exportOnnx } from '../src/export/onnx.js';
import { torchGpt, TorchModel } from '../src/export/torch_layers.js';
import { Gpt, GptConfig } from '../src/nn/transformer.js';
import { TextTrainer } from '../src/train/text_trainer.js';
import { input } from '../src/graph/tensor.js';
import * as ort from 'onnxruntime-node';
import { StateDictError } from '../src/export/torch_state.js';
import { mnistDir, MNIST_MEAN, MNIST_STD } from '../src/data/mnist.js';
import { Rng } from '../src/util/rng.js';

const PYTHON = '/usr/bin/python3'; // Debian's, which python3-torch installs for (not a pyenv python first on PATH)
const DRIVER = join(__dirname, 'fixtures/torch_roundtrip.py');
const B = 4, STEPS_BEFORE = 2, STEPS_AFTER = 3, TOTAL = 5;

const LSTM_CONFIG: ModelConfig = {
  description: 'LSTM over 6 steps of 5 features, then linear', input: [6, 5],
  layers: [{ type: 'lstm', hidden: 8, name: 'lstm' }, { type: 'lstm', hidden: 7, return_sequences: false, name: 'lstm2' }, { type: 'linear', out: 4, name: 'head' }],
};

// Every other layer kind the exporters map: batch norm (with its running statistics), a residual block, PReLU, layer
// norm, GELU, GRU, RNN. Convs before batch norm have no bias: its gradient is zero up to rounding, which Adam would
// scale up to full steps in both engines, differently.
const MIXED_CONFIG: ModelConfig = {
  description: 'conv-bn-residual-prelu-pool, linear-layernorm-gelu, GRU, RNN', input: [1, 8, 8],
  layers: [
    { type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false, name: 'c1' }, { type: 'batchnorm2d', name: 'bn1' }, { type: 'relu' },
    { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false, name: 'block.c2' }, { type: 'batchnorm2d', name: 'block.bn2' }] },
    { type: 'prelu', per_channel: true, name: 'prelu' }, { type: 'avgpool2d', kernel: 2 }, { type: 'flatten' },
    { type: 'linear', out: 12, name: 'fc' }, { type: 'layernorm', name: 'ln' }, { type: 'gelu' }, { type: 'reshape', shape: [3, 4] },
    { type: 'gru', hidden: 5, name: 'gru' }, { type: 'rnn', hidden: 6, return_sequences: false, name: 'rnn' }, { type: 'linear', out: 3, name: 'head' },
  ],
};

const SMALL_MLP: ModelConfig = { input: [6], layers: [{ type: 'linear', out: 8, name: 'fc1' }, { type: 'tanh' }, { type: 'linear', out: 3, name: 'fc2' }] };

interface Case { name: string; config: ModelConfig; optimizer: string; options: Record<string, unknown>; classes: number }
const CASES: Case[] = [
  { name: 'mlp', config: MODEL_CONFIGS.mlp, optimizer: 'sgd', options: { lr: 0.05, momentum: 0.9 }, classes: 10 },
  { name: 'cnn', config: MODEL_CONFIGS.cnn, optimizer: 'adamw', options: { lr: 3e-3 }, classes: 10 },
  { name: 'lstm', config: LSTM_CONFIG, optimizer: 'adamw', options: { lr: 1e-2, weightDecay: 0.05 }, classes: 4 },
  { name: 'mixed', config: MIXED_CONFIG, optimizer: 'adam', options: { lr: 1e-2 }, classes: 3 },
  // The other optimizers, on a small MLP: each slot and step count under torch.optim's names. Not NAdam: PyTorch 1.13
  // (Debian's) multiplies mu into its mu_product_next twice (torch/optim/nadam.py), which wgtrain and later PyTorch do not.
  ...([['rmsprop', { lr: 1e-2, momentum: 0.5, centered: true, weightDecay: 0.01 }], ['adagrad', { lr: 0.1, lrDecay: 0.01 }], ['adadelta', { lr: 1, weightDecay: 0.01 }]] as const)
    .map(([optimizer, options]) => ({ name: 'small mlp', config: SMALL_MLP, optimizer, options, classes: 3 })),
  { name: 'lstm (sgd, nesterov)', config: LSTM_CONFIG, optimizer: 'sgd', options: { lr: 0.1, momentum: 0.9, nesterov: true }, classes: 4 },
];

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const floats = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** The export of `bytes` (a checkpoint) written to a new temporary directory. */
function writeExport(bytes: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgtrain-torch-'));
  const files = exportPytorch(decodeCheckpoint(bytes, 'ck.safetensors'), 'ck.safetensors', { mnistDir: mnistDir(), mnistMean: MNIST_MEAN, mnistStd: MNIST_STD });
  for (const [name, content] of files) writeFileSync(join(dir, name), content);
  return dir;
}

let backend: Backend;
beforeAll(async () => {
  backend = await createBackend('cpu');
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'pipe' });
  } catch {
    throw new Error(`${PYTHON} cannot import torch: run scripts/setup.sh (it installs Debian's python3-torch)`);
  }
});

/** Trains `c` two steps in wgtrain and returns the checkpoint, the eval forward of a batch, and the weights after three more steps. */
async function wgtrainRun(c: Case) {
  const { model } = buildModel(c.config, new Rng(7));
  const trainer = new ClassifierTrainer(backend, model, makeOptimizer(c.optimizer, c.options), c.config.input);
  const lr = c.options.lr as number;
  trainer.schedule = makeSchedule('cosine', { lr, epochs: 1, stepsPerEpoch: TOTAL }).schedule;
  const per = c.config.input.reduce((a, b) => a * b, 1), rng = new Rng(11);
  const xs = Array.from({ length: TOTAL }, () => floats(rng, B * per));
  const ys = Array.from({ length: TOTAL }, () => Int32Array.from({ length: B }, () => rng.int(c.classes)));
  for (let k = 0; k < STEPS_BEFORE; k++) trainer.trainStep(xs[k], ys[k], B);
  const { bytes } = await encodeCheckpoint(trainer, {
    epoch: 0, batch: STEPS_BEFORE, model: { name: c.name, config: c.config }, seed: 7,
    schedule: { name: 'cosine', lr, warmup: 0 }, run: { 'batch-size': B, limit: B * TOTAL, epochs: 1 },
  });
  const evalX = floats(rng, 3 * per);
  const forward = await trainer.predict(evalX, 3);
  for (let k = STEPS_BEFORE; k < TOTAL; k++) trainer.trainStep(xs[k], ys[k], B);
  const after = await stateDict(backend, model);
  trainer.dispose();
  const batches = encodeSafetensors(new Map([
    ['eval_x', { dtype: 'F32' as const, shape: [3, ...c.config.input], data: evalX }],
    ['x', { dtype: 'F32' as const, shape: [STEPS_AFTER, B, ...c.config.input], data: Float32Array.from(xs.slice(STEPS_BEFORE).flatMap((x) => [...x])) }],
    ['y', { dtype: 'I64' as const, shape: [STEPS_AFTER, B], data: BigInt64Array.from(ys.slice(STEPS_BEFORE).flatMap((y) => [...y].map(BigInt))) }],
  ]));
  return { bytes, forward, after, batches };
}

/**
 * The export of `run` against PyTorch: forward, three more steps, import bit for bit, and (`onnx`) the ONNX forward in
 * onnxruntime-node. `model` maps PyTorch's state dict back to wgtrain's names.
 */
async function checkAgainstTorch(label: string, run: Awaited<ReturnType<typeof wgtrainRun>>, model: ModelConfig | TorchModel, onnx: boolean): Promise<void> {
  const dir = writeExport(run.bytes);
  writeFileSync(join(dir, 'batches.safetensors'), run.batches);
  execFileSync(PYTHON, [DRIVER, dir, join(dir, 'batches.safetensors'), join(dir, 'out.safetensors')], { stdio: 'pipe' });
  const out = decodeSafetensors(readFileSync(join(dir, 'out.safetensors'))).tensors;

  // Forward: float32 sums in another order; relative to the outputs' size.
  const torchForward = out.get('forward')!.array() as Float32Array;
  const fwd = maxDiff(torchForward, run.forward);
  expect(fwd).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(run.forward)));

  // Three steps: PyTorch's weights after them, mapped back to wgtrain's names, against wgtrain's.
  const state = encodeSafetensors(new Map([...out].filter(([k]) => k.startsWith('state.')).map(([k, t]) => [k.slice(6), { dtype: t.dtype, shape: t.shape, data: t.array() }])));
  const torchAfter = pytorchStateDict(state, model, 'PyTorch after 3 steps');
  let steps = 0;
  for (const [name, w] of run.after) {
    // Attention's key bias adds q·b to every score of a query alike, which softmax ignores: its gradient is zero up to
    // rounding, and Adam scales that rounding up to whole steps, differently in each engine. The rest of qkv is compared.
    const keyBias = name.endsWith('attn.qkv.bias') ? [w.length / 3, (2 * w.length) / 3] : undefined;
    const part = (a: Float32Array) => (keyBias ? Float32Array.from([...a.subarray(0, keyBias[0]), ...a.subarray(keyBias[1])]) : a);
    const d = maxDiff(part(torchAfter.get(name)!), part(w));
    steps = Math.max(steps, d);
    expect(d, name).toBeLessThanOrEqual(2e-5 * Math.max(1, maxAbs(w)));
  }
  // The steps moved the weights well beyond that tolerance: the comparison is of training, not of the start.
  const ck = decodeCheckpoint(run.bytes).tensors;
  const moved = Math.max(...[...run.after].map(([name, w]) => maxDiff(w, ck.get(name)!.array() as Float32Array)));
  expect(moved).toBeGreaterThan(100 * steps);

  // Import: the exported state_dict gives the checkpoint's weights back bit for bit.
  const back = pytorchStateDict(readFileSync(join(dir, 'model.safetensors')), model, 'model.safetensors');
  for (const [name, w] of back) expect(Buffer.from(w.buffer).equals(Buffer.from(ck.get(name)!.bytes)), name).toBe(true);
  let onnxDiff = 'not exported';
  if (onnx) {
    // ONNX: the same forward in onnxruntime-node.
    const session = await ort.InferenceSession.create(exportOnnx(decodeCheckpoint(run.bytes), 'ck.safetensors'));
    const evalX = decodeSafetensors(run.batches).tensors.get('eval_x')!;
    const feed = evalX.dtype === 'I64' ? new ort.Tensor('int64', evalX.array() as BigInt64Array, evalX.shape) : new ort.Tensor('float32', evalX.array() as Float32Array, evalX.shape);
    const result = await session.run({ input: feed });
    expect(result.output.dims[0]).toBe(3);
    expect(result.output.size).toBe(run.forward.length);
    const d = maxDiff(result.output.data as Float32Array, run.forward);
    expect(d).toBeLessThanOrEqual(1e-4);
    onnxDiff = d.toExponential(2);
  }
  console.log(`${label}: PyTorch forward max |diff| ${fwd.toExponential(2)}, weights after ${STEPS_AFTER} steps max |diff| ${steps.toExponential(2)} (they moved ${moved.toExponential(2)}); import bit-exact; ONNX forward max |diff| ${onnxDiff}`);
}

const GPT_CONFIG: GptConfig = { vocab: 11, context: 8, dim: 16, heads: 2, layers: 2, positions: 'learned', dropout: 0 };

/** wgtrainRun for a small GPT on random ids: two AdamW steps, the checkpoint, eval logits, three more steps. */
async function gptRun(): Promise<Awaited<ReturnType<typeof wgtrainRun>>> {
  const model = new Gpt(GPT_CONFIG, new Rng(7));
  const trainer = new TextTrainer(backend, model, makeOptimizer('adamw', { lr: 3e-3, weightDecay: 0.1 }), B);
  const T = GPT_CONFIG.context, rng = new Rng(11);
  const ids = () => Int32Array.from({ length: B * T }, () => rng.int(GPT_CONFIG.vocab));
  const batches = Array.from({ length: TOTAL }, () => ({ x: ids(), y: ids() }));
  for (let k = 0; k < STEPS_BEFORE; k++) trainer.run(batches[k], 3e-3);
  const { bytes } = await encodeCheckpoint(trainer, { epoch: 0, batch: 0, seed: 7, model: { name: 'gpt', gpt: GPT_CONFIG, tokenizer: { kind: 'byte' } } });
  const evalIds = Int32Array.from({ length: 3 * T }, () => rng.int(GPT_CONFIG.vocab));
  model.eval();
  const x = input([3, T], 'i32', 'ids'), logits = model.forward(x), ex = backend.compile([logits]);
  ex.run(new Map([[x, evalIds]]));
  const forward = (await ex.read(logits)) as Float32Array;
  ex.dispose();
  model.train();
  for (let k = STEPS_BEFORE; k < TOTAL; k++) trainer.run(batches[k], 3e-3);
  const after = await stateDict(backend, model);
  const i64 = (a: Int32Array[]) => BigInt64Array.from(a.flatMap((v) => [...v].map(BigInt)));
  const encoded = encodeSafetensors(new Map([
    ['eval_x', { dtype: 'I64' as const, shape: [3, T], data: i64([evalIds]) }],
    ['x', { dtype: 'I64' as const, shape: [STEPS_AFTER, B, T], data: i64(batches.slice(STEPS_BEFORE).map((b) => b.x)) }],
    ['y', { dtype: 'I64' as const, shape: [STEPS_AFTER, B, T], data: i64(batches.slice(STEPS_BEFORE).map((b) => b.y)) }],
  ]));
  return { bytes, forward, after, batches: encoded };
}

describe('export to PyTorch', () => {
  for (const c of CASES) {
    it(`${c.name} (${c.optimizer}): forward, three more training steps, and import, against PyTorch`, async () => {
      await checkAgainstTorch(`${c.name} (${c.optimizer})`, await wgtrainRun(c), c.config, true);
    });
  }

  it('gpt (adamw): forward, three more training steps, and import, against PyTorch', async () => {
    await checkAgainstTorch('gpt (adamw)', await gptRun(), torchGpt(GPT_CONFIG), true);
  });

  it('import names every tensor that does not match, in one error', async () => {
    const run = await wgtrainRun(CASES[0]);
    const dir = writeExport(run.bytes);
    const { tensors } = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')));
    const bad = new Map([...tensors].filter(([k]) => k !== 'fc1.bias').map(([k, t]) => [k, { dtype: t.dtype, shape: k === 'fc2.weight' ? [256, 128] : t.shape, data: t.array() }]));
    bad.set('fc9.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    const err = (() => { try { pytorchStateDict(encodeSafetensors(bad), MODEL_CONFIGS.mlp, 'state.safetensors'); } catch (e) { return e as Error; } })();
    expect(err).toBeInstanceOf(StateDictError);
    expect(err!.message).toContain("missing 'fc1.bias' [256]");
    expect(err!.message).toContain("'fc2.weight' is F32 [256, 128], expected F32 [128, 256]");
    expect(err!.message).toContain("unexpected 'fc9.weight'");
  });

  it('a 2-process DDP run (gloo, CPU) continues the CNN on MNIST with a falling loss', async () => {
    const c = CASES[1];
    const run = await wgtrainRun({ ...c, optimizer: 'sgd', options: { lr: 0.03, momentum: 0.9 } });
    const dir = writeExport(run.bytes);
    // The test's checkpoint records a batch of 4; DDP splits a batch of 32 over the two processes.
    const training = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
    writeFileSync(join(dir, 'training.json'), JSON.stringify({ ...training, batch_size: 32 }));
    const log = execFileSync(PYTHON, [join(dir, 'train_ddp.py'), '--nproc', '2', '--epochs', '2', '--limit', '384', '--test-limit', '200', '--lr', '0.03', '--save', join(dir, 'after.safetensors')], { encoding: 'utf8', stdio: 'pipe', timeout: 120_000 });
    console.log(log.trim());
    expect(log).toContain('2 process(es), backend gloo');
    const losses = [...log.matchAll(/epoch \d+: mean loss ([\d.]+) \(by thirds: ([\d.]+), ([\d.]+), ([\d.]+)\)/g)].map((m) => m.slice(1).map(Number));
    expect(losses).toHaveLength(2);
    expect(losses[1][0]).toBeLessThan(losses[0][0]);
    expect(losses[1][3]).toBeLessThan(losses[0][1]);
    // What DDP trained comes back into wgtrain.
    const back = pytorchStateDict(readFileSync(join(dir, 'after.safetensors')), c.config, 'after.safetensors');
    expect([...back.keys()]).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  });

  it('the CLI: export (pytorch, onnx) and import, and their mistakes exit 2 with one line', async () => {
    execFileSync(process.execPath, ['scripts/build.mjs']);
    const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', timeout: 120_000 });
    const dir = mkdtempSync(join(tmpdir(), 'wgtrain-cli-export-'));
    const ck = join(dir, 'ck.safetensors');
    writeFileSync(ck, (await wgtrainRun(CASES[0])).bytes);
    const out = join(dir, 'pt');
    let r = cli(['export', '--weights', ck, '--format', 'pytorch', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['model.py', 'model.safetensors', 'optimizer.safetensors', 'safetensors_io.py', 'train_ddp.py', 'training.json']);
    r = cli(['export', '--weights', ck, '--format', 'pytorch', '--out', out]);
    expect([r.status, r.stderr.trim()]).toEqual([2, `wgtrain: export: --out ${out} is not empty (choose a new or empty directory; nothing is overwritten)`]);
    r = cli(['export', '--weights', ck, '--format', 'onnx', '--out', join(dir, 'm.onnx')]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'm.onnx'))).toBe(true);
    r = cli(['export', '--weights', ck, '--format', 'keras', '--out', join(dir, 'k')]);
    expect([r.status, r.stderr.trim()]).toEqual([2, "wgtrain: export: --format must be one of pytorch, onnx, got 'keras'"]);

    const back = join(dir, 'back.safetensors');
    r = cli(['import', '--from', 'pytorch', join(out, 'model.safetensors'), '--model', 'mlp', '--out', back]);
    expect(r.status, r.stderr).toBe(0);
    const original = decodeCheckpoint(readFileSync(ck)).tensors, imported = decodeCheckpoint(readFileSync(back)).tensors;
    for (const name of ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']) expect(Buffer.from(imported.get(name)!.bytes).equals(Buffer.from(original.get(name)!.bytes)), name).toBe(true);
    r = cli(['import', '--from', 'pytorch', join(out, 'model.safetensors'), '--model', 'cnn', '--out', join(dir, 'wrong.safetensors')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("does not match the model (10 tensors): missing 'conv1.weight' [16, 1, 5, 5]");
    expect(r.stderr).toContain("'fc1.weight' is F32 [256, 784], expected F32 [128, 1568]");
    expect(r.stderr).toContain("unexpected 'fc3.weight'");
    expect(existsSync(join(dir, 'wrong.safetensors'))).toBe(false);
  });
});
