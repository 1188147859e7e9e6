// `wgtrain tune`, and the --no-autotune flag of the commands that compile: which GEMM variant and conv algorithm each
// node of a model's training step runs, measured on this adapter once per shape class and cached on disk
// (src/schedule/autotune_file.ts), or the hand-written rules with the flag.
import { writeFile } from 'node:fs/promises';
import { WebGpuBackend } from '../backends/index.js';
import { SGD } from '../optim/sgd.js';
import { ClassifierTrainer } from '../train/trainer.js';
import { Rng } from '../util/rng.js';
import { PRECISIONS, type Precision } from '../graph/f16.js';
import { autotuneDefault, setAutotuneStore, type TuneResult } from '../schedule/autotune.js';
import { diskAutotuneStore } from '../schedule/autotune_file.js';
import { parse, choice, intFlag, UsageError, type Flags } from './args.js';
import { resolveModel, MODEL_FLAG_HELP } from './model_arg.js';

/**
 * Whether train, bench, profile and check tune when neither flag nor WGTRAIN_AUTOTUNE says. Off: on lavapipe, the one
 * adapter measured, tuning chose the hand-written rules' kernels for every node of mlp and cnn (so the same steps, at
 * a cost of 1.5-4 s per model), and on a loaded machine a close call between GEMM variants can be recorded the wrong
 * way round (README, "Autotuning").
 */
export const CLI_AUTOTUNE = false;

export const AUTOTUNE_FLAG = { autotune: { type: 'boolean' }, 'no-autotune': { type: 'boolean' } } as const;
export const AUTOTUNE_HELP = `  --autotune          measure the GEMM variant and conv algorithm of each shape class on this adapter first, once
                      (cached in $WGTRAIN_CACHE_DIR, else ~/.cache/wgtrain; see wgtrain tune); WGTRAIN_AUTOTUNE=1
  --no-autotune       the hand-written rules (the default), also over WGTRAIN_AUTOTUNE=1`;

/** Whether a command tunes: --autotune / --no-autotune; else WGTRAIN_AUTOTUNE; else `fallback` (CLI_AUTOTUNE). */
export function autotuneWanted(command: string, f: Flags, fallback = CLI_AUTOTUNE): boolean {
  if (f.autotune === true && f['no-autotune'] === true) throw new UsageError(`${command}: --autotune and --no-autotune contradict each other: give one`);
  if (f['no-autotune'] === true) return false;
  return f.autotune === true || autotuneDefault(fallback);
}

/** The CLI's cache is the disk file. */
export function useDiskCache(): void { setAutotuneStore(diskAutotuneStore()); }

export const TUNE_HELP = `usage: wgtrain tune --model NAME [options]

Measures, on this adapter, the GEMM variant (packed panels, the subgroup kernel's 16/32 x 32/64 tiles; on other
adapters the tiled kernel's tiles) and the conv algorithm (implicit GEMM or im2col, per pass: forward, dx, dw) of each
node of the model's training step whose shape class the cache lacks, and prints a row per pass and shape class:
every candidate's best time, the winner, and the rule's choice. Sizes are classed by the next power of two, so a
batch of 128 and a last batch of 96 share an entry. The cache is ${'$'}WGTRAIN_CACHE_DIR/autotune.json, else
${'$'}XDG_CACHE_HOME/wgtrain/ or ~/.cache/wgtrain/; delete it to measure again.
  --model NAME        ${MODEL_FLAG_HELP}
  --batch-size N      [32]
  --precision P       f32 or f16  [f32]
  --no-autotune       measure nothing: print what the hand-written rules choose
  --json FILE         also write the rows as JSON`;

export async function tune(argv: string[]): Promise<void> {
  const f = parse('tune', argv, { model: { type: 'string' }, 'batch-size': { type: 'string', default: '32' }, precision: { type: 'string', default: 'f32' }, json: { type: 'string' }, 'no-autotune': { type: 'boolean' } });
  if (f.model === undefined) throw new UsageError(`tune: --model is required (${MODEL_FLAG_HELP})`);
  const B = intFlag('tune', 'batch-size', f['batch-size']), precision = choice<Precision>('tune', 'precision', f.precision, PRECISIONS);
  const m = await resolveModel('tune', String(f.model), new Rng(1));
  if (m.outputShape.length !== 1) throw new UsageError(`tune: model ${m.name} outputs [${m.outputShape.join(', ')}] per example; tune takes a classifier's training step`);
  const backend = await WebGpuBackend.create({ autotune: autotuneWanted('tune', f, true) });
  try {
    backend.checkPrecision(precision);
    const t0 = performance.now();
    const rows = await tuneStep(backend, new ClassifierTrainer(backend, m.model, new SGD({ lr: 0.01, momentum: 0.9 }), m.inputShape), B, precision);
    const s = (performance.now() - t0) / 1000;
    console.log(formatTune(rows, `${m.name}, batch ${B}, ${precision}`, backend.description, s));
    if (typeof f.json === 'string') { await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n'); console.log(`wrote ${f.json}`); }
  } finally {
    backend.dispose();
  }
}

/** Compile the trainer's step for batch B the way a run does (tuning first where on); the rows tune() reported. */
async function tuneStep(backend: WebGpuBackend, trainer: ClassifierTrainer, B: number, precision: Precision): Promise<TuneResult[]> {
  trainer.precision = precision;
  backend.reportChoices = true;
  await trainer.prepareAsync({ train: [B] });
  trainer.dispose();
  return [...backend.tuneReport.values()];
}

export function formatTune(rows: readonly TuneResult[], what: string, device: string, seconds: number): string {
  const ms = (r: TuneResult) => Object.entries(r.candidates).sort((a, b) => a[1] - b[1]).map(([c, t]) => `${c} ${t.toFixed(3)}`).join(', ') || '—';
  const measured = rows.filter((r) => Object.keys(r.candidates).length).length;
  return [
    `autotune: ${what} on ${device}; ${rows.length} passes and GEMM shape classes, ${measured} with measurements (${seconds.toFixed(1)} s)`,
    '', '| node | shape class | candidates (best ms) | winner | rule | from |', '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.node} | ${r.key} | ${ms(r)} | ${r.winner} | ${r.rule} | ${r.source === 'tuned' ? (r.now ? 'measured' : 'cache') : r.source} |`),
  ].join('\n');
}
