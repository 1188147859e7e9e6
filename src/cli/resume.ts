// `wgtrain train --save/--resume/--save-every`: when to save (a callback of fit's loop), how a resumed run checks that
// its flags are the ones the checkpoint was made with (anything else would not continue the same run), and what a
// diverged run says about its last good checkpoint.
import { ClassifierTrainer, NonFiniteLossError } from '../train/trainer.js';
import { CheckpointMeta, RunPosition, NonFiniteCheckpointError } from '../train/checkpoint.js';
import { saveCheckpoint, loadCheckpoint, readCheckpoint } from '../train/checkpoint_file.js';
import type { Callback, FitContext } from '../train/fit.js';
import { flagDifferences, type EpochControl } from '../train/run_flags.js';
import { UsageError } from './args.js';

export interface CheckpointOptions {
  save?: string;
  saveEvery?: number;
  /** Flag values (by flag name) that must be the same for a resumed run to continue this one. */
  flags: Record<string, unknown>;
  model: Record<string, unknown>;
  seed: number;
  schedule: Record<string, unknown>;
  /** Plateau and early stopping, whose state a checkpoint carries; with early stopping, FILE is saved only at the end of an epoch that improves on the best: it keeps the best one. */
  control: EpochControl;
}

const annotated = new WeakSet<Error>();

/** A checkpoint's record of GEMM and conv choices (autotune key -> variant), checked. */
function recordedKernels(file: string, k: unknown): Record<string, string> {
  if (typeof k !== 'object' || k === null || Array.isArray(k) || Object.values(k).some((v) => typeof v !== 'string')) {
    throw new UsageError(`train: --resume ${file}: its recorded kernel choices (schedule.kernels) are not an object of strings`);
  }
  return k as Record<string, string>;
}

const where = (m: CheckpointMeta) => `${m.batch ? `epoch ${m.epoch + 1}, ${m.batch} batches in` : `after epoch ${m.epoch}`}, step ${m.step}`;

export class RunCheckpoints implements Callback {
  private last?: CheckpointMeta;
  private resumedFrom?: { file: string; meta: CheckpointMeta };

  constructor(private trainer: ClassifierTrainer, private o: CheckpointOptions) {
    if (o.saveEvery !== undefined && !o.save) throw new UsageError('train: --save-every needs --save FILE');
    // A mid-epoch save is not a best epoch: resumed from it, the run could no longer restore the best weights.
    if (o.saveEvery !== undefined && o.control.earlyStopping) throw new UsageError('train: --save-every does not combine with --early-stopping (with early stopping, --save keeps the best epoch\'s checkpoint)');
  }

  /** Load `file` into the trainer; returns where to continue. The first batch's graph is compiled first, as a fresh run would. */
  async resume(file: string, firstBatchSize: number): Promise<RunPosition> {
    const { meta } = await readCheckpoint(file);
    const saved = (meta.run ?? {}) as Record<string, unknown>;
    const differ = flagDifferences(saved, this.o.flags);
    if (differ.length) throw new UsageError(`train: --resume ${file}: the flags differ from the saved run's: ${differ.join(', ')}`);
    // The kernel choices the run trained with (a variant may sum in another order), whatever is tuned or cached here.
    const kernels = meta.schedule?.kernels;
    if (kernels !== undefined) this.trainer.backend.tuner?.pin(recordedKernels(file, kernels));
    this.trainer.prepare(firstBatchSize);
    await loadCheckpoint(file, this.trainer);
    this.o.control.load(meta);
    this.resumedFrom = { file, meta };
    console.log(`resumed from ${file} (${where(meta)})`);
    return { epoch: meta.epoch, batch: meta.batch };
  }

  async save(pos: RunPosition): Promise<void> {
    if (!this.o.save) return;
    const kernels = this.trainer.backend.tuner?.choices() ?? {};
    const schedule = { ...this.o.schedule, ...this.o.control.state(), ...(Object.keys(kernels).length ? { kernels } : {}) };
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
    const stopper = this.o.control.earlyStopping;
    if (stopper && stopper.bestEpoch !== epoch) return undefined;
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
