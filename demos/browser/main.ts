// The browser demo: a model (JSON, edited in the page) trained on MNIST, a CSV or a folder of images with the
// library's loop (fit), in a Web Worker on its navigator.gpu (worker.ts; the page's own thread where workers get no
// WebGPU), with live charts, a drawing pad for predictions, a one-step check against the CPU, and checkpoints kept
// in the Origin Private File System so a reload can resume the run. window.wgtrainDemo mirrors what the page shows,
// for the end-to-end test (test/browser.e2e.test.ts).
// The library's public, browser-safe entry (what `import … from 'wgtrain'` gives a bundler): no Node built-ins.
import { MODEL_CONFIGS, type ModelConfig, buildModel, decodeCheckpoint, Rng, normalize, MNIST_MEAN, MNIST_STD, type DeviceOptions, type Dataset, type CheckpointMeta, runFlagsOf, cliArgs } from '../../src/index.js';
import { drawChart } from './chart.js';
import { DrawPad } from './pad.js';
import type { FromTrainer, RunSpec, ToTrainer, TrainerPort, CheckRow } from './protocol.js';
import { openTrainer } from './local.js';
import { setupTextTab } from './text_tab.js';
import { loadRun, forgetRun, saveRun, DATA_FILE } from './opfs.js';
import { checkpointHash, datasetTransfer, pageFlags } from './session.js';
import { loadMnist, csvData, csvHeader, imageData, encodePageData, decodePageData, type PageData } from './data.js';

const params = new URLSearchParams(location.search);
const num = (k: string, d: number) => { const v = Number(params.get(k) ?? d); return Number.isFinite(v) && v > 0 ? v : d; };
const int = (k: string, d: number) => Math.floor(num(k, d));

// Forcing the fallback paths, for testing: hide WebGPU as a browser without it would (gpu=none; gpu=main hides it
// from the worker only), or ask for compatibility mode.
const gpuParam = params.get('gpu');
if (gpuParam === 'none') Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
const device: DeviceOptions = { featureLevel: gpuParam === 'compat' ? 'compatibility' : 'core', limits: params.get('limits') === 'default' ? 'default' : 'adapter' };

