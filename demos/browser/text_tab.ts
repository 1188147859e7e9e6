// The text tab: a character-level GPT trained in a worker (the session's 'start-text') on the default corpus, a slice
// of which the demo server hands out, or on a text file the user opens; the loss curve and samples stream in as it
// learns. The run saves a checkpoint in OPFS as it goes, with its text beside it, so a reload offers to resume it;
// the checkpoint downloads as the `.safetensors` that `wgtrain generate --weights` reads. window.wgtrainText mirrors
// what the tab shows, for the end-to-end test.
import { decodeCheckpoint, type DeviceOptions } from '../../src/index.js';
import { loadRun, saveRun, forgetRun, TEXT_FILE, TEXT_DATA } from './opfs.js';
import { checkpointHash } from './session.js';
import { drawChart } from './chart.js';
import { openTrainer } from './local.js';
import type { FromTrainer, TextSpec, TrainerPort } from './protocol.js';

interface Point { step: number; value: number }

export function setupTextTab(o: { params: URLSearchParams; device: DeviceOptions; hideGpu: 'none' | 'main' | undefined; useWorker: boolean }) {
  const state = {
    phase: 'idle' as 'idle' | 'loading' | 'ready' | 'training' | 'done' | 'stopped' | 'error',
    thread: '' as '' | 'worker' | 'page',
    backend: '',
    corpus: { name: '', chars: 0 },
    model: undefined as undefined | { vocab: number; parameters: number; trainChars: number; heldOutChars: number; unigram: number },
    losses: [] as Point[],
    samples: [] as { step: number; text: string }[],
    valLoss: NaN,
    /** Checkpoints written during this page's life, the one a reload found, and the step and hash a resumed run started from. */
    saves: [] as { step: number; hash: string }[],
    offer: undefined as undefined | { step: number; hash: string },
    resumed: undefined as undefined | { step: number; hash: string },
    error: '',
  };
  (globalThis as unknown as { wgtrainText: typeof state }).wgtrainText = state;
  const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  const ui = {
    imagesButton: $('tab-images-button'), textButton: $('tab-text-button'), images: $('tab-images'), text: $('tab-text'),
    info: $('text-info'), chars: $<HTMLInputElement>('text-chars'), useDefault: $<HTMLButtonElement>('text-default'), file: $<HTMLInputElement>('text-file'),
    start: $<HTMLButtonElement>('text-start'), stop: $<HTMLButtonElement>('text-stop'), status: $('text-status'),
    loss: $('text-loss'), rate: $('text-rate'), chart: $<HTMLCanvasElement>('text-chart'), samples: $('text-samples'), prompt: $<HTMLInputElement>('text-prompt'),
    saved: $('text-saved'), download: $<HTMLButtonElement>('text-download'),
    resumeCard: $('text-resume-card'), resumeText: $('text-resume-text'), resume: $<HTMLButtonElement>('text-resume'), forget: $<HTMLButtonElement>('text-forget'),
  };
  const field = (id: string, key: string, d: number) => { const el = $<HTMLInputElement>(id); el.value = String(Number(o.params.get(key)) > 0 ? Number(o.params.get(key)) : d); return () => Number(el.value); };
  const context = field('text-context', 'context', 64), dim = field('text-dim', 'dim', 128), heads = field('text-heads', 'heads', 4), layers = field('text-layers', 'layers', 3);
  const steps = field('text-steps', 'tsteps', 600), batch = field('text-batch', 'tbatch', 16), lr = field('text-lr', 'tlr', 0.003);
  ui.chars.value = String(Number(o.params.get('chars')) > 0 ? Number(o.params.get('chars')) : 200_000);
  ui.prompt.value = o.params.get('prompt') ?? 'The ';
  const sampleEvery = Number(o.params.get('sample')) > 0 ? Number(o.params.get('sample')) : 100;
  const saveEvery = Number(o.params.get('tsave')) > 0 ? Number(o.params.get('tsave')) : 100;

  const show = (tab: 'images' | 'text') => {
    ui.images.hidden = tab !== 'images'; ui.text.hidden = tab !== 'text';
    ui.imagesButton.classList.toggle('on', tab === 'images'); ui.textButton.classList.toggle('on', tab === 'text');
    if (tab === 'text' && state.phase === 'idle') void useDefault();
  };
  ui.imagesButton.onclick = () => show('images');
  ui.textButton.onclick = () => show('text');

  let text = '';
  const setText = (t: string, name: string) => {
    text = t;
    state.corpus = { name, chars: t.length };
    ui.info.textContent = `${name}: ${t.length.toLocaleString('en')} characters`;
    if (!['training'].includes(state.phase)) state.phase = 'ready';
    ui.start.disabled = state.phase === 'training';
  };
  const fail = (message: string) => { state.phase = 'error'; state.error = message; ui.status.textContent = message; ui.start.disabled = !text; ui.stop.disabled = true; };
  async function useDefault() {
    state.phase = 'loading';
    ui.status.textContent = 'loading the default corpus…';
    const r = await fetch(`corpus.txt?chars=${Math.floor(Number(ui.chars.value))}`);
    if (!r.ok) return fail(`corpus.txt: ${await r.text()}`);
    setText(await r.text(), "Debian's fortunes");
    ui.status.textContent = '';
  }
  ui.useDefault.onclick = () => void useDefault();
  ui.file.onchange = async () => { const f = ui.file.files?.[0]; if (f) setText(await f.text(), f.name); };

  let port: TrainerPort | undefined, last: { spec: TextSpec; text: string } | undefined;
  const open = (inWorker: boolean) => {
    port?.terminate();
    port = openTrainer(inWorker);
    state.thread = inWorker ? 'worker' : 'page';
    port.onmessage = (e) => onMessage(e.data);
    return port;
  };
  let resumeBytes: Uint8Array | undefined;
  const send = (spec: TextSpec, hideGpu: boolean) => { last = { spec, text }; port!.postMessage({ type: 'start-text', spec, text, resume: resumeBytes, hideGpu, device: o.device }); };
  const redraw = () => drawChart(ui.chart, state.losses, { color: '#2f6fdf', yMin: 0, label: 'nats per character' });

  function onMessage(m: FromTrainer) {
    switch (m.type) {
      case 'backend':
        state.backend = m.backend;
        document.getElementById('adapter')!.textContent = `Backend: ${m.backend === 'cpu' ? 'CPU' : 'WebGPU'} ${m.inWorker ? 'in a Web Worker' : "on the page's thread"}, ${m.adapter}.`;
        return;
      case 'no-webgpu':
        if (m.inWorker && last && last.spec.backend === 'webgpu') { open(false); return send(last.spec, o.hideGpu === 'none'); }
        return fail(`WebGPU is not available here: ${m.detail}`);
      case 'text-model':
        state.model = { vocab: m.vocab, parameters: m.parameters, trainChars: m.trainChars, heldOutChars: m.heldOutChars, unigram: m.unigram };
        ui.status.textContent = `a GPT of ${m.parameters.toLocaleString('en')} parameters over ${m.vocab} characters; ${m.trainChars.toLocaleString('en')} to train on, ${m.heldOutChars.toLocaleString('en')} held out (a unigram model scores ${m.unigram.toFixed(2)} nats)`;
        return;
      case 'loss':
        state.losses.push({ step: m.step, value: m.loss });
        ui.loss.textContent = m.loss.toFixed(3);
        ui.rate.textContent = `step ${m.step}, ${Math.round(m.samplesPerSec).toLocaleString('en')} characters/s`;
        return redraw();
      case 'sample': {
        state.samples.push({ step: m.step, text: m.text });
        const pre = document.createElement('pre');
        pre.textContent = `step ${m.step}: ${m.text}`;
        ui.samples.prepend(pre);
        return;
      }
      case 'text-done':
        state.phase = m.stopped ? 'stopped' : 'done';
        state.valLoss = m.valLoss;
        ui.status.textContent = `${state.phase} after ${m.step} steps; held-out loss ${m.valLoss.toFixed(3)} nats per character${state.model ? ` (unigram ${state.model.unigram.toFixed(3)})` : ''}`;
        ui.start.disabled = false; ui.stop.disabled = true;
        return;
      case 'resumed':
        state.resumed = { step: m.step, hash: m.hash };
        ui.status.textContent = `resumed at step ${m.step}`;
        return;
      case 'saved':
        state.saves.push({ step: m.step, hash: m.hash });
        ui.saved.textContent = `step ${m.step} (${(m.bytes / 1024).toFixed(0)} KiB, kept in this browser)`;
        ui.download.disabled = false;
        return;
      case 'error': return fail(m.message);
      default: return;
    }
  }

  /** Train `spec` on the current text; `resume`: the saved run's checkpoint to continue from. */
  async function run(spec: TextSpec, resume?: Uint8Array) {
    Object.assign(state, { phase: 'training', losses: [], samples: [], valLoss: NaN, error: '', model: undefined, resumed: undefined });
    ui.samples.replaceChildren(); redraw();
    ui.start.disabled = true; ui.stop.disabled = false; ui.resumeCard.hidden = true;
    ui.status.textContent = 'compiling the step…';
    // A new run replaces the saved one; its text goes beside its checkpoint, so a reload needs neither server nor file.
    if (!resume) { await forgetRun(TEXT_FILE); await saveRun(new TextEncoder().encode(text), TEXT_DATA); }
    resumeBytes = resume;
    open(o.useWorker);
    send(spec, o.hideGpu !== undefined);
  }

  ui.start.onclick = () => {
    const spec: TextSpec = {
      context: context(), dim: dim(), heads: heads(), layers: layers(), batchSize: batch(), steps: steps(), lr: lr(), warmup: Math.min(50, Math.floor(steps() / 10)), seed: 1,
      logEvery: 10, sampleEvery, sampleTokens: 120, prompt: ui.prompt.value || 'The ', saveEvery, backend: 'webgpu',
    };
    void run(spec);
  };

  /** A run saved before this page loaded: offer to resume it with its own spec and text. */
  async function offerSaved() {
    const bytes = await loadRun(TEXT_FILE), saved = await loadRun(TEXT_DATA);
    if (!bytes) return;
    ui.download.disabled = false;
    try {
      const { meta } = decodeCheckpoint(bytes, 'the saved text run');
      const page = (meta.model as { page?: { spec: TextSpec; corpus: { chars: number } } }).page;
      ui.saved.textContent = `step ${meta.step} (kept in this browser)`;
      if (!page || !saved) return;
      state.offer = { step: meta.step, hash: checkpointHash(bytes) };
      ui.resumeText.textContent = `A GPT run on ${page.corpus.chars.toLocaleString('en')} characters was saved at step ${meta.step} of ${page.spec.steps}.`;
      ui.resumeCard.hidden = false;
      ui.resume.onclick = () => {
        setText(new TextDecoder().decode(saved), 'the saved run\'s text');
        void run(page.spec, bytes);
      };
    } catch (e) {
      ui.resumeText.textContent = `The saved text run cannot be read: ${(e as Error).message}`;
      ui.resumeCard.hidden = false;
    }
  }
  ui.forget.onclick = async () => { await forgetRun(TEXT_FILE, TEXT_DATA); ui.resumeCard.hidden = true; state.offer = undefined; ui.download.disabled = true; ui.saved.textContent = 'none'; };
  ui.download.onclick = async () => {
    const bytes = await loadRun(TEXT_FILE);
    if (!bytes) return;
    const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>])), download: 'gpt.safetensors' });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  void offerSaved().catch((e) => fail((e as Error).message));
  ui.stop.onclick = () => port?.postMessage({ type: 'stop' });
  redraw();
  if (o.params.get('tab') === 'text') show('text');
  return state;
}
