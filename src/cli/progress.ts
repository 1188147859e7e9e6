// What `wgtrain train` shows and records while it trains, as a callback of fit's loop: a progress bar per epoch on a
// terminal (one line per epoch otherwise, so logs and pipes stay readable), `--metrics FILE.jsonl` with one JSON line
// per logged step and epoch, and `--plot FILE.svg` with the loss and accuracy curves (R² for a regression).
import { appendFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { plotSvg, Chart } from '../util/plot_svg.js';
import type { Callback, FitContext, Logs, LossRead } from '../train/fit.js';

export interface StepRecord { type: 'step'; epoch: number; step: number; samples: number; loss: number; lr?: number; seconds: number }
export interface EpochRecord {
  type: 'epoch'; epoch: number; step: number; loss: number; samplesPerSec: number; seconds: number;
  /** Accuracy on the training batches whose loss was read back (NaN when none were). */
  trainAccuracy?: number;
  /** Accuracy on the held-out set after this epoch. */
  accuracy?: number;
  /** With --val-split: the validation rows' loss and accuracy after this epoch. */
  valLoss?: number;
  valAccuracy?: number;
  /** The learning rate of the epoch's last step. */
  lr?: number;
  /** Regression: the held-out rows' RMSE, MAE and R² after this epoch (RMSE and MAE in the target's units). */
  rmse?: number; mae?: number; r2?: number;
  /** Regression with --val-split: the validation rows' RMSE, MAE and R². */
  valRmse?: number; valMae?: number; valR2?: number;
}

export interface ReporterOptions {
  epochs: number;
  samplesPerEpoch: number;
  /** Draw a progress bar (a terminal); otherwise print one line per epoch. */
  tty: boolean;
  metricsPath?: string;
  plotPath?: string;
  /** What the accuracy is measured on, for the plot ("test", "validation"). */
  accuracyLabel?: string;
  /** The loss's name on the plot [softmax cross-entropy]. */
  lossLabel?: string;
  /** Report RMSE, MAE and R² instead of accuracies. */
  regression?: boolean;
}

/** `run.jsonl` -> `run.svg`: the plot goes next to the metrics unless --plot says otherwise. */
export const plotPathFor = (metricsPath: string) => metricsPath.replace(/(\.jsonl?|\.ndjson)?$/, '.svg');

export class TrainReporter implements Callback {
  readonly steps: StepRecord[] = [];
  readonly epochs: EpochRecord[] = [];
  private bar?: cliProgress.SingleBar;
  private t0 = performance.now();
  private epochStart = 0;
  private done = 0;

  // fit's callbacks, in terms of the methods below.
  onEpochBegin(epoch: number): void {
    this.done = 0;
    this.startEpoch(epoch, this.epochs.at(-1)?.trainAccuracy);
  }

  onBatchEnd(_batch: number, size: number): void { this.progress((this.done += size)); }

  onLoss(r: LossRead, ctx: FitContext): void {
    // The rate step r.step ran with: the schedule of the step before it, counted from 0.
    this.step(r.epoch, r.step, r.samples, r.loss, ctx.trainer.schedule?.(r.step - 1) ?? ctx.trainer.optimizer.lr);
  }

  onEpochEnd(epoch: number, logs: Logs, ctx: FitContext): void {
    this.endEpoch({
      epoch: epoch + 1, step: ctx.trainer.step, loss: logs.loss, trainAccuracy: logs.accuracy, samplesPerSec: logs.samplesPerSec, seconds: logs.seconds,
      accuracy: logs.test_accuracy, valLoss: logs.val_loss, valAccuracy: logs.val_accuracy, lr: logs.lr,
      rmse: logs.test_rmse, mae: logs.test_mae, r2: logs.test_r2, valRmse: logs.val_rmse, valMae: logs.val_mae, valR2: logs.val_r2,
    });
  }

  constructor(private o: ReporterOptions) {
    // Truncate now: a run that dies halfway leaves the lines it got to, not a previous run's.
    if (o.metricsPath) writeFileSync(o.metricsPath, '');
  }

  private record(r: StepRecord | EpochRecord): void {
    if (this.o.metricsPath) appendFileSync(this.o.metricsPath, JSON.stringify(r) + '\n');
  }

  /** `lastAccuracy`: the previous epoch's training accuracy, shown until this epoch's is known. */
  startEpoch(epoch: number, lastAccuracy?: number): void {
    this.epochStart = performance.now();
    if (!this.o.tty) return;
    this.bar = new cliProgress.SingleBar({
      format: `epoch ${epoch + 1}/${this.o.epochs} {bar} {percentage}% | loss {loss} | acc {acc} | {speed} samples/s | ETA {eta_formatted}`,
      barCompleteChar: '█', barIncompleteChar: '░', barsize: 24, hideCursor: true, stream: process.stdout, etaBuffer: 50, fps: 5,
    });
    this.bar.start(this.o.samplesPerEpoch, 0, { loss: '-', acc: lastAccuracy === undefined ? '-' : pct(lastAccuracy), speed: '-' });
  }

  /** After each batch: cheap, the bar redraws at most 5 times a second. */
  progress(done: number): void {
    if (!this.bar) return;
    const s = (performance.now() - this.epochStart) / 1000;
    this.bar.update(done, { speed: s > 0 ? (done / s).toFixed(0) : '-' });
  }

  /** A loss read back from the device (every logEvery steps). */
  step(epoch: number, step: number, samples: number, loss: number, lr?: number): void {
    const r: StepRecord = { type: 'step', epoch: epoch + 1, step, samples, loss, lr, seconds: (performance.now() - this.t0) / 1000 };
    this.steps.push(r);
    this.record(r);
    this.bar?.update({ loss: loss.toFixed(4) });
  }

  endEpoch(r: Omit<EpochRecord, 'type'>): void {
    const rec: EpochRecord = { type: 'epoch', ...r, trainAccuracy: Number.isFinite(r.trainAccuracy) ? r.trainAccuracy : undefined };
    // Regression has no accuracies (NaN): leave them out of the record rather than write nulls.
    if (this.o.regression) { delete rec.accuracy; delete rec.valAccuracy; }
    this.epochs.push(rec);
    this.record(rec);
    if (this.bar) {
      this.bar.update(this.o.samplesPerEpoch, { loss: r.loss.toFixed(4), acc: rec.trainAccuracy === undefined ? '-' : pct(rec.trainAccuracy), speed: r.samplesPerSec.toFixed(0) });
      this.bar.stop();
      this.bar = undefined;
    }
    const label = this.o.accuracyLabel ?? 'test';
    const scores = (rmse?: number, mae?: number, r2?: number) => `rmse ${num(rmse!)} mae ${num(mae!)} r2 ${r2!.toFixed(4)}`;
    const held = this.o.regression
      ? (r.r2 === undefined ? '' : `  ${label} ${scores(r.rmse, r.mae, r.r2)}`)
      : (r.accuracy === undefined ? '' : `  ${label} accuracy ${pct(r.accuracy)}`);
    const acc = (rec.trainAccuracy === undefined ? '' : `  train accuracy ${pct(rec.trainAccuracy)}`)
      + (r.valLoss === undefined ? '' : `  validation loss ${r.valLoss.toFixed(4)} ${this.o.regression ? scores(r.valRmse, r.valMae, r.valR2) : `accuracy ${pct(r.valAccuracy!)}`}`)
      + held;
    if (!this.o.tty) console.log(`epoch ${r.epoch}/${this.o.epochs}  loss ${r.loss.toFixed(4)}${acc}  ${r.samplesPerSec.toFixed(0)} samples/s  ${r.seconds.toFixed(1)} s`);
    else if (held) console.log(`after epoch ${r.epoch}:${held}`);
  }

  /** Stops a bar left running by an error, so the shell's cursor and line come back. */
  abort(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  /** The loss and accuracy curves; written when --plot or --metrics asked for it. Returns the path written. */
  async writePlot(): Promise<string | undefined> {
    const path = this.o.plotPath ?? (this.o.metricsPath && plotPathFor(this.o.metricsPath));
    if (!path) return undefined;
    const label = this.o.accuracyLabel ?? 'test';
    const charts: Chart[] = [
      {
        title: 'Training loss', xLabel: 'step', yLabel: this.o.lossLabel ?? 'softmax cross-entropy', yInclude: [0],
        series: [
          { name: 'train (logged steps)', x: this.steps.map((s) => s.step), y: this.steps.map((s) => s.loss) },
          { name: 'train (epoch mean)', x: this.epochs.map((e) => e.step), y: this.epochs.map((e) => e.loss) },
          ...(this.epochs.some((e) => e.valLoss !== undefined) ? [{ name: 'validation', x: this.epochs.map((e) => e.step), y: this.epochs.map((e) => e.valLoss ?? NaN) }] : []),
        ],
      },
      this.o.regression ? {
        title: 'R² (coefficient of determination)', xLabel: 'epoch', yLabel: 'R²', yInclude: [1],
        xTicks: this.epochs.length <= 12 ? this.epochs.map((e) => e.epoch) : undefined,
        series: [
          ...(this.epochs.some((e) => e.valR2 !== undefined) ? [{ name: 'validation', x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.valR2 ?? NaN) }] : []),
          { name: label, x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.r2 ?? NaN) },
        ],
      } : {
        title: 'Accuracy', xLabel: 'epoch', yLabel: 'accuracy', yInclude: [1],
        xTicks: this.epochs.length <= 12 ? this.epochs.map((e) => e.epoch) : undefined,
        series: [
          { name: 'train', x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.trainAccuracy ?? NaN) },
          ...(this.epochs.some((e) => e.valAccuracy !== undefined) ? [{ name: 'validation', x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.valAccuracy ?? NaN) }] : []),
          { name: label, x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.accuracy ?? NaN) },
        ],
      },
    ];
    await writeFile(path, plotSvg(charts));
    return path;
  }
}

const pct = (a: number) => `${(a * 100).toFixed(2)}%`;
const num = (v: number) => Number(v.toPrecision(4)).toString();