interface Point { step: number; value: number }
const state = {
  phase: 'loading' as 'loading' | 'ready' | 'training' | 'done' | 'stopped' | 'no-webgpu' | 'error',
  backend: '' as '' | 'cpu' | 'webgpu',
  adapter: '',
  /** Where the session runs: 'worker', or 'page' (the fallback). */
  thread: '' as '' | 'worker' | 'page',
  featureLevel: device.featureLevel,
  notice: '',
  data: { kind: '', name: '', n: 0, description: '' },
  model: { name: '', error: '', parameters: 0 },
  losses: [] as Point[],
  /** Held-out accuracy, or R² for a regression table (`metric`). */
  accuracies: [] as Point[],
  metric: 'accuracy' as 'accuracy' | 'r2',
  samplesPerSec: 0,
  step: 0,
  /** Checkpoints written during this page's life, and the one a reload found. */
  saves: [] as { step: number; hash: string }[],
  offer: undefined as undefined | { step: number; hash: string; source: string },
  resumed: undefined as undefined | { step: number; hash: string },
  /** The longest gap between animation frames from the first loss read to the run's end, the frame count, the gaps over 50 ms, and the page thread's longest task from the session's first answer. */
  frames: { maxGapMs: 0, count: 0, long: [] as { at: number; gapMs: number; step: number }[], longestTaskMs: 0, tasks: [] as { at: number; ms: number; step: number }[] },
  cli: '',
  prediction: undefined as undefined | { digit: number; probs: number[] },
  check: undefined as undefined | { ok: boolean; layers: CheckRow[]; summary: string },
  /** The weights read back at the end of a run (the 'weights' message): its step, size, and the hash of everything a checkpoint holds. */
  weights: undefined as undefined | { step: number; tensors: number; values: number; hash: string },
  error: '',
};
(globalThis as unknown as { wgtrainDemo: typeof state }).wgtrainDemo = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: $('adapter'), notice: $('notice'), noticeText: $('notice-text'), useCpu: $<HTMLButtonElement>('use-cpu'),
  model: $<HTMLSelectElement>('model'), modelJson: $<HTMLTextAreaElement>('model-json'), modelError: $('model-error'), modelOk: $('model-ok'),
  useMnist: $<HTMLButtonElement>('use-mnist'), csv: $<HTMLInputElement>('csv'), csvLabel: $<HTMLSelectElement>('csv-label'), images: $<HTMLInputElement>('images'), dataInfo: $('data-info'),
  steps: $<HTMLInputElement>('steps'), batch: $<HTMLInputElement>('batch'), lr: $<HTMLInputElement>('lr'),
  start: $<HTMLButtonElement>('start'), stop: $<HTMLButtonElement>('stop'), check: $<HTMLButtonElement>('check'), status: $('status'),
  saved: $('saved'), download: $<HTMLButtonElement>('download'), upload: $<HTMLInputElement>('upload'), cli: $('cli'), pulse: $<HTMLCanvasElement>('pulse'),
  resumeCard: $('resume-card'), resumeText: $('resume-text'), resume: $<HTMLButtonElement>('resume'), forget: $<HTMLButtonElement>('forget'),
  lossValue: $('loss-value'), accValue: $('acc-value'), accLabel: $('acc-label'), csvTask: $<HTMLSelectElement>('csv-task'), rate: $('rate'), step: $('step'), backendName: $('backend-name'),
  lossChart: $<HTMLCanvasElement>('loss-chart'), accChart: $<HTMLCanvasElement>('acc-chart'),
  pad: $<HTMLCanvasElement>('pad'), clear: $<HTMLButtonElement>('clear'), prediction: $('prediction'), probs: $<HTMLCanvasElement>('probs'),
  checkCard: $('check-card'), checkSummary: $('check-summary'), checkBody: $('check-table').querySelector('tbody')!,
};
const status = (s: string) => { ui.status.textContent = s; };
function notice(text: string, kind: 'warn' | 'error', offerCpu: boolean) {
  state.notice = text;
  ui.noticeText.textContent = text;
  ui.notice.className = kind === 'error' ? 'error' : '';
  ui.notice.style.display = 'block';
  ui.useCpu.hidden = !offerCpu;
}

