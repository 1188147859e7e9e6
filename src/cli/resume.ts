// `wgtrain train --save/--resume/--save-every`: when to save (a callback of fit's loop), how a resumed run checks that
// its flags are the ones the checkpoint was made with (anything else would not continue the same run), and what a
// diverged run says about its last good checkpoint.
import { ClassifierTrainer, NonFiniteLossError } from '../train/trainer.js';
import { CheckpointMeta, RunPosition, NonFiniteCheckpointError } from '../train/checkpoint.js';
import { saveCheckpoint, loadCheckpoint, readCheckpoint } from '../train/checkpoint_file.js';
import type { Callback, FitContext, EarlyStopping, EarlyStoppingState } from '../train/fit.js';
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
  /** With early stopping, FILE is saved only at the end of an epoch that improves on the best: it keeps the best one. */
  earlyStopping?: EarlyStopping;
}

const annotated = new WeakSet<Error>();

/** Training state a checkpoint carries beside the schedule's parameters, so that a resumed run goes on the same way. */
interface SavedControl { plateau?: ReturnType<ReduceOnPlateau['state']>; earlyStopping?: EarlyStoppingState }

const where = (m: CheckpointMeta) => `${m.batch ? `epoch ${m.epoch + 1}, ${m.batch} batches in` : `after epoch ${m.epoch}`}, step ${m.step}`;

export class RunCheckpoints implements Callback {
  private last?: CheckpointMeta;
  private resumedFrom?: { file: string; meta: CheckpointMeta };

  constructor(private trainer: ClassifierTrainer, private o: CheckpointOptions) {
    if (o.saveEvery !== undefined && !o.save) throw new UsageError('train: --save-every needs --save FILE');
    // A mid-epoch save is not a best epoch: resumed from it, the run could no longer restore the best weights.
    if (o.saveEvery !== undefined && o.earlyStopping) throw new UsageError('train: --save-every does not combine with --early-stopping (with early stopping, --save keeps the best epoch\'s checkpoint)');
  }

  /** Load `file` into the trainer; returns where to continue. The first batch's graph is compiled first, as a fresh run would. */
  async resume(file: string, firstBatchSize: number): Promise<RunPosition> {
    const { meta } = await readCheckpoint(file);
    const saved = (meta.run ?? {}) as Record<string, unknown>;
    const differ = [...new Set([...Object.keys(this.o.flags), ...Object.keys(saved)])]
      .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(this.o.flags[k]))
      .map((k) => `--${k} ${saved[k] ?? 'unset'} in the checkpoint but ${this.o.flags[k] ?? 'unset'} here`);
    if (differ.length) throw new UsageError(`train: --resume ${file}: the flags differ from the saved run's: ${differ.join(', ')}`);
    this.trainer.prepare(firstBatchSize);
    await loadCheckpoint(file, this.trainer);
    const control = (meta.schedule ?? {}) as SavedControl;
    if (this.o.plateau && control.plateau) this.o.plateau.load(control.plateau);
    if (this.o.earlyStopping && control.earlyStopping) this.o.earlyStopping.load(control.earlyStopping);
    this.resumedFrom = { file, meta };
    console.log(`resumed from ${file} (${where(meta)})`);
    return { epoch: meta.epoch, batch: meta.batch };
  }

  async save(pos: RunPosition): Promise<void> {
    if (!this.o.save) return;
    const control: SavedControl = { ...(this.o.plateau && { plateau: this.o.plateau.state() }), ...(this.o.earlyStopping && { earlyStopping: this.o.earlyStopping.state() }) };
    const schedule = { ...this.o.schedule, ...control };
    try {
      this.last = await saveCheckpoint(this.o.save, this.trainer, { ...pos, model: this.o.model, seed: this.o.seed, schedule, run: this.o.flags });
    } catch (e) {
      return this.fail(e);
    }
  }

  /** --save-every N: a checkpoint after every N-th step, resuming at the batch after it. */
  onBatchEnd(batch: number, _size: number, ctx: FitContext): Promise<void> | undefined {
    const every = this.o.saveEvery;
    return every && this.trainer.step % every === 0 ? this.save({ epoch: ctx.epoch, batch }) : undefined;
  }

  /** --save: at each epoch's end; with early stopping, only when the epoch is the best so far (it runs after EarlyStopping). */
  onEpochEnd(epoch: number): Promise<void> | undefined {
    if (this.o.earlyStopping && this.o.earlyStopping.bestEpoch !== epoch) return undefined;
    return this.save({ epoch: epoch + 1, batch: 0 });
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
