// The bad-input corpus: every way a user has been seen to hand the command line something wrong, as a table. Each
// case runs `wgtrain` in a fresh folder holding the fixtures (a CSV table, a model file, checkpoints), and must exit
// with the expected code and exactly one `wgtrain:` line matching the expected message, with no stack trace and no
// Dawn start-up noise; every file that was in the folder before must be byte-identical afterwards (unless the case
// names it as the checkpoint it writes), and no temporary file may be left behind. Hangs are cases too: the error must
// come within the stated time.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, writeFileSync, readFileSync, readdirSync, cpSync, mkdirSync, symlinkSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/store/safetensors.js';
import { blobs } from './helpers.js';

const BIN = resolve('bin/wgtrain.js');
const fixtures = mkdtempSync(join(tmpdir(), 'wgtrain-corpus-'));
/**
 * Runs the CLI with stderr in a file, as a shell's `2> file` would have it: the CLI's filter for Dawn's start-up
 * warnings needs a stderr it can reopen, which Node's own stdio pipes (socket pairs) are not.
 */
const cli = (cwd: string, args: string[]) => {
  const errPath = join(mkdtempSync(join(tmpdir(), 'wgtrain-err-')), 'stderr');
  const errFd = openSync(errPath, 'w');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', errFd] });
  const ms = performance.now() - t0;
  closeSync(errFd);
  return { status: r.status, stdout: r.stdout, stderr: readFileSync(errPath, 'utf8'), ms };
};


/** An IDX file of unsigned bytes with these dims and zero data. */
const idx = (dims: number[]) => {
  const b = Buffer.alloc(4 + 4 * dims.length + dims.reduce((a, d) => a * d, 1));
  b.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
};

/** ck.st with its metadata edited (or a tensor's data replaced). */
function editCheckpoint(name: string, edit: (meta: Record<string, string>, tensors: Map<string, SafeTensor>) => void): void {
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(fixtures, 'ck.st')));
  const t = new Map<string, SafeTensor>([...tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.array() }]));
  edit(metadata, t);
  writeFileSync(join(fixtures, name), encodeSafetensors(t, metadata));
}

const json = (v: unknown) => JSON.stringify(v);
const nested = (depth: number, inner: string, open: string, close: string) => open.repeat(depth) + inner + close.repeat(depth);
const csvArgs = ['--data', 'data.csv', '--label', 'kind', '--backend', 'cpu'];
const trainCsv = (...more: string[]) => ['train', '--model', 'net.json', ...csvArgs, ...more];

interface Case {
  name: string;
  args: string[];
  /** Extra files or changes in the case's folder before the run. */
  setup?: (dir: string) => void;
  exit: number;
  message: RegExp;
  /** Files the command may change (the checkpoint it writes). */
  mayChange?: string[];
  /** The error must come within this many milliseconds (hangs). */
  withinMs?: number;
  /** A check on stdout (predict must not print NaN). */
  stdoutNot?: RegExp;
}