// ---- the model, as JSON: the CLI's --model FILE.json, checked by the same validator (buildModel) as you type ----
const hidden = params.get('hidden')?.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const hiddenConfig = (sizes: number[]): ModelConfig => ({
  description: `784-${sizes.join('-')}-10 ReLU MLP`, input: [784],
  layers: [...sizes.flatMap((out, i) => [{ type: 'linear', out, name: `fc${i + 1}` }, { type: 'relu' }]), { type: 'linear', out: 10, name: `fc${sizes.length + 1}` }],
});
for (const [k, c] of Object.entries(MODEL_CONFIGS)) ui.model.add(new Option(`${k}: ${c.description}`, k));
ui.model.add(new Option('your own (model.json)', 'model.json'));
let model: { name: string; config: ModelConfig } | undefined;
function setModel(name: string, config: ModelConfig) {
  ui.model.value = name;
  ui.modelJson.value = JSON.stringify(config, null, 1).replace(/\n\s+(?=[}\]"\d-])/g, (m) => (m.includes('"type"') ? m : ' ')).replace(/\{ /g, '{').replace(/ \}/g, '}');
  readModel();
}
/** The model in the editor: a built-in name while it is unchanged, else model.json. Errors are the CLI's (ConfigError) for model.json. */
function readModel(): void {
  model = undefined;
  let config: ModelConfig;
  try {
    config = JSON.parse(ui.modelJson.value) as ModelConfig;
  } catch (e) {
    return modelError(`model.json: not valid JSON (${(e as Error).message})`);
  }
  const same = Object.entries(MODEL_CONFIGS).find(([, c]) => JSON.stringify(c) === JSON.stringify(config));
  const name = same ? same[0] : 'model.json';
  try {
    const built = buildModel(config, new Rng(1), name);
    model = { name, config };
    state.model = { name, error: '', parameters: built.parameterCount };
    ui.model.value = name;
    ui.modelError.textContent = '';
    ui.modelOk.textContent = `${built.parameterCount.toLocaleString('en')} parameters; input [${built.inputShape.join(', ')}], output [${built.outputShape.join(', ')}]`;
  } catch (e) {
    modelError((e as Error).message);
  }
  updateStart();
}
function modelError(message: string) {
  state.model = { name: '', error: message, parameters: 0 };
  ui.modelError.textContent = message;
  ui.modelOk.textContent = '';
  updateStart();
}
ui.modelJson.oninput = readModel;
ui.model.onchange = () => { if (MODEL_CONFIGS[ui.model.value]) setModel(ui.model.value, MODEL_CONFIGS[ui.model.value]); };

// ---- data ----
let data: PageData | undefined;
let imageFiles: File[] | undefined;
let csvText: { text: string; name: string } | undefined;
const dataParams = { trainN: int('train', 10000), testN: int('test', 1000), seed: 1 };
function setData(d: PageData) {
  data = d;
  state.data = { kind: d.kind, name: d.name, n: d.train.n, description: d.description };
  ui.dataInfo.textContent = d.description;
  updateStart();
}
async function useData(load: () => Promise<PageData> | PageData) {
  try { setData(await load()); } catch (e) { notice((e as Error).message, 'error', false); state.error = (e as Error).message; }
}
ui.useMnist.onclick = () => { imageFiles = csvText = undefined; void useData(() => loadMnist(dataParams.trainN, dataParams.testN)); };
ui.csv.onchange = async () => {
  const f = ui.csv.files?.[0];
  if (!f) return;
  imageFiles = undefined;
  csvText = { text: await f.text(), name: f.name };
  const header = csvHeader(csvText.text);
  ui.csvLabel.replaceChildren(...header.map((h) => new Option(h, h)));
  ui.csvLabel.value = header.at(-1) ?? '';
  await useData(readCsv);
};
/** The open CSV with the label column and task chosen; the task '' follows the column, as the CLI's --task does when absent. */
const readCsv = () => csvData(csvText!.text, csvText!.name, ui.csvLabel.value, dataParams.seed, (ui.csvTask.value || undefined) as 'classification' | 'regression' | undefined);
ui.csvTask.onchange = ui.csvLabel.onchange = () => { if (csvText) void useData(readCsv); };
// Images are resized to the model's input, so they are read when a run starts (the model may change before then).
ui.images.onchange = () => {
  const files = [...(ui.images.files ?? [])];
  if (!files.length) return;
  imageFiles = files; csvText = undefined;
  const root = (files[0].webkitRelativePath || 'images').split('/')[0];
  state.data = { kind: 'images', name: root, n: files.length, description: `${root}/: ${files.length} files, read when training starts` };
  ui.dataInfo.textContent = state.data.description;
  data = undefined;
  updateStart();
};
const dataReady = () => !!data || !!imageFiles;
function updateStart() { ui.start.disabled = !(dataReady() && model && ['ready', 'done', 'stopped', 'error'].includes(state.phase)); }

// ---- the trainer: a worker, or the same session on this thread ----
let port: TrainerPort | undefined;
let lastStart: ToTrainer | undefined;
let backendChoice: 'webgpu' | 'cpu' = params.get('backend') === 'cpu' ? 'cpu' : 'webgpu';
const useWorker = params.get('worker') !== '0';
function openPort(inWorker: boolean): TrainerPort {
  port?.terminate();
  port = openTrainer(inWorker);
  state.thread = inWorker ? 'worker' : 'page';
  port.onmessage = (e) => onMessage(e.data);
  return port;
}
function send(m: ToTrainer, transfer: Transferable[] = []) { (port ?? openPort(useWorker)).postMessage(m, transfer); }

function onMessage(m: FromTrainer) {
  switch (m.type) {
    case 'backend': {
      Object.assign(state, { backend: m.backend, adapter: m.adapter });
      const where = m.inWorker ? 'in a Web Worker' : "on the page's thread";
      ui.adapter.textContent = `Backend: ${m.backend === 'cpu' ? 'CPU' : 'WebGPU'} ${where}, ${m.adapter}.`;
      ui.backendName.textContent = `on ${m.backend === 'cpu' ? 'the CPU reference' : 'WebGPU'}, ${where}`;
      watchTasks();
      return;
    }
    case 'no-webgpu':
      if (m.inWorker && lastStart?.type === 'start' && lastStart.spec.backend === 'webgpu') {
        // Some browsers offer WebGPU to pages but not to workers: the same session runs here instead.
        notice(`WebGPU is not offered to workers in this browser (${m.detail}), so training runs on the page's own thread: the page may pause while it trains.`, 'warn', false);
        openPort(false);
        sendStart(lastStart.spec, lastStart.resume, gpuParam === 'none');
        return;
      }
      state.phase = 'no-webgpu';
      notice(`WebGPU is not available here: ${m.detail}. You can still train on the CPU reference backend, which is much slower.`, 'warn', true);
      ui.adapter.textContent = 'No WebGPU adapter.';
      return finish();
    case 'resumed':
      state.resumed = { step: m.step, hash: m.hash };
      state.step = m.step;
      status(`resumed at step ${m.step}`);
      return;
    case 'loss': {
      state.losses.push({ step: m.step, value: m.loss });
      state.step = m.step; state.samplesPerSec = m.samplesPerSec;
      ui.lossValue.textContent = m.loss.toFixed(3); ui.step.textContent = String(m.step); ui.rate.textContent = m.samplesPerSec.toFixed(0);
      return redrawCharts();
    }
    case 'accuracy':
      state.accuracies.push({ step: m.step, value: m.accuracy });
      state.metric = m.metric;
      ui.accLabel.textContent = m.metric === 'r2' ? 'held-out R²' : 'held-out accuracy';
      ui.accValue.textContent = m.metric === 'r2' ? m.accuracy.toFixed(3) : `${(m.accuracy * 100).toFixed(1)}%`;
      return redrawCharts();
    case 'saved':
      state.saves.push({ step: m.step, hash: m.hash });
      ui.saved.textContent = `step ${m.step} (${(m.bytes / 1024).toFixed(0)} KiB, kept in this browser)`;
      ui.download.disabled = false;
      showCli(m.step);
      return;
    case 'done':
      state.step = m.step; ui.step.textContent = String(m.step);
      state.phase = m.stopped ? 'stopped' : 'done';
      status(`${state.phase} after ${m.step} steps`);
      finish();
      ui.check.disabled = state.backend !== 'webgpu';
      send({ type: 'weights' });
      void predict();
      return;
    case 'check':
      state.check = { ok: m.ok, layers: m.layers, summary: m.summary };
      ui.checkSummary.textContent = `${m.gpu} vs the CPU reference, one step on a training batch: ${m.summary}`;
      ui.checkBody.replaceChildren(...m.layers.map((r) => {
        const tr = document.createElement('tr');
        for (const [text, cls] of [[r.layer], [String(r.values)], [r.maxAbsErr.toExponential(2)], [`${(r.ratio * 100).toFixed(1)}%`], [r.ok ? 'ok' : 'FAIL', r.ok ? 'ok' : 'fail']]) {
          const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.append(td);
        }
        return tr;
      }));
      ui.checkCard.hidden = false; ui.check.disabled = false;
      status('check done');
      return;
    case 'prediction': {
      const probs = m.probs, digit = probs.indexOf(Math.max(...probs));
      state.prediction = { digit, probs };
      ui.prediction.textContent = `${digit} (${(probs[digit] * 100).toFixed(0)}%)`;
      return drawProbs(probs);
    }
    case 'weights': {
      const values = m.values.reduce((a, v) => a + v.length, 0);
      state.weights = { step: m.step, tensors: m.names.length, values, hash: m.hash };
      ui.saved.title = `the model now: ${m.names.length} tensors, ${values.toLocaleString('en')} values at step ${m.step} (hash ${m.hash} with the optimizer's state)`;
      return;
    }
    case 'error':
      state.phase = 'error';
      state.error = m.message;
      if (m.limit) notice(`This WebGPU device lacks a limit the kernels need: ${m.limit.limit} is ${m.limit.available} here, and ${m.limit.needed} is needed. ${m.message}`, 'error', true);
      else notice(m.message, 'error', state.backend === 'webgpu');
      status('failed');
      return finish();
  }
}
function finish() {
  frames.watch = false; frames.tasksUntil = performance.now();
  ui.stop.disabled = true;
  updateStart();
}

/** The `wgtrain train` command that continues the saved run (the flags are the ones the checkpoint records). */
function showCli(step: number) {
  const s = lastStart?.type === 'start' ? lastStart.spec : undefined;
  if (!s || s.data.kind !== 'mnist') { state.cli = ''; ui.cli.textContent = s ? 'The CLI continues MNIST runs; this one trained on your data (its checkpoint still loads in predict with a CSV or images of its own).' : ''; return; }
  // A run on a constant (or other epoch-free) schedule goes on for an epoch past the one under way.
  const f = s.flags, perEpoch = Math.ceil(f.limit * (1 - (f['val-split'] ?? 0)) / f['batch-size']);
  state.cli = `npx wgtrain train --resume run.safetensors ${cliArgs(f, Math.floor(step / perEpoch) + 2).join(' ')}`;
  ui.cli.innerHTML = '';
  ui.cli.append('Continue it from the command line: ', Object.assign(document.createElement('code'), { textContent: state.cli }),
    ...(s.model.name === 'model.json' ? [' (with the model JSON above saved as model.json)'] : []));
}

// ---- runs ----
const copy = (d: Dataset): Dataset => ({ ...d, x: d.x.slice(), y: d.y.slice(), featureShape: [...d.featureShape] });
function redrawCharts() {
  drawChart(ui.lossChart, state.losses, { color: '#2f6fdf', yMin: 0, label: 'cross-entropy' });
  if (state.metric === 'r2') drawChart(ui.accChart, state.accuracies, { color: '#1c7c3a', yMin: Math.min(0, ...state.accuracies.map((p) => p.value)), yMax: 1, label: 'R²' });
  else drawChart(ui.accChart, state.accuracies, { color: '#1c7c3a', yMin: 0, yMax: 1, label: 'accuracy', percent: true });
}

async function start(resume?: { bytes: Uint8Array; spec: RunSpec }) {
  if (!model && !resume) return;
  if (imageFiles && !resume) {
    status('reading images…');
    try { setData(await imageData(imageFiles, model!.config.input, dataParams.seed)); } catch (e) { notice((e as Error).message, 'error', false); state.error = (e as Error).message; state.phase = 'error'; return; }
  }
  if (!data) return;
  const spec: RunSpec = resume?.spec ?? {
    model: model!, data: { kind: data.kind, name: data.name, classes: data.classes, regression: data.regression },
    flags: pageFlags(model!.name, data.train.n, Math.max(1, Math.floor(Number(ui.batch.value))), Number(ui.lr.value), dataParams.seed, !!data.regression),
    untilStep: Math.max(1, Math.floor(Number(ui.steps.value))), logEvery: int('log', 10), evalEvery: int('eval', 100), saveEvery: int('save', 50), backend: backendChoice,
  };
  const sizes = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (sizes(spec.model.config.input) !== sizes(data.train.featureShape)) {
    return modelError(`model ${spec.model.name} takes examples of shape [${spec.model.config.input.join(', ')}], but the data's are [${data.train.featureShape.join(', ')}]; set "input" in the model JSON to match`);
  }
  Object.assign(state, { phase: 'training', losses: [], accuracies: [], error: '', check: undefined, prediction: undefined, resumed: undefined, weights: undefined, frames: { maxGapMs: 0, count: 0, long: [], longestTaskMs: 0, tasks: [] } });
  ui.start.disabled = true; ui.stop.disabled = false; ui.check.disabled = true; ui.resumeCard.hidden = true;
  redrawCharts();
  // A new run replaces the saved one; the user's own data is kept beside its checkpoint, so a reload needs no file.
  if (!resume) {
    const d = data;
    await forgetRun();
    if (d.kind !== 'mnist') await saveRun(encodePageData(d), DATA_FILE);
  }
  status(`training ${spec.model.name} on ${data.name} to step ${spec.untilStep} in batches of ${spec.flags['batch-size']}`);
  sendStart(spec, resume?.bytes, gpuParam === 'none' || gpuParam === 'main');
}
function sendStart(spec: RunSpec, resume: Uint8Array | undefined, hideGpu: boolean) {
  // The session gets its own copy of the data (transferred); this page keeps `data` for the next run.
  const train = copy(data!.train), test = copy(data!.test);
  lastStart = { type: 'start', spec, train, test, resume, hideGpu, device };
  watchTasks();
  frames.watch = true; frames.last = 0;
  send(lastStart, datasetTransfer(train, test));
}

// ---- checkpoints: the saved run, a download, an upload ----
interface PageMeta { data?: RunSpec['data']; untilStep?: number }
/** The run a checkpoint describes, as this page would start it; a clear error when the page cannot continue it. */
function specOf(meta: CheckpointMeta, source: string, extraSteps: number): RunSpec {
  const m = meta.model as { name?: string; config?: ModelConfig; page?: PageMeta };
  const fail = (why: string): never => { throw new Error(`${source}: ${why}`); };
  if (!m.config) fail(`it records no model config (a model named in code); save it from a run with --model mlp, cnn or a JSON file`);
  // The optimizer, schedule and the rest are the run's own flags, which the session builds as the CLI does.
  const flags = runFlagsOf(meta, source);
  if (flags.digits && !m.page?.data) fail(`it trained on MNIST's digits ${flags.digits} only (--digits); continue it with wgtrain train --resume`);
  if (!m.page?.data && (meta.model as { csv?: unknown }).csv) fail('it trained on a CSV table in the CLI; this page continues CLI runs on MNIST');
  return {
    model: { name: m.name ?? 'model.json', config: m.config! }, data: m.page?.data ?? { kind: 'mnist', name: 'mnist' },
    flags,
    untilStep: m.page?.untilStep && m.page.untilStep > meta.step ? m.page.untilStep : meta.step + extraSteps,
    logEvery: int('log', 10), evalEvery: int('eval', 100), saveEvery: int('save', 50), backend: backendChoice,
  };
}
async function continueRun(bytes: Uint8Array, source: string, extraSteps: number) {
  try {
    const { meta } = decodeCheckpoint(bytes, source);
    const spec = specOf(meta, source, extraSteps);
    const limit = spec.flags.limit;
    if (spec.data.kind === 'mnist' && (data?.kind !== 'mnist' || data.train.n !== limit)) {
      status(`loading the run's ${limit} MNIST images…`);
      setData(await loadMnist(limit, dataParams.testN));
    }
    if (spec.data.kind !== 'mnist' && !(data?.kind === spec.data.kind && data.name === spec.data.name && data.train.n === spec.flags.limit)) {
      // The run's own rows, kept in OPFS when it started; else the user opens the same data again.
      const kept = await loadRun(DATA_FILE), d = kept && decodePageData(kept, 'the saved run\'s data');
      if (!d || d.kind !== spec.data.kind || d.name !== spec.data.name || d.train.n !== spec.flags.limit) throw new Error(`${source}: it trained on ${spec.data.kind === 'csv' ? 'the table' : 'the images in'} ${spec.data.name}, which this browser no longer keeps: open it first`);
      imageFiles = csvText = undefined;
      setData(d);
    }
    setModel(spec.model.name, spec.model.config);
    await start({ bytes, spec });
  } catch (e) {
    state.phase = 'error'; state.error = (e as Error).message;
    notice((e as Error).message, 'error', false);
  }
}
async function offerSaved() {
  const bytes = await loadRun();
  if (!bytes) return;
  try {
    const { meta } = decodeCheckpoint(bytes, 'the saved run');
    const m = meta.model as { name?: string; page?: PageMeta };
    state.offer = { step: meta.step, hash: checkpointHash(bytes), source: m.page?.data?.name ?? 'mnist' };
    ui.resumeText.textContent = `A run of ${m.name} on ${state.offer.source} was saved at step ${meta.step}${m.page?.untilStep ? ` of ${m.page.untilStep}` : ''}.`;
    ui.resumeCard.hidden = false;
    ui.resume.onclick = () => void continueRun(bytes, 'the saved run', 0);
    ui.download.disabled = false;
    ui.saved.textContent = `step ${meta.step} (kept in this browser)`;
  } catch (e) {
    ui.resumeText.textContent = `The saved run cannot be read: ${(e as Error).message}`;
    ui.resumeCard.hidden = false;
  }
}
ui.forget.onclick = async () => { await forgetRun(); ui.resumeCard.hidden = true; state.offer = undefined; ui.download.disabled = true; ui.saved.textContent = 'none'; };
ui.download.onclick = async () => {
  const bytes = await loadRun();
  if (!bytes) return;
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>])), download: 'run.safetensors' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
};
ui.upload.onchange = async () => {
  const f = ui.upload.files?.[0];
  if (f) await continueRun(new Uint8Array(await f.arrayBuffer()), f.name, Math.max(1, Math.floor(Number(ui.steps.value))));
};

