// A training session: what runs in the worker (worker.ts) or, as a fallback, on the page's thread (local.ts). It
// builds the model from its JSON config, trains it with the library's loop (fit), reports the loss as fit reads it,
// saves a checkpoint to the Origin Private File System every `saveEvery` steps and where the run ends, and answers
// the page's requests for weights, a check against the CPU reference and predictions.
import {
  input, Tensor, ops, grad, type Backend, CpuBackend, WebGpuBackend, NoAdapterError, type DeviceOptions, LimitError, makeOptimizer, buildModel, Rng,
  ClassifierTrainer, fit, type Callback, DataLoader, type Dataset, checkParity, encodeCheckpoint, decodeCheckpoint, restoreCheckpoint,
  namedVariables, softmaxRows, Gpt, GPT_DEFAULTS, Tokenizer, TextDataset, TextTrainer, Sampler, unigramLoss,
  type RunFlags, type Trainable, runOptimizer, configureTrainer, runSplit, runSchedule, runAugment, EpochControl, flagRecord, scheduleRecord,
} from '../../src/index.js';
import type { FromTrainer, ToTrainer, RunSpec, CheckRow, TextSpec } from './protocol.js';
import { saveRun, weightsHash, TEXT_FILE } from './opfs.js';

type Post = (m: FromTrainer, transfer?: Transferable[]) => void;

/** The hash of named float tensors, in name order: the same for a checkpoint's tensors and for the variables they fill. */
export const namedHash = (entries: Iterable<[string, Float32Array]>) =>
  weightsHash([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v));

/** The F32 tensors of checkpoint bytes, by name (parameters, buffers, optimizer state). */
export function checkpointHash(bytes: Uint8Array): string {
  const { tensors } = decodeCheckpoint(bytes);
  return namedHash([...tensors].filter(([, t]) => t.dtype === 'F32').map(([k, t]) => [k, t.array() as Float32Array]));
}

/**
 * The flags of a run started in the page, as `wgtrain train` would record the same run (src/train/run_flags.ts):
 * SGD with momentum 0.9 at a constant rate, MSE for a regression table. A checkpoint made here resumes in the CLI
 * with these flags; one made there carries its own.
 */
export function pageFlags(model: string, n: number, batchSize: number, lr: number, seed: number, regression = false): RunFlags {
  return { model, optimizer: 'sgd', momentum: 0.9, 'batch-size': batchSize, seed, limit: n, schedule: 'constant', lr, warmup: 0, 'step-epochs': 1, ...(regression && { loss: 'mse' as const }) };
}

/** The batch sizes of a pass over n rows: B, and the last, smaller one. */
const batchSizes = (n: number, B: number) => (n === 0 ? [] : [Math.min(B, n), ...(n % B && n > B ? [n % B] : [])]);

export class TrainingSession {
  private backend?: Backend;
  private trainer?: ClassifierTrainer;
  private stopRequested = false;
  private lastBatch?: { x: Float32Array; y: Int32Array; size: number };
  private featureShape: number[] = [];

  constructor(private post: Post, private inWorker: boolean) {}

  handle(m: ToTrainer): void {
    const run = async () => {
      switch (m.type) {
        case 'start': return this.start(m);
        case 'start-text': return this.startText(m.spec, m.text, !!m.hideGpu, m.device, m.resume);
        case 'stop': this.stopRequested = true; return;
        case 'weights': return this.weights();
        case 'check': return this.check();
        case 'predict': return this.predict(m.x, m.n);
      }
    };
    run().catch((e) => this.fail(e));
  }

  private fail(e: unknown) {
    const message = (e as Error)?.message ?? String(e);
    this.post(e instanceof LimitError ? { type: 'error', message, limit: { limit: e.limit, available: e.available, needed: e.needed } } : { type: 'error', message });
  }

