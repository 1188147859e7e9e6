// The dedicated worker the page trains in (built to worker.js beside app.js): the whole session runs here, so the
// page's thread only draws. WebGPU is `navigator.gpu` in the worker; where a browser offers none to workers, the
// session says so ('no-webgpu', inWorker) and the page runs the same session on its own thread (local.ts).
import { TrainingSession } from './session.js';
import type { FromTrainer, ToTrainer } from './protocol.js';

const post = (m: FromTrainer, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
const session = new TrainingSession(post, true);
self.onmessage = (e: MessageEvent<ToTrainer>) => session.handle(e.data);