// ---- the drawing pad ----
const pad = new DrawPad(ui.pad, () => void predict());
async function predict() {
  const img = pad.mnistImage();
  const s = lastStart?.type === 'start' ? lastStart.spec : undefined;
  if (!img || !s || s.data.kind !== 'mnist' || !['done', 'stopped'].includes(state.phase)) { state.prediction = undefined; ui.prediction.textContent = '–'; drawProbs([]); return; }
  normalize(img, MNIST_MEAN, MNIST_STD);
  send({ type: 'predict', x: img, n: 1 });
}
function drawProbs(probs: number[]) {
  const c = ui.probs, g = c.getContext('2d')!, w = c.width / 10;
  g.clearRect(0, 0, c.width, c.height);
  g.font = '11px system-ui'; g.textAlign = 'center';
  for (let d = 0; d < 10; d++) {
    const h = (probs[d] ?? 0) * (c.height - 16);
    g.fillStyle = d === probs.indexOf(Math.max(...probs)) ? '#2f6fdf' : '#9aa7bd';
    g.fillRect(d * w + 2, c.height - 14 - h, w - 4, h);
    g.fillStyle = '#1d2330'; g.fillText(String(d), d * w + w / 2, c.height - 2);
  }
}

// ---- the page keeps drawing: a turning mark every frame, and the longest gap between frames while a run trains ----
// Frame gaps count from the first frame after the start message, through the compilation of the run's pipelines:
// fit compiles them with createComputePipelineAsync before its first step (trainer.prepareAsync), off the GPU
// process's main thread, where a synchronous compilation on SwiftShader held Chromium's frames for seconds.
const frames = { watch: false, last: 0, tasksFrom: Infinity, tasksUntil: Infinity };
/** Count the page's long tasks from now until the run ends (finish), those that began before excluded. */
function watchTasks() { if (!(frames.tasksUntil === Infinity && frames.tasksFrom < Infinity)) { frames.tasksFrom = performance.now(); frames.tasksUntil = Infinity; } }
function frame(t: number) {
  if (frames.watch && frames.last) {
    state.frames.maxGapMs = Math.max(state.frames.maxGapMs, t - frames.last);
    state.frames.count++;
    if (t - frames.last > 50) state.frames.long.push({ at: Math.round(t), gapMs: Math.round(t - frames.last), step: state.step });
  }
  frames.last = t;
  const g = ui.pulse.getContext('2d')!, a = t / 300;
  g.clearRect(0, 0, 16, 16);
  g.strokeStyle = '#2f6fdf'; g.lineWidth = 2;
  g.beginPath(); g.moveTo(8, 8); g.lineTo(8 + 7 * Math.cos(a), 8 + 7 * Math.sin(a)); g.stroke();
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
// The page's own thread: its longest task (Long Tasks API, tasks over 50 ms) from the session's first answer on,
// while the step compiles too.
new PerformanceObserver((list) => {
  // Entries arrive after their task ends: the window is by each task's start, so the task that began the run (reading
  // and copying the data before the start message) does not count.
  for (const e of list.getEntries()) {
    if (e.startTime < frames.tasksFrom || e.startTime > frames.tasksUntil) continue;
    state.frames.longestTaskMs = Math.max(state.frames.longestTaskMs, e.duration);
    state.frames.tasks.push({ at: Math.round(e.startTime), ms: Math.round(e.duration), step: state.step });
  }
}).observe({ type: 'longtask' });

// ---- wiring ----
ui.start.onclick = () => void start();
ui.stop.onclick = () => send({ type: 'stop' });
ui.check.onclick = () => { ui.check.disabled = true; status('checking one step against the CPU reference…'); send({ type: 'check' }); };
ui.clear.onclick = () => { pad.clear(); void predict(); };
ui.useCpu.onclick = () => {
  ui.notice.style.display = 'none';
  backendChoice = 'cpu';
  openPort(useWorker); // a fresh session: the CPU backend runs in the worker as well
  if (lastStart?.type === 'start') { const { spec, resume } = lastStart; state.phase = 'ready'; void start(resume ? { bytes: resume, spec: { ...spec, backend: 'cpu' } } : undefined); }
};

const textTab = setupTextTab({ params, device, hideGpu: gpuParam === 'none' || gpuParam === 'main' ? gpuParam : undefined, useWorker });

async function main() {
  redrawCharts();
  drawProbs([]);
  ui.steps.value = String(int('steps', 500));
  ui.batch.value = String(int('batch', 32));
  ui.lr.value = String(num('lr', 0.03));
  const named = params.get('model');
  if (hidden?.length) setModel('model.json', hiddenConfig(hidden));
  else setModel(named && MODEL_CONFIGS[named] ? named : 'mlp', MODEL_CONFIGS[named && MODEL_CONFIGS[named] ? named : 'mlp']);
  status('loading MNIST…');
  setData(await loadMnist(dataParams.trainN, dataParams.testN));
  status(`${data!.train.n} training and ${data!.test.n} held-out images loaded`);
  await offerSaved();
  state.phase = 'ready';
  updateStart();
  if (params.get('autostart') === '1') await start();
  if (params.get('tautostart') === '1') {
    await new Promise<void>((done) => { const wait = () => (['ready', 'error'].includes(textTab.phase) ? done() : setTimeout(wait, 50)); wait(); });
    document.getElementById('text-start')!.click();
  }
}
main().catch((e) => { state.phase = 'error'; state.error = (e as Error).message; notice(state.error, 'error', false); });
