// Training a GPT on text: the step (embedding, blocks, sequence cross-entropy, backward, optionally clipped gradients, update) is
// one graph compiled once and replayed; a loss comes back only when the caller reads it. Held-out loss runs a second,
// eval-mode graph over the dataset's tail.
import { input, Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { sequenceCrossEntropy } from '../graph/attention.js';
import { grad } from '../autodiff/grad.js';
import type { Backend, Executable } from '../backends/backend.js';
import { stateUpdates } from '../nn/norm.js';
import type { Gpt } from '../nn/transformer.js';
import type { Optimizer } from '../optim/optimizer.js';
import { clipGradNorm } from '../optim/clip.js';
import type { TextBatch, TextDataset } from '../data/text.js';

interface StepGraph { ex: Executable; ids: Tensor; targets: Tensor; loss: Tensor }
interface EvalGraph { ex: Executable; ids: Tensor; targets: Tensor; rows: Tensor }

export class TextTrainer {
  step = 0;
  private train?: StepGraph;
  private evalG?: EvalGraph;
  /** `clipNorm`: clip the gradients to this global L2 norm before each update (off when undefined). */
  constructor(readonly backend: Backend, readonly model: Gpt, readonly optimizer: Optimizer, readonly batchSize: number, readonly clipNorm?: number) {}

  /** Compile the step now: creates the optimizer state that a checkpoint loads into. */
  prepare(): StepGraph {
    if (!this.train) {
      const p = this.stepParts();
      this.train = { ...p.graph, ex: this.backend.compile([p.graph.loss], p.effects) };
    }
    return this.train;
  }

  /** prepare(), with the backend's compileAsync where it has one: in a browser, no pipeline compilation holds a frame. */
  async prepareAsync(): Promise<StepGraph> {
    if (!this.train && this.backend.compileAsync) {
      const p = this.stepParts(), ex = await this.backend.compileAsync([p.graph.loss], p.effects);
      this.train ??= { ...p.graph, ex };
    }
    return this.prepare();
  }

  private stepParts(): { effects: Tensor[]; graph: Omit<StepGraph, 'ex'> } {
    this.model.train();
    const T = this.model.config.context, B = this.batchSize;
    const ids = input([B, T], 'i32', 'ids'), targets = input([B, T], 'i32', 'targets');
    const loss = sequenceCrossEntropy(this.model.forward(ids), targets);
    const params = this.model.parameters();
    const raw = grad(loss, params.map((p) => p.tensor));
    const grads = this.clipNorm === undefined ? raw : clipGradNorm(raw, this.clipNorm);
    return { effects: [...this.optimizer.updates(params, grads), ...stateUpdates(this.model)], graph: { ids, targets, loss } };
  }

  /** One update at learning rate `lr`; nothing is read back. */
  run(b: TextBatch, lr: number): void {
    const g = this.prepare();
    this.optimizer.lr = lr;
    this.optimizer.beginStep?.(this.step + 1);
    g.ex.run(new Map([[g.ids, b.x], [g.targets, b.y]]));
    this.step++;
  }

  /** The loss of the last step run (a readback: call it only when the value is wanted). */
  async lastLoss(): Promise<number> { const g = this.prepare(); return (await g.ex.read(g.loss))[0]; }

  /** Mean loss per token, in nats, over at most `maxWindows` windows of the held-out tail, in eval mode. */
  async valLoss(ds: TextDataset, maxWindows = 256): Promise<number> {
    if (!this.evalG) {
      this.model.eval();
      const T = this.model.config.context, B = this.batchSize;
      const ids = input([B, T], 'i32', 'ids'), targets = input([B, T], 'i32', 'targets');
      const logits = this.model.forward(ids);
      const rows = ops.softmaxCrossEntropyRows(ops.reshape(logits, [B * T, logits.shape[2]]), ops.reshape(targets, [B * T]));
      this.evalG = { ex: this.backend.compile([rows]), ids, targets, rows };
      this.model.train();
    }
    const g = this.evalG, T = this.model.config.context;
    let sum = 0, n = 0;
    for (const b of ds.valBatches(this.batchSize, maxWindows)) {
      g.ex.run(new Map([[g.ids, b.x], [g.targets, b.y]]));
      const rows = await g.ex.read(g.rows);
      for (let i = 0; i < b.windows * T; i++) sum += rows[i]; // padded windows are not counted
      n += b.windows * T;
    }
    return sum / n;
  }

  dispose(): void { this.train?.ex.dispose(); this.evalG?.ex.dispose(); this.train = this.evalG = undefined; }
}
