// `wgtrain train --save/--resume/--save-every`: when to save, how a resumed run checks that its flags are the ones the
// checkpoint was made with (anything else would not continue the same run), and what a diverged run says about its
// last good checkpoint.
import { ClassifierTrainer, NonFiniteLossError } from '../train/trainer.js';
import { saveCheckpoint, loadCheckpoint, readCheckpoint, CheckpointMeta, RunPosition, NonFiniteCheckpointError } from '../train/checkpoint.js';
import type { ReduceOnPlateau } from '../optim/schedules.js';
import { UsageError } from './args.js';

export interface CheckpointOptions {
  save?: string;
  saveEvery?: number;
  /** Flag values (by flag name) that must be the same for a resumed run to continue this one. */
  flags: Record<string, unknown>;
  model: Record<string, unknown>;
  seed: number;
  schedule: Record<string, unknown>;
  plateau?: ReduceOnPlateau;
}

const annotated = new WeakSet<Error>();

const where = (m: CheckpointMeta) => `${m.batch ? `epoch ${m.epoch + 1}, ${m.batch} batches in` : `after epoch ${m.epoch}`}, step ${m.step}`;

export class RunCheckpoints {
  private last?: CheckpointMeta;
  private resumedFrom?: { file: string; meta: CheckpointMeta };

  constructor(private trainer: ClassifierTrainer, private o: CheckpointOptions) {
    if (o.saveEvery !== undefined && !o.save) throw new UsageError('train: --save-every needs --save FILE');
  }

  /** Load `file` into the trainer; returns where to continue. The first batch's graph is compiled first, as a fresh run would. */
  async resume(file: string, firstBatchSize: number, batchesPerEpoch: number): Promise<RunPosition> {
    const { meta } = await readCheckpoint(file);
    const saved = (meta.run ?? {}) as Record<string, unknown>;
    const differ = [...new Set([...Object.keys(this.o.flags), ...Object.keys(saved)])]
      .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(this.o.flags[k]))
      .map((k) => `--${k} ${saved[k] ?? 'unset'} in the checkpoint but ${this.o.flags[k] ?? 'unset'} here`);
    if (differ.length) throw new UsageError(`train: --resume ${file}: the flags differ from the saved run's: ${differ.join(', ')}`);
    this.trainer.prepare(firstBatchSize);
    await loadCheckpoint(file, this.trainer);
    const plateau = (meta.schedule as { plateau?: ReturnType<ReduceOnPlateau['state']> } | undefined)?.plateau;
    if (this.o.plateau && plateau) this.o.plateau.load(plateau);
    this.resumedFrom = { file, meta };
    console.log(`resumed from ${file} (${where(meta)})`);
    return meta.batch >= batchesPerEpoch ? { epoch: meta.epoch + 1, batch: 0 } : { epoch: meta.epoch, batch: meta.batch };
  }

  async save(pos: RunPosition): Promise<void> {
    if (!this.o.save) return;
    const schedule = this.o.plateau ? { ...this.o.schedule, plateau: this.o.plateau.state() } : this.o.schedule;
    try {
      this.last = await saveCheckpoint(this.o.save, this.trainer, { ...pos, model: this.o.model, seed: this.o.seed, schedule, run: this.o.flags });
    } catch (e) {
      return this.fail(e);
    }
  }

  /** The trainEpoch hook for --save-every, if set. */
  afterStep(epoch: number): ((done: number) => Promise<void>) | undefined {
    const every = this.o.saveEvery;
    return every ? async (done) => { if (this.trainer.step % every === 0) await this.save({ epoch, batch: done }); } : undefined;
  }

  /** Rethrow `e`; a diverged run's error also says which checkpoint it leaves behind. */
  async fail(e: unknown): Promise<never> {
    // A --save-every save that catches the divergence fails the step, whose error then passes here a second time.
    if (!(e instanceof NonFiniteLossError || e instanceof NonFiniteCheckpointError) || !this.o.save || annotated.has(e)) throw e;
    annotated.add(e);
    // Not saved by this run: whatever valid checkpoint the file held before (the one resumed from, or an earlier run's).
    const last = this.last ?? await readCheckpoint(this.o.save).then((c) => c.meta, () => undefined);
    const earlier = !this.last && !(this.resumedFrom && this.resumedFrom.file === this.o.save) ? ', from an earlier run' : '';
    e.message += last ? `; the last good checkpoint is ${this.o.save} (${where(last)}${earlier})` : `; no checkpoint was saved to ${this.o.save}`;
    throw e;
  }
}