  private async acquire(name: 'webgpu' | 'cpu', hideGpu: boolean, device: DeviceOptions = {}): Promise<boolean> {
    if (this.backend) return true;
    if (name === 'cpu') {
      this.backend = new CpuBackend();
      this.post({ type: 'backend', backend: 'cpu', adapter: 'CPU reference (JavaScript loops, float64 accumulation)', inWorker: this.inWorker });
      return true;
    }
    try {
      // Forcing the fallback paths, for testing: this context then looks like one whose browser offers no WebGPU.
      if (hideGpu) Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined, configurable: true });
      const gpu = await WebGpuBackend.create({ limits: 'adapter', ...device });
      this.backend = gpu;
      const l = gpu.limits;
      const adapter = `${gpu.description || 'unnamed adapter'} (${device.featureLevel === 'compatibility' ? 'compatibility mode, ' : ''}${l.maxComputeInvocationsPerWorkgroup} invocations per workgroup, ` +
        `${l.maxStorageBuffersPerShaderStage} storage buffers per stage, ${Math.round(l.maxStorageBufferBindingSize / 2 ** 20)} MiB per binding)`;
      this.post({ type: 'backend', backend: 'webgpu', adapter, inWorker: this.inWorker });
      return true;
    } catch (e) {
      if (!(e instanceof NoAdapterError)) throw e;
      this.post({ type: 'no-webgpu', detail: e.detail, inWorker: this.inWorker });
      return false;
    }
  }

  private async start(m: Extract<ToTrainer, { type: 'start' }>): Promise<void> {
    const { spec, train, test } = m, f = spec.flags;
    if (!(await this.acquire(spec.backend, !!m.hideGpu, m.device))) return;
    this.trainer?.dispose();
    this.stopRequested = false;
    this.featureShape = train.featureShape;
    // Everything the flags decide comes from run_flags.ts, as in `wgtrain train`: the same flags give the same steps.
    const built = buildModel(spec.model.config, new Rng(f.seed), spec.model.name);
    const t = (this.trainer = new ClassifierTrainer(this.backend!, built.model, runOptimizer(f), train.featureShape));
    configureTrainer(t, f);
    const { train: fitSet, val } = runSplit(f, train);
    const batchSize = f['batch-size'], stepsPerEpoch = Math.ceil(fitSet.n / batchSize), epochs = f.epochs ?? Infinity;
    const { schedule, plateau } = runSchedule(f, epochs, stepsPerEpoch);
    const control = new EpochControl(f, plateau, stepsPerEpoch);
    // Every pipeline the run needs, compiled off the device's main thread before the first step (fit does the same
    // for its own steps): the held-out evaluations below are this session's, so it names their sizes.
    await t.prepareAsync({ train: batchSizes(fitSet.n, batchSize), evaluate: [...batchSizes(test.n, 250), ...(val ? batchSizes(val.n, 250) : [])] });
    let start = { epoch: 0, batch: 0 };
    if (m.resume) {
      const meta = restoreCheckpoint(m.resume, t, 'the saved run');
      control.load(meta);
      start = { epoch: meta.epoch, batch: meta.batch };
      this.post({ type: 'resumed', step: t.step, hash: await this.stateHash() });
    }
    const model = { name: spec.model.name, description: spec.model.config.description ?? spec.model.name, config: spec.model.config, ...(f.loss && { loss: f.loss }), page: { data: spec.data, untilStep: spec.untilStep } };
    let lastSaved = t.step;
    const save = async (pos: { epoch: number; batch: number }) => {
      const { bytes } = await encodeCheckpoint(t, { ...pos, model, seed: f.seed, schedule: { ...scheduleRecord(f), ...control.state() }, run: flagRecord(f) }, 'the run');
      await saveRun(bytes);
      lastSaved = t.step;
      this.post({ type: 'saved', step: t.step, hash: checkpointHash(bytes), bytes: bytes.length });
    };
    // As `wgtrain train --save` does with early stopping: a checkpoint only at the end of an epoch that is the best so far.
    const stopper = control.earlyStopping, saveEvery = stopper ? 0 : spec.saveEvery;
    let mark = { step: t.step, ms: performance.now() }, evaluated = false, rate = 0, position = start, saveAtEpochEnd = false;
    const page: Callback = {
      onBatchEnd: async (batch, _size, ctx) => {
        position = { epoch: ctx.epoch, batch };
        ctx.stop ||= this.stopRequested;
        if (spec.evalEvery && (t.step % spec.evalEvery === 0 || t.step === spec.untilStep)) {
          const r = await t.evaluate(test);
          this.post(r.r2 === undefined ? { type: 'accuracy', step: t.step, accuracy: r.accuracy, metric: 'accuracy' } : { type: 'accuracy', step: t.step, accuracy: r.r2, metric: 'r2' });
          evaluated = true;
        }
        // A save due at an epoch's last batch waits for the epoch's end, where plateau and early stopping have acted.
        if (saveEvery && t.step % saveEvery === 0) {
          if (batch === stepsPerEpoch) saveAtEpochEnd = true;
          else await save(position);
        }
      },
      onEpochEnd: async (epoch) => {
        if (t.step % stepsPerEpoch !== 0) return; // a run stopped mid-epoch: the epoch goes on when it resumes
        position = { epoch: epoch + 1, batch: 0 };
        if (saveAtEpochEnd || (stopper && stopper.bestEpoch === epoch)) await save(position);
        saveAtEpochEnd = false;
      },
      onLoss: (r) => {
        const now = performance.now();
        // Samples/s over the latest logging interval that held no evaluation: loss reads come one interval after
        // their step, so an evaluation's wait also covers steps of the interval before, and cannot be told apart.
        if (!evaluated) rate = ((r.step - mark.step) * batchSize) / ((now - mark.ms) / 1000);
        this.post({ type: 'loss', step: r.step, loss: r.loss, samplesPerSec: rate });
        mark = { step: r.step, ms: now }; evaluated = false;
        // On the page's thread, let it paint and take the stop button between loss reads.
        return this.inWorker ? undefined : new Promise<void>((done) => setTimeout(done));
      },
    };
    await fit(t, fitSet, {
      epochs, steps: Math.max(0, spec.untilStep - t.step), batchSize, seed: f.seed, start, logEvery: spec.logEvery, augment: runAugment(f, fitSet.featureShape),
      schedule, validationData: val, callbacks: [control.callback, page],
    });
    this.lastBatch = new DataLoader(fitSet, { batchSize, seed: f.seed }).batches(0).next().value;
    if (saveEvery && t.step !== lastSaved) await save(position);
    this.post({ type: 'done', step: t.step, stopped: this.stopRequested });
  }

  /**
   * A character-level GPT on `text`, with TextTrainer's step (the GPT's loop, as `wgtrain train --model gpt` runs
   * it): AdamW, warm-up then cosine to a tenth; a loss read every logEvery steps and a sample (Sampler, with its KV
   * cache) every sampleEvery; the held-out loss at the end. A checkpoint goes to OPFS every saveEvery steps and where
   * the run ends, in the format of `wgtrain train --model gpt --save` (so `wgtrain generate --weights` reads it), with
   * the tab's spec beside: `resume` continues one at its step, bit for bit (batches and samples follow the step).
   */
  private async startText(spec: TextSpec, text: string, hideGpu: boolean, device?: DeviceOptions, resume?: Uint8Array): Promise<void> {
    if (!(await this.acquire(spec.backend, hideGpu, device))) return;
    this.trainer?.dispose(); this.trainer = undefined;
    this.stopRequested = false;
    const tokenizer = Tokenizer.fit('char', text);
    const config = { ...GPT_DEFAULTS, vocab: tokenizer.vocabSize, context: spec.context, dim: spec.dim, heads: spec.heads, layers: spec.layers };
    const ds = new TextDataset(tokenizer.encode(text), config.context, 0.1);
    const prompt = tokenizer.encode(spec.prompt); // a character the text lacks is a clear error here
    const model = new Gpt(config, new Rng(spec.seed));
    this.post({ type: 'text-model', vocab: tokenizer.vocabSize, parameters: model.parameters().reduce((a, p) => a + p.size, 0), trainChars: ds.train.length, heldOutChars: ds.val.length, unigram: unigramLoss(ds.train, tokenizer.vocabSize) });
    const t = new TextTrainer(this.backend!, model, makeOptimizer('adamw', { lr: spec.lr, weightDecay: 0.01 }), spec.batchSize);
    try {
      await t.prepareAsync();
      if (resume) {
        restoreCheckpoint(resume, t, 'the saved text run');
        this.post({ type: 'resumed', step: t.step, hash: await this.stateHash(t) });
      }
      let lastSaved = t.step;
      const save = async () => {
        const model = { name: 'gpt', gpt: config, tokenizer: tokenizer.spec, page: { spec, corpus: { chars: text.length } } };
        const { bytes } = await encodeCheckpoint(t, { epoch: 0, batch: 0, seed: spec.seed, model }, 'the text run');
        await saveRun(bytes, TEXT_FILE);
        lastSaved = t.step;
        this.post({ type: 'saved', step: t.step, hash: checkpointHash(bytes), bytes: bytes.length });
      };
      const sampler = new Sampler(this.backend!, model, 40);
      const lrAt = (step: number) => (step < spec.warmup ? (spec.lr * (step + 1)) / spec.warmup : spec.lr * (0.1 + 0.45 * (1 + Math.cos((Math.PI * step) / spec.steps))));
      const sample = async () => {
        const ids = await sampler.generate(prompt, { tokens: spec.sampleTokens, temperature: 0.8, topK: 40, seed: t.step });
        this.post({ type: 'sample', step: t.step, text: spec.prompt + tokenizer.decode(ids) });
      };
      let batch, mark = { step: 0, ms: performance.now() };
      while (t.step < spec.steps && !this.stopRequested) {
        t.run((batch = ds.batch(t.step, spec.batchSize, spec.seed, batch)), lrAt(t.step));
        if (t.step % spec.logEvery === 0) {
          const loss = await t.lastLoss(), now = performance.now();
          this.post({ type: 'loss', step: t.step, loss, samplesPerSec: ((t.step - mark.step) * spec.batchSize * config.context) / ((now - mark.ms) / 1000) });
          mark = { step: t.step, ms: now };
        }
        if (t.step % spec.sampleEvery === 0) { await sample(); mark.ms = performance.now(); }
        if (spec.saveEvery && t.step % spec.saveEvery === 0) { await save(); mark.ms = performance.now(); }
        // On the page's thread, let it paint and take the stop button.
        if (!this.inWorker) await new Promise((done) => setTimeout(done));
      }
      if (t.step % spec.sampleEvery !== 0) await sample();
      if (spec.saveEvery && t.step !== lastSaved) await save();
      this.post({ type: 'text-done', step: t.step, stopped: this.stopRequested, valLoss: await t.valLoss(ds, 64) });
    } finally {
      t.dispose();
    }
  }

  /** Every value a checkpoint holds, read back from the device, hashed as checkpointHash hashes the file's. */
  private async stateHash(t: Trainable = this.trainer!): Promise<string> {
    const vars = new Map(namedVariables(t.model));
    for (const s of t.optimizer.state()) vars.set(s.name, s);
    return namedHash(await Promise.all([...vars].map(async ([k, v]) => [k, await t.backend.readVariable(v)] as [string, Float32Array])));
  }

  private async weights(): Promise<void> {
    const t = this.trainer;
    if (!t) throw new Error('weights: no model yet (start a run first)');
    const named = [...namedVariables(t.model)];
    const values = await Promise.all(named.map(([, v]) => t.backend.readVariable(v)));
    this.post({ type: 'weights', step: t.step, names: named.map(([k]) => k), values, hash: await this.stateHash() }, values.map((v) => v.buffer));
  }

  private async check(): Promise<void> {
    const t = this.trainer, b = this.lastBatch;
    if (!(t && b)) throw new Error('check: train first (the check takes one step from where training stopped)');
    const x = input([b.size, ...this.featureShape], 'f32', 'x'), y = input([b.size], 'i32', 'labels');
    t.model.train();
    const loss = ops.softmaxCrossEntropy(t.model.forward(x), y);
    // The trainer's own optimizer: its momentum buffers are the ones training left, so the check starts from there.
    const updates = t.optimizer.updates(t.parameters, grad(loss, t.parameters.map((p) => p.tensor)));
    const report = await checkParity({ outputs: [loss], effects: updates, feeds: new Map<Tensor, Float32Array | Int32Array>([[x, b.x], [y, b.y]]), gpu: t.backend });
    const byLayer = new Map<string, CheckRow>();
    for (const v of report.variables) {
      const layer = v.label.split('.')[0];
      const row = byLayer.get(layer) ?? { layer, values: 0, maxAbsErr: 0, ratio: 0, ok: true };
      row.values += v.shape.reduce((p, q) => p * q, 1);
      row.maxAbsErr = Math.max(row.maxAbsErr, v.maxAbsErr); row.ratio = Math.max(row.ratio, v.ratio); row.ok &&= v.ok;
      byLayer.set(layer, row);
    }
    const worst = report.nodes.reduce((p, q) => (q.ratio > p.ratio ? q : p));
    const summary = report.ok
      ? `${report.nodes.length} nodes and ${report.variables.length} variables within tolerance; closest to it: ${worst.label} at ${(worst.ratio * 100).toFixed(1)}%.`
      : `Outside tolerance, first at ${report.firstFailure!.label}: |gpu − cpu| = ${report.firstFailure!.maxAbsErr.toExponential(2)}.`;
    this.post({ type: 'check', ok: report.ok, gpu: report.gpu, layers: [...byLayer.values()], summary });
  }

  private async predict(x: Float32Array, n: number): Promise<void> {
    if (!this.trainer) return;
    this.post({ type: 'prediction', probs: [...softmaxRows(await this.trainer.predict(x, n, 1), n)] });
  }
}

/** The datasets a start message carries, as the structured clone gives them back (plain objects of typed arrays). */
export const datasetTransfer = (...sets: Dataset[]): Transferable[] => sets.flatMap((d) => [d.x.buffer, d.y.buffer]);
