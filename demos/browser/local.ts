// The session on the page's own thread, behind the same port a Worker offers: the fallback where workers get no
// WebGPU. Messages cross through the task queue as they would to a worker, so the page's code is the same either way.
import { TrainingSession } from './session.js';
import type { FromTrainer, ToTrainer, TrainerPort } from './protocol.js';

export class LocalTrainer implements TrainerPort {
  onmessage: ((e: MessageEvent<FromTrainer>) => void) | null = null;
  private session = new TrainingSession((m) => setTimeout(() => this.onmessage?.({ data: m } as MessageEvent<FromTrainer>)), false);
  postMessage(m: ToTrainer): void { setTimeout(() => this.session.handle(m)); }
  terminate(): void { this.onmessage = null; }
}

/** A port to a fresh session: a dedicated worker (worker.js, beside the page's script), or one on this thread. */
export function openTrainer(inWorker: boolean): TrainerPort {
  return inWorker ? new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }) : new LocalTrainer();
}