const CASES: Case[] = [
  // Outputs never clobber inputs, and are checked before any work.
  { name: '--save onto the --model file', args: trainCsv('--save', 'net.json'), exit: 2, message: /--save net\.json is the same file as --model net\.json, which this run reads/ },
  { name: '--metrics onto the --data table', args: trainCsv('--metrics', 'data.csv'), exit: 2, message: /--metrics data\.csv is the same file as --data data\.csv/ },
  { name: '--json onto the --model file', args: trainCsv('--json', 'net.json'), exit: 2, message: /--json net\.json is the same file as --model net\.json/ },
  { name: '--json onto the --model file through a link', setup: (d) => symlinkSync(join(d, 'net.json'), join(d, 'link.json')), args: trainCsv('--json', 'link.json'), exit: 2, message: /--json link\.json is the same file as --model net\.json/ },
  { name: '--plot onto the --data table by another spelling', args: trainCsv('--plot', './sub/../data.csv'), setup: (d) => mkdirSync(join(d, 'sub')), exit: 2, message: /--plot \.\/sub\/\.\.\/data\.csv is the same file as --data data\.csv/ },
  { name: '--save onto --resume of another file is not --resume', args: trainCsv('--resume', 'ck.st', '--save', 'data.csv'), exit: 2, message: /--save data\.csv is the same file as --data data\.csv/ },
  { name: '--json in a missing directory', args: trainCsv('--json', 'nodir/out.json'), exit: 2, message: /--json nodir\/out\.json: the directory .*nodir does not exist/ },
  { name: '--save is a directory', setup: (d) => mkdirSync(join(d, 'outdir')), args: trainCsv('--save', 'outdir'), exit: 2, message: /--save outdir: is a directory/ },
  { name: '--metrics is a device', args: trainCsv('--metrics', '/dev/zero'), exit: 2, message: /--metrics \/dev\/zero: is not a regular file/ },
  { name: '--json under a file, not a directory', args: trainCsv('--json', 'data.csv/x.json'), exit: 2, message: /data\.csv is not a directory|directory .*data\.csv does not exist/ },
  { name: 'two outputs the same file', args: trainCsv('--metrics', 'run.json', '--json', 'run.json'), exit: 2, message: /--metrics run\.json and --json run\.json are the same file/ },
  { name: '--json onto the plot beside --metrics', args: trainCsv('--metrics', 'run.jsonl', '--json', 'run.svg'), exit: 2, message: /are the same file/ },
  { name: '--save over a file that is not a checkpoint', setup: (d) => writeFileSync(join(d, 'notes.txt'), 'mine\n'), args: trainCsv('--save', 'notes.txt'), exit: 2, message: /--save notes\.txt exists and is not a wgtrain checkpoint; refusing to replace it \(pass --overwrite/ },
  { name: '--save over a checkpoint of another model', args: ['train', '--model', 'net2.json', ...csvArgs, '--save', 'ck.st'], exit: 2, message: /--save ck\.st exists and holds a checkpoint of another model/ },
  { name: '--save over a non-checkpoint with --overwrite is allowed', setup: (d) => writeFileSync(join(d, 'notes.txt'), 'mine\n'), args: trainCsv('--save', 'notes.txt', '--overwrite'), exit: 0, message: /./, mayChange: ['notes.txt'] },
  { name: '--save over a checkpoint of the same model is allowed', args: trainCsv('--save', 'ck.st'), exit: 0, message: /./, mayChange: ['ck.st'] },
  { name: '--resume and --save the same checkpoint is allowed', args: trainCsv('--resume', 'ck.st', '--save', 'ck.st'), exit: 0, message: /./, mayChange: ['ck.st'] },

  // Bounded inputs: non-regular and oversized files, budgets, nesting.
  { name: 'predict --weights /dev/zero', args: ['predict', '--weights', '/dev/zero', '--input', 'data.csv', '--backend', 'cpu'], exit: 2, withinMs: 1000, message: /\/dev\/zero: is a character device, not a regular file \(expected a safetensors checkpoint\)/ },
  { name: 'predict --input /dev/zero', args: ['predict', '--weights', 'mnist.st', '--input', '/dev/zero', '--backend', 'cpu'], exit: 2, withinMs: 1000, message: /\/dev\/zero: is a character device, not a regular file \(expected an IDX file\)/ },
  { name: 'predict --input a FIFO', setup: (d) => execFileSync('mkfifo', [join(d, 'pipe.csv')]), args: ['predict', '--weights', 'ck.st', '--input', 'pipe.csv', '--backend', 'cpu'], exit: 2, withinMs: 1000, message: /pipe\.csv: is a FIFO \(named pipe\), not a regular file/ },
  { name: 'train --data a FIFO', setup: (d) => execFileSync('mkfifo', [join(d, 'pipe.csv')]), args: ['train', '--model', 'net.json', '--data', 'pipe.csv', '--label', 'kind', '--backend', 'cpu'], exit: 2, withinMs: 1000, message: /pipe\.csv: is a FIFO/ },
  { name: 'train --model a directory', setup: (d) => mkdirSync(join(d, 'm.json')), args: ['train', '--model', 'm.json', ...csvArgs], exit: 2, message: /m\.json: is a directory, not a regular file \(expected a JSON model config\)/ },
  { name: 'predict --weights a directory', setup: (d) => mkdirSync(join(d, 'w.st')), args: ['predict', '--weights', 'w.st', '--input', 'data.csv'], exit: 2, message: /w\.st: is a directory/ },
  { name: 'a model file beyond 16 MiB', setup: (d) => { writeFileSync(join(d, 'big.json'), ''); truncateSync(join(d, 'big.json'), 17 * 2 ** 20); }, args: ['train', '--model', 'big.json', ...csvArgs], exit: 2, withinMs: 1000, message: /big\.json: is 17825792 bytes \(17 MiB\), more than the 16 MiB accepted for a JSON model config/ },
  { name: 'a CSV table beyond 512 MiB', setup: (d) => { writeFileSync(join(d, 'big.csv'), ''); truncateSync(join(d, 'big.csv'), 600 * 2 ** 20); }, args: ['train', '--model', 'net.json', '--data', 'big.csv', '--label', 'kind', '--backend', 'cpu'], exit: 2, withinMs: 1000, message: /big\.csv: is 629145600 bytes \(600 MiB\), more than the 512 MiB accepted/ },
  { name: 'a layer with "out": 1e9', setup: (d) => writeFileSync(join(d, 'huge.json'), json({ input: [3], layers: [{ type: 'linear', out: 1e9 }] })), args: ['train', '--model', 'huge.json', ...csvArgs], exit: 2, message: /huge\.json: layer 0 \(linear\): its weight \[3, 1000000000\] would need 12000000000 bytes, more than the 1073741824 bytes one tensor may have/ },
  { name: 'an input of [100000, 100000]', setup: (d) => writeFileSync(join(d, 'wide.json'), json({ input: [100000, 100000], layers: [{ type: 'flatten' }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'wide.json', ...csvArgs], exit: 2, message: /wide\.json: "input": one example's input \[batch, 100000, 100000\] would need 40000000000 bytes/ },
  { name: 'a residual nested 3,000 deep', setup: (d) => writeFileSync(join(d, 'res.json'), `{"input":[3],"layers":[${nested(3000, '{"type":"linear","out":3}', '{"type":"residual","layers":[', ']}')}]}`), args: ['train', '--model', 'res.json', ...csvArgs], exit: 2, message: /res\.json: nested more than 64 levels deep/ },
  { name: 'arrays nested 100,000 deep', setup: (d) => writeFileSync(join(d, 'deep.json'), `{"input":${nested(100000, '3', '[', ']')},"layers":[{"type":"linear","out":3}]}`), args: ['train', '--model', 'deep.json', ...csvArgs], exit: 2, message: /deep\.json: nested more than 64 levels deep/ },
  { name: 'a checkpoint whose csv.features is not a list', args: ['predict', '--weights', 'badmeta.st', '--input', 'data.csv', '--backend', 'cpu'], exit: 2, message: /badmeta\.st: metadata field 'model\.csv\.features' is "a,b,c", expected a non-empty array of distinct column names/ },
  { name: 'a checkpoint whose csv.std has a zero', args: ['predict', '--weights', 'badstd.st', '--input', 'data.csv', '--backend', 'cpu'], exit: 2, message: /badstd\.st: metadata field 'model\.csv\.std' is .*, expected 3 positive numbers/ },
  { name: 'a checkpoint whose config is a string', args: ['predict', '--weights', 'badconfig.st', '--input', 'data.csv', '--backend', 'cpu'], exit: 2, message: /badconfig\.st: metadata field 'model\.config' is "linear", expected a model config object/ },
  { name: 'a checkpoint whose recorded config has a bad layer', args: ['predict', '--weights', 'badlayer.st', '--input', 'data.csv', '--backend', 'cpu'], exit: 2, message: /badlayer\.st \(recorded model config\): layer 0 \(linear\): "out" must be a positive integer, got -3/ },
  { name: 'a checkpoint whose metadata nests 100,000 deep', args: ['train', '--model', 'net.json', ...csvArgs, '--resume', 'deepmeta.st'], exit: 2, message: /deepmeta\.st: metadata field 'run' is nested more than 64 levels deep/ },
  { name: 'a checkpoint holding NaN weights', args: ['predict', '--weights', 'nanw.st', '--input', 'data.csv', '--backend', 'cpu'], exit: 2, message: /nanw\.st: tensor '.*' holds NaN at element 0/, stdoutNot: /NaN/ },

  // Data checks where the data is.
  { name: 'a CSV header that repeats a name', setup: (d) => writeFileSync(join(d, 'dup.csv'), 'a,a,a,a,species\n1,2,3,4,x\n2,3,4,5,y\n1,2,3,4,x\n2,3,4,5,y\n'), args: ['train', '--model', 'net.json', '--data', 'dup.csv', '--label', 'species', '--backend', 'cpu'], exit: 2, message: /dup\.csv line 1: columns 1 and 2 are both named 'a' \(expected distinct column names\)/ },
  { name: 'predict input whose header repeats a feature', setup: (d) => writeFileSync(join(d, 'dup.csv'), 'a,b,a,c\n1,2,3,4\n'), args: ['predict', '--weights', 'ck.st', '--input', 'dup.csv', '--backend', 'cpu'], exit: 2, message: /dup\.csv line 1: columns 1 and 3 are both named 'a'/ },
  { name: 'a CSV value beyond float32 (1e39)', setup: (d) => writeFileSync(join(d, 'big.csv'), 'a,b,kind,c\n1,2,x,3\n4,1e39,y,6\n1,2,x,3\n4,5,y,6\n'), args: ['train', '--model', 'net.json', '--data', 'big.csv', '--label', 'kind', '--backend', 'cpu'], exit: 2, message: /big\.csv line 3, column 2 \('b'\): '1e39' is beyond float32's range/ },
  { name: 'predict input beyond float32', setup: (d) => writeFileSync(join(d, 'in.csv'), 'a,b,c\n1,-1e39,3\n'), args: ['predict', '--weights', 'ck.st', '--input', 'in.csv', '--backend', 'cpu'], exit: 2, message: /in\.csv line 2, column 2 \('b'\): '-1e39' is beyond float32's range/ },
  { name: 'predict never prints NaN probabilities', setup: (d) => writeFileSync(join(d, 'in.csv'), 'a,b,c\n1,2,3\n1,2,3e38\n'), args: ['predict', '--weights', 'ck.st', '--input', 'in.csv', '--backend', 'cpu', '--probs'], exit: 2, message: /predict: example 1 of in\.csv: column 'c' \(3e\+38\) scaled as in training \(mean -?[\d.]+, std [\d.]+\) is beyond float32's range/, stdoutNot: /NaN/ },
  { name: 'two layers with one name (found before training, not at the first save)', setup: (d) => writeFileSync(join(d, 'twin.json'), json({ input: [3], layers: [{ type: 'linear', out: 3, name: 'fc' }, { type: 'linear', out: 3, name: 'fc' }] })), args: ['train', '--model', 'twin.json', ...csvArgs, '--save', 'tw.st'], exit: 2, message: /two different variables are named 'fc\.weight'/ },
  { name: 'batchnorm1d with "eps": -1', setup: (d) => writeFileSync(join(d, 'bn.json'), json({ input: [3], layers: [{ type: 'batchnorm1d', eps: -1 }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'bn.json', ...csvArgs], exit: 2, message: /bn\.json: layer 0 \(batchnorm1d\): "eps" must be a number > 0, got -1/ },
  { name: 'batchnorm momentum above 1', setup: (d) => writeFileSync(join(d, 'bn.json'), json({ input: [3], layers: [{ type: 'batchnorm1d', momentum: 2 }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'bn.json', ...csvArgs], exit: 2, message: /"momentum" must be a number in \[0, 1\], got 2/ },
  { name: 'dropout with "p": 1', setup: (d) => writeFileSync(join(d, 'do.json'), json({ input: [3], layers: [{ type: 'dropout', p: 1 }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'do.json', ...csvArgs], exit: 2, message: /layer 0 \(dropout\): "p" must be a number in \[0, 1\), got 1/ },
  { name: 'a linear layer with "out": 0', setup: (d) => writeFileSync(join(d, 'z.json'), json({ input: [3], layers: [{ type: 'linear', out: 0 }] })), args: ['train', '--model', 'z.json', ...csvArgs], exit: 2, message: /layer 0 \(linear\): "out" must be a positive integer, got 0/ },
  { name: 'a conv2d with "stride": 0', setup: (d) => writeFileSync(join(d, 'c.json'), json({ input: [1, 3, 1], layers: [{ type: 'conv2d', out: 2, kernel: 1, stride: 0 }, { type: 'flatten' }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'c.json', ...csvArgs], exit: 2, message: /layer 0 \(conv2d\): "stride" must be a positive integer or a pair/ },
  { name: 'an rnn with "hidden": 0', setup: (d) => writeFileSync(join(d, 'r.json'), json({ input: [1, 3], layers: [{ type: 'rnn', hidden: 0 }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'r.json', ...csvArgs], exit: 2, message: /layer 0 \(rnn\): "hidden" must be a positive integer, got 0/ },
  { name: 'a dropout seed beyond 32 bits', setup: (d) => writeFileSync(join(d, 'ds.json'), json({ input: [3], layers: [{ type: 'dropout', p: 0.5, seed: 2 ** 32 }, { type: 'linear', out: 3 }] })), args: ['train', '--model', 'ds.json', ...csvArgs], exit: 2, message: /"seed" must be an integer in \[0, 2\^32\), got 4294967296/ },
  { name: '--seed 4294967297 (would alias --seed 1)', args: trainCsv('--seed', '4294967297'), exit: 2, message: /train: --seed must be an integer in \[0, 4294967295\], got '4294967297'/ },
  { name: '--seed -1', args: trainCsv('--seed', '-1'), exit: 2, message: /train: --seed must be an integer in \[0, 4294967295\], got '-1'/ },

  // One line for every error, exit 2 for every user mistake.
  { name: '--epochs -3', args: trainCsv('--epochs', '-3'), exit: 2, message: /^wgtrain: train: --epochs must be an integer >= 1, got '-3'$/ },
  { name: '--lr -0.1', args: trainCsv('--lr', '-0.1'), exit: 2, message: /train: --lr must be a number > 0, got '-0\.1'/ },
  {
    name: 'divergence caught by --save-every says its clause once',
    setup: (d) => writeFileSync(join(d, 'relu.json'), json({ input: [3], layers: [{ type: 'linear', out: 8 }, { type: 'relu' }, { type: 'linear', out: 3 }] })),
    args: ['train', '--model', 'relu.json', ...csvArgs, '--epochs', '5', '--lr', '1e38', '--save', 'dv.st', '--save-every', '1'], exit: 1,
    message: /^(?!.*last good checkpoint.*last good checkpoint).*the run has diverged, and the file keeps its previous contents; the last good checkpoint is dv\.st \(epoch 1, 1 batches in, step 1\)$/,
  },
  { name: '--batch-size 1000000 on WebGPU', args: ['train', '--batch-size', '1000000'], exit: 2, message: /train: model mlp: "input": at --batch-size 60000 its activations \[60000, 784\] need 188160000 bytes, more than this adapter's maxStorageBufferBindingSize/ },
  { name: 'bench gemm --sizes 100000', args: ['bench', 'gemm', '--sizes', '100000'], exit: 2, message: /bench gemm: --sizes 100000: an 100000x100000 matrix needs 40000000000 bytes/ },
  { name: 'bench optimizer --n 1e9', args: ['bench', 'optimizer', '--n', '1000000000'], exit: 2, message: /bench optimizer: --n 1000000000: a parameter of 1000000000 elements needs 4000000000 bytes/ },
  { name: 'info --bogus', args: ['info', '--bogus'], exit: 2, message: /info: Unknown option '--bogus'/ },
  { name: 'bench alone', args: ['bench'], exit: 2, message: /^wgtrain: bench: expected a benchmark \(one of all, gemm, .*\)$/ },
  { name: 'bench with an unknown benchmark', args: ['bench', 'fast'], exit: 2, message: /bench: unknown benchmark 'fast'/ },
  { name: 'an empty IDX file as predict --input', setup: (d) => writeFileSync(join(d, 'empty.idx'), idx([0, 28, 28])), args: ['predict', '--weights', 'mnist.st', '--input', 'empty.idx', '--backend', 'cpu'], exit: 2, message: /predict: --input empty\.idx holds 0 examples/ },
  {
    name: 'empty IDX files in --data-dir',
    setup: (d) => { mkdirSync(join(d, 'mn')); for (const p of ['train', 't10k']) { writeFileSync(join(d, 'mn', `${p}-images-idx3-ubyte`), idx([0, 28, 28])); writeFileSync(join(d, 'mn', `${p}-labels-idx1-ubyte`), idx([0])); } },
    args: ['train', '--data-dir', 'mn', '--backend', 'cpu'], exit: 2, message: /mn\/(train|t10k)-images-idx3-ubyte: holds 0 images/,
  },
  { name: 'a zero-byte IDX file', setup: (d) => writeFileSync(join(d, 'zero.idx'), ''), args: ['predict', '--weights', 'mnist.st', '--input', 'zero.idx', '--backend', 'cpu'], exit: 2, message: /zero\.idx: truncated: expected a 4-byte magic number, file has 0 bytes/ },

  // Cases that already passed, kept so they stay passing.
  { name: 'a missing model file', args: ['train', '--model', 'nope.json', ...csvArgs], exit: 2, message: /nope\.json: cannot read the model config \(ENOENT/ },
  { name: 'a model file that is not JSON', setup: (d) => writeFileSync(join(d, 'bad.json'), '{"input": [3], "layers": ['), args: ['train', '--model', 'bad.json', ...csvArgs], exit: 2, message: /bad\.json: not valid JSON/ },
  { name: 'an unknown layer type', setup: (d) => writeFileSync(join(d, 'u.json'), json({ input: [3], layers: [{ type: 'dense', out: 3 }] })), args: ['train', '--model', 'u.json', ...csvArgs], exit: 2, message: /u\.json: layer 0 \(dense\): unknown layer type "dense"/ },
  { name: 'a model with too few outputs', setup: (d) => writeFileSync(join(d, 'two.json'), json({ input: [3], layers: [{ type: 'linear', out: 2 }] })), args: ['train', '--model', 'two.json', ...csvArgs], exit: 2, message: /outputs \[2\] per example, but the data has 3 classes/ },
  { name: 'a ragged CSV row', setup: (d) => writeFileSync(join(d, 'rag.csv'), 'a,b,y\n1,2,x\n3,4\n'), args: ['train', '--data', 'rag.csv', '--label', 'y', '--backend', 'cpu'], exit: 2, message: /rag\.csv line 3: 2 fields, expected 3/ },
  { name: 'a CSV value that is not a number', setup: (d) => writeFileSync(join(d, 'nn.csv'), 'a,b,y\n1,2,x\n3,four,y\n'), args: ['train', '--data', 'nn.csv', '--label', 'y', '--backend', 'cpu'], exit: 2, message: /nn\.csv line 3, column 2 \('b'\): 'four' is not a number/ },
  { name: 'a missing CSV file', args: ['train', '--data', 'missing.csv', '--label', 'y'], exit: 2, message: /missing\.csv: cannot read \(ENOENT/ },
  { name: '--data without --label', args: ['train', '--data', 'data.csv'], exit: 2, message: /--data data\.csv needs --label COLUMN/ },
  { name: 'an unknown --label column', args: ['train', '--model', 'net.json', '--data', 'data.csv', '--label', 'nope', '--backend', 'cpu'], exit: 2, message: /no column named 'nope' for the label/ },
  { name: '--test-split 1', args: trainCsv('--test-split', '1'), exit: 2, message: /--test-split must be below 1/ },
  { name: '--label without --data', args: ['train', '--label', 'y'], exit: 2, message: /--label applies to --data FILE\.csv only/ },
  { name: 'an unknown command', args: ['trian'], exit: 2, message: /unknown command 'trian'/ },
  { name: 'an unknown flag', args: ['train', '--epoch', '2'], exit: 2, message: /train: Unknown option '--epoch'/ },
  { name: 'an unknown backend', args: trainCsv('--backend', 'cuda'), exit: 2, message: /--backend must be one of webgpu, cpu, got 'cuda'/ },
  { name: 'an unknown optimizer', args: trainCsv('--optimizer', 'lion'), exit: 2, message: /--optimizer must be one of/ },
  { name: '--momentum with adam', args: trainCsv('--optimizer', 'adam', '--momentum', '0.9'), exit: 2, message: /--momentum applies to sgd and rmsprop, not adam/ },
  { name: '--save-every without --save', args: trainCsv('--save-every', '5'), exit: 2, message: /--save-every needs --save FILE/ },
  { name: '--resume with different flags', args: trainCsv('--resume', 'ck.st', '--batch-size', '7'), exit: 2, message: /--resume ck\.st: the flags differ from the saved run's: --batch-size 32 in the checkpoint but 7 here/ },
  { name: '--resume a file that is not a checkpoint', args: trainCsv('--resume', 'data.csv'), exit: 2, message: /data\.csv: .*(header|safetensors)/ },
  { name: 'predict without --weights', args: ['predict', '--input', 'data.csv'], exit: 2, message: /predict: --weights CHECKPOINT is required/ },
  { name: 'predict with a CSV model and IDX input', args: ['predict', '--weights', 'ck.st', '--input', 'x.idx'], exit: 2, message: /this model was trained on CSV columns \(a, b, c\): --input must be a \.csv file/ },
  { name: 'predict input missing a trained column', setup: (d) => writeFileSync(join(d, 'in.csv'), 'a,b\n1,2\n'), args: ['predict', '--weights', 'ck.st', '--input', 'in.csv', '--backend', 'cpu'], exit: 2, message: /in\.csv: no column named 'c'/ },
  { name: 'predict with the wrong --model', args: ['predict', '--weights', 'ck.st', '--input', 'data.csv', '--model', 'mlp', '--backend', 'cpu'], exit: 2, message: /model mlp takes 784 values per example, but data\.csv has 3/ },
  { name: 'predict --limit 0', args: ['predict', '--weights', 'ck.st', '--input', 'data.csv', '--limit', '0'], exit: 2, message: /--limit must be an integer >= 1, got '0'/ },
];

const digest = (dir: string): Map<string, string> => {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    if (s.isFile() && s.size < 2 ** 24) out.set(name, createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return out;
};

export const CORPUS_SIZE = CASES.length;

describe('the bad-input corpus', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs']);
    writeFileSync(join(fixtures, 'data.csv'), blobs(60));
    writeFileSync(join(fixtures, 'net.json'), json({ input: [3], layers: [{ type: 'linear', out: 8 }, { type: 'tanh' }, { type: 'linear', out: 3 }] }));
    writeFileSync(join(fixtures, 'net2.json'), json({ input: [3], layers: [{ type: 'linear', out: 5 }, { type: 'relu' }, { type: 'linear', out: 3 }] }));
    const t = cli(fixtures, ['train', '--model', 'net.json', ...csvArgs, '--save', 'ck.st']);
    expect(t.status, t.stderr).toBe(0);
    const m = cli(fixtures, ['train', '--model', 'mlp', '--backend', 'cpu', '--limit', '64', '--save', 'mnist.st']);
    expect(m.status, m.stderr).toBe(0);
    const model = (meta: Record<string, string>) => JSON.parse(meta.model);
    editCheckpoint('badmeta.st', (meta) => { meta.model = json({ ...model(meta), csv: { ...model(meta).csv, features: 'a,b,c' } }); });
    editCheckpoint('badstd.st', (meta) => { meta.model = json({ ...model(meta), csv: { ...model(meta).csv, std: [1, 0, 1] } }); });
    editCheckpoint('badconfig.st', (meta) => { meta.model = json({ ...model(meta), config: 'linear' }); });
    editCheckpoint('badlayer.st', (meta) => { meta.model = json({ ...model(meta), config: { input: [3], layers: [{ type: 'linear', out: -3 }] } }); });
    editCheckpoint('deepmeta.st', (meta) => { meta.run = nested(100000, '1', '[', ']'); });
    editCheckpoint('nanw.st', (_meta, tensors) => { for (const t of tensors.values()) if (t.dtype === 'F32') (t.data as Float32Array)[0] = NaN; });
  }, 120_000);

  for (const c of CASES) {
    it(c.name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'wgtrain-case-'));
      cpSync(fixtures, dir, { recursive: true });
      c.setup?.(dir);
      const before = digest(dir);
      const r = cli(dir, c.args);
      const what = `wgtrain ${c.args.join(' ').slice(0, 200)}\n${r.stderr.slice(0, 2000)}`;
      expect(r.status, what).toBe(c.exit);
      expect(r.stderr, what).not.toMatch(/^\s+at /m);
      expect(r.stderr, what).not.toMatch(/artificially reduced/);
      if (c.exit !== 0) {
        const ours = r.stderr.split('\n').filter((l) => l.startsWith('wgtrain:'));
        expect(ours, what).toHaveLength(1);
        expect(ours[0], what).toMatch(c.message);
      }
      if (c.withinMs) expect(r.ms, what).toBeLessThan(c.withinMs + 1500); // plus Node's start-up, which a loaded CI machine stretches
      if (c.stdoutNot) expect(r.stdout, what).not.toMatch(c.stdoutNot);
      const after = digest(dir);
      for (const [name, hash] of before) if (!c.mayChange?.includes(name)) expect(after.get(name), `${name} changed: ${what}`).toBe(hash);
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.startsWith('.wgtrain-probe')), what).toEqual([]);
    }, 60_000);
  }
});
