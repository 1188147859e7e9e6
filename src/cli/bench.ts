// `wgtrain bench`: benchmarks from bench/, printed as a table and written as JSON.
import { PRECISIONS, Precision } from '../graph/f16.js';
import { writeFile, mkdir, stat } from 'node:fs/promises';
import { WebGpuBackend } from '../backends/webgpu/webgpu_backend.js';
import { AUTOTUNE_FLAG, AUTOTUNE_HELP, autotuneWanted } from './tune.js';
import { benchGemm } from '../../bench/gemm.js';
import { benchTrain } from '../../bench/train.js';
import { benchReport } from '../../bench/report.js';
import { benchOptimizers } from '../../bench/optimizer.js';
import { benchConv, parseConvShape, CONV_SHAPES } from '../../bench/conv.js';
import { benchSoftmaxXent, parseXentSize, SOFTMAX_XENT_SIZES } from '../../bench/softmax_xent.js';
import { OPTIMIZER_NAMES } from '../optim/index.js';
import { MODELS } from '../nn/models.js';
import { parse, parseRepeatable, choice, intFlag, UsageError } from './args.js';
import { soak, SOAK_HELP } from './bench_soak.js';
import { benchAttention, ATTENTION_LENGTHS } from '../../bench/attention.js';
import { benchTrainGpt } from '../../bench/train_gpt.js';
import { GPT_DEFAULTS } from '../nn/transformer.js';
import { tfjsMissing } from '../../bench/tfjs.js';
import { torchMissing, TORCH_THREADS } from '../../bench/torch.js';

export const BENCH_HELP = `usage: wgtrain bench all|gemm|conv|softmax-xent|train|optimizer|attention|soak|report [options]

wgtrain bench all: every benchmark below with its defaults (train: mlp at batch 128, cnn at batch 64 for 30 steps, gpt
at batch 16 for 20 steps),
one after another in one run, each written to DIR/YYYY-MM-DD-<name>-<adapter>.json; then the report
  --compare tfjs      pass --compare tfjs to each
  --compare torch     pass --compare torch to gemm and train, and time one MLP epoch at batch 32 (1875 steps) against
                      PyTorch's (both may be given)
  --cpu               pass --cpu to each (not to the cnn training, which would take minutes a step)
  --dir DIR           [bench/results]
  --overwrite         replace today's files in DIR (without it, bench all refuses before it starts)
  --autotune          pass --autotune to gemm and train (--no-autotune: pass that)

wgtrain bench train: whole training steps on MNIST batches, or (--model gpt) of train's default GPT on its windows, in
tokens/s, against the same model from TF.js primitives with --compare tfjs (try --batch-size 16 --steps 10)
  --model NAME        ${Object.keys(MODELS).join(', ')}, gpt  [mlp]
  --batch-size N      [128]
  --steps N           timed steps after 5 warm-up steps  [100]
  --compare tfjs      also train the MLP with TF.js WebGPU (same adapter) and TF.js WASM
  --compare torch     also train mlp, cnn or gpt with PyTorch on the CPU (/usr/bin/python3, ${TORCH_THREADS} threads; random inputs)
  --cpu               also run the CPU reference (20 steps)
  --precision f16     also time the mixed-precision step (train --precision f16) in the same process, alternating
                      f32, f16, f32, f16 and keeping each one's best: a row wgtrain-webgpu-f16
  --json FILE         {"model","backend","batchSize","steps","samplesPerSec","submitsPerStep","buffersCreatedAfterWarmup","poolBytes"}
                      (an array of such rows with --compare or --cpu)
${AUTOTUNE_HELP}

wgtrain bench gemm:
  --sizes LIST        square sizes n for C = A·B, comma-separated  [256,512,1024]
  --compare tfjs      also run TF.js WebGPU (same adapter) and TF.js WASM in the same run
  --compare torch     also torch.mm on the CPU (/usr/bin/python3, ${TORCH_THREADS} threads, OpenBLAS); both may be given
  --cpu               also run the CPU reference (sizes up to 512)
  --json FILE         write the rows as JSON: [{"n","impl","gflops","ms","min","max"}]
${AUTOTUNE_HELP}

wgtrain bench conv: conv2d on NCHW images (implicit GEMM, or im2col + GEMM where convAlgorithm says), forward and
backward (input and weight gradients), in GFLOP/s of 2·N·O·C·KH·KW·OH·OW per forward (twice that per backward)
  --shapes LIST       comma-separated NxCxHxW:OxKHxKW[:pP][:sS] (input, kernel, padding P, stride S)
                      [${CONV_SHAPES}]
  --compare tfjs      also tf.conv2d in NHWC on TF.js WebGPU (same adapter) and TF.js WASM; the backward is the two
                      kernels tf.grad runs for it (Conv2DBackpropInput and Conv2DBackpropFilter), without a forward
                      (WASM: forward only, it has no Conv2DBackpropFilter kernel)
  --cpu               also run the CPU reference (shapes up to 1 GFLOP a forward)
  --json FILE         write the rows as JSON: [{"shape","pass","impl","gflops","ms","min","max"}] (a skipped row has a
                      "note" instead of figures)

wgtrain bench softmax-xent: the fused softmax cross-entropy loss and its gradient on [B, C] logits with int32 labels,
in GB/s of the minimum traffic (logits read, gradient written, labels read: 8·B·C + 4·B bytes)
  --sizes LIST        comma-separated BxC  [${SOFTMAX_XENT_SIZES}]
  --compare tfjs      also tf.losses.softmaxCrossEntropy with one-hot labels and tf.valueAndGrad, on TF.js WebGPU
                      (same adapter) and TF.js WASM
  --cpu               also run the CPU reference
  --json FILE         write the rows as JSON: [{"shape","impl","gbps","ms","min","max"}]

wgtrain bench attention: causal attention on q, k, v [32, T, 32] (batch x heads 32, head size 32): the fused kernels
against the composite (batched GEMMs around the masked softmax), forward, and forward + backward from a given
upstream gradient (no loss), in wall time and in the device's own time; q, k, v and the upstream gradient stay on
the device, as in a model
  --lengths LIST      sequence lengths T  [${ATTENTION_LENGTHS.join(',')}]
  --fed               upload q, k, v and the upstream gradient at every run instead
  --json FILE         write the rows as JSON: [{"T","N","dh","pass","impl","inputs","ms","min","max","deviceMs"}]

wgtrain bench optimizer: one fused update of a parameter, in GB/s of the minimum traffic (every array read once,
every updated one written once)
  --n N               parameter elements  [1048576]
  --optimizers LIST   comma-separated, of ${OPTIMIZER_NAMES.join(', ')}  [all]
  --compare tfjs      also TF.js WebGPU's tf.train optimizers on the same adapter (sgd as momentum, adam, rmsprop,
                      adagrad, adadelta)
  --cpu               also run the CPU reference
  --json FILE         write the rows as JSON: [{"optimizer","impl","n","bytes","gbps","ms","min","max"}]

wgtrain bench report: one SVG chart per benchmark and a README.md with the tables, from the JSON results
  --dir DIR           the results folder, files named YYYY-MM-DD-<name>.json  [bench/results]

${SOAK_HELP}`;

/** WebGPU's default maxStorageBufferBindingSize, which every adapter offers: a benchmark array must fit one binding. */
const ONE_BINDING = 2 ** 27;
function fitsOneBinding(command: string, what: string, floats: number): void {
  if (floats * 4 > ONE_BINDING) throw new UsageError(`${command}: ${what} needs ${floats * 4} bytes, more than the ${ONE_BINDING} bytes of one storage binding (WebGPU's default limit)`);
}

export async function bench(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  const names = ['all', 'gemm', 'train', 'optimizer', 'conv', 'softmax-xent', 'attention', 'soak', 'report'];
  if (!names.includes(what)) throw new UsageError(`bench: ${what === undefined ? 'expected a benchmark' : `unknown benchmark '${what}'`} (one of ${names.join(', ')}; see 'wgtrain bench --help')`);
  const compared = rest.flatMap((a, i) => (a === '--compare' ? [rest[i + 1]] : a.startsWith('--compare=') ? [a.slice(10)] : []));
  const missing = (compared.includes('tfjs') ? tfjsMissing() : undefined) ?? (compared.includes('torch') ? torchMissing() : undefined);
  if (missing) throw new UsageError(missing);
  if (what === 'all') return all(rest);
  if (what === 'gemm') return gemm(rest);
  if (what === 'train') return train(rest);
  if (what === 'conv') return conv(rest);
  if (what === 'softmax-xent') return softmaxXent(rest);
  if (what === 'attention') return attentionBench(rest);
  if (what === 'soak') return soak(rest);
  if (what === 'optimizer') return optimizer(rest);
  if (what === 'report') {
    const r = parse('bench report', rest, { dir: { type: 'string', default: 'bench/results' } });
    for (const file of await benchReport(String(r.dir))) console.log(`wrote ${file}`);
  }
}

/** The --compare values given (the flag may repeat), each one of `allowed`. */
function compares(command: string, v: unknown, allowed: readonly string[]): Set<string> {
  const given = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return new Set(given.map((x) => choice(command, 'compare', x, allowed)));
}

/** The adapter in a results file name: 'lavapipe' for Mesa's llvmpipe, else its description as a slug. */
export async function adapterTag(): Promise<string> {
  const gpu = await WebGpuBackend.create();
  const d = gpu.description;
  gpu.dispose();
  return /llvmpipe/i.test(d) ? 'lavapipe' : d.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
}

async function all(argv: string[]): Promise<void> {
  const [f, lists] = parseRepeatable('bench all', argv, { compare: { type: 'string' }, cpu: { type: 'boolean' }, dir: { type: 'string', default: 'bench/results' }, overwrite: { type: 'boolean' }, ...AUTOTUNE_FLAG }, ['compare']);
  const cmp = compares('bench all', lists.compare, ['tfjs', 'torch']);
  const dir = String(f.dir);
  await mkdir(dir, { recursive: true });
  const prefix = `${dir}/${new Date().toISOString().slice(0, 10)}-`, tag = await adapterTag();
  const tfjs = cmp.has('tfjs') ? ['--compare', 'tfjs'] : [], torch = cmp.has('torch') ? ['--compare', 'torch'] : [];
  const cpu = f.cpu ? ['--cpu'] : [], tuning = autotuneWanted('bench all', f) ? ['--autotune'] : ['--no-autotune'];
  const runs: [string, (a: string[]) => Promise<void>, string[]][] = [
    ['gemm', gemm, [...tfjs, ...torch, ...cpu, ...tuning]], ['conv', conv, [...tfjs, ...cpu]], ['softmax-xent', softmaxXent, [...tfjs, ...cpu]], ['optimizer', optimizer, [...tfjs, ...cpu]],
    ['train-mlp', train, ['--model', 'mlp', ...tfjs, ...torch, ...cpu, ...tuning]],
    ['train-cnn', train, ['--model', 'cnn', '--batch-size', '64', '--steps', '30', ...tfjs, ...torch, ...tuning]],
    ['train-gpt', train, ['--model', 'gpt', '--batch-size', '16', '--steps', '20', ...tfjs, ...torch, ...tuning]],
    // The default run's batch size: an epoch of MNIST's 60,000 images is 1875 steps, where per-step costs show.
    ...(cmp.has('torch') ? [['train-mlp-epoch', train, ['--model', 'mlp', '--batch-size', '32', '--steps', '1875', ...torch, ...tuning]] as [string, (a: string[]) => Promise<void>, string[]]] : []),
  ];
  // A results file of today's date may be one a person wrote by hand (measurements beside a change), so an earlier
  // file is replaced only when asked, and the refusal comes before minutes of benchmarks.
  const fileOf = (name: string) => `${prefix}${name}-${tag}.json`, taken: string[] = [];
  for (const [name] of runs) if (await stat(fileOf(name)).then(() => true, () => false)) taken.push(fileOf(name));
  if (taken.length && !f.overwrite) throw new UsageError(`bench all: ${taken.join(', ')} already ${taken.length === 1 ? 'exists' : 'exist'} (pass --overwrite to replace today's results, or --dir DIR to write elsewhere)`);
  for (const [name, run, args] of runs) {
    console.log(`\n## bench ${name}\n`);
    await run([...args, '--json', fileOf(name)]);
  }
  console.log('');
  for (const file of await benchReport(dir)) console.log(`wrote ${file}`);
}

async function gemm(argv: string[]): Promise<void> {
  const [f, lists] = parseRepeatable('bench gemm', argv, { sizes: { type: 'string', default: '256,512,1024' }, compare: { type: 'string' }, cpu: { type: 'boolean' }, json: { type: 'string' }, ...AUTOTUNE_FLAG }, ['compare']);
  const sizes = String(f.sizes).split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`bench: --sizes must be positive integers, got '${f.sizes}'`);
  for (const n of sizes) fitsOneBinding('bench gemm', `--sizes ${n}: an ${n}x${n} matrix`, n * n);
  const cmp = compares('bench gemm', lists.compare, ['tfjs', 'torch']);
  const rows = await benchGemm(sizes, { compare: cmp.has('tfjs'), torch: cmp.has('torch'), cpu: !!f.cpu, autotune: autotuneWanted('bench gemm', f) });
  console.log(`| n | impl | GFLOP/s | median ms | min | max |\n|---|---|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.n} | ${r.impl} | ${r.gflops.toFixed(2)} | ${r.ms.toFixed(2)} | ${r.min.toFixed(2)} | ${r.max.toFixed(2)} |`);
  printRatios(rows, ['tfjs-webgpu', 'tfjs-wasm', 'torch-cpu', 'wgtrain-cpu'], (r) => `${r.n}:`, (ours, o) => ours.gflops / o.gflops);
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n');
}

async function train(argv: string[]): Promise<void> {
  const [f, lists] = parseRepeatable('bench train', argv, {
    model: { type: 'string', default: 'mlp' }, 'batch-size': { type: 'string', default: '128' }, steps: { type: 'string', default: '100' },
    compare: { type: 'string' }, cpu: { type: 'boolean' }, json: { type: 'string' }, precision: { type: 'string', default: 'f32' }, ...AUTOTUNE_FLAG,
  }, ['compare']);
  const precision = choice<Precision>('bench train', 'precision', f.precision, PRECISIONS);
  const model = choice('bench train', 'model', f.model, [...Object.keys(MODELS), 'gpt']);
  const cmp = compares('bench train', lists.compare, ['tfjs', 'torch']);
  if (cmp.has('torch') && !['mlp', 'cnn', 'gpt'].includes(model)) throw new UsageError(`bench train: --compare torch has PyTorch versions of mlp, cnn and gpt only, got --model ${model}`);
  const batchSize = intFlag('bench train', 'batch-size', f['batch-size']), steps = intFlag('bench train', 'steps', f.steps);
  if (model === 'gpt') {
    if (precision === 'f16') throw new UsageError('bench train: --precision f16 applies to the image models (mlp, cnn, ...), not gpt (its trainer has no mixed precision yet)');
    if (f.cpu) throw new UsageError('bench train: --cpu does not apply to --model gpt (a step takes minutes on the CPU reference)');
    const rows = await benchTrainGpt({ batchSize, steps, compare: cmp.has('tfjs'), torch: cmp.has('torch') });
    console.log('| model | backend | batch x context | steps | tokens/s |\n|---|---|---|---|---|');
    for (const r of rows) console.log(`| gpt | ${r.backend} | ${r.batchSize} x ${GPT_DEFAULTS.context} | ${r.steps} | ${r.samplesPerSec.toFixed(0)} |`);
    for (const r of rows.slice(1)) console.log(`wgtrain-webgpu vs ${r.backend}: ${(rows[0].samplesPerSec / r.samplesPerSec).toFixed(2)}x`);
    if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows.map((r) => ({ ...r, tokensPerSec: r.samplesPerSec })), null, 2) + '\n');
    return;
  }
  const rows = await benchTrain({ model, batchSize, steps, compare: cmp.has('tfjs'), torch: cmp.has('torch'), cpu: !!f.cpu, precision, autotune: autotuneWanted('bench train', f) });
  console.log('| model | backend | batch | steps | samples/s | submits/step | buffers created after warm-up | pool bytes |\n|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.model} | ${r.backend} | ${r.batchSize} | ${r.steps} | ${r.samplesPerSec.toFixed(0)} | ${r.submitsPerStep ?? '-'} | ${r.buffersCreatedAfterWarmup ?? '-'} | ${r.poolBytes ?? '-'} |`);
  for (const r of rows.slice(1)) console.log(`wgtrain-webgpu vs ${r.backend}: ${(rows[0].samplesPerSec / r.samplesPerSec).toFixed(2)}x`);
  const torch = rows.find((r) => r.backend === 'torch-cpu');
  if (torch) console.log(`${rows[0].steps} steps at batch ${rows[0].batchSize}: wgtrain-webgpu ${((rows[0].steps * rows[0].batchSize) / rows[0].samplesPerSec).toFixed(2)} s, torch-cpu ${((torch.steps * torch.batchSize) / torch.samplesPerSec).toFixed(2)} s`);
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows.length === 1 ? rows[0] : rows, null, 2) + '\n');
}

/**
 * One line per other implementation present: "wgtrain-webgpu vs OTHER: <key> <ratio>x, ...", pairing rows by `key`;
 * `ratio` is how many times faster ours is (undefined where it cannot be said, e.g. a skipped row).
 */
function printRatios<R extends { impl: string }>(rows: R[], others: string[], key: (r: R) => string, ratio: (ours: R, other: R) => number | undefined, suffix = ''): void {
  for (const other of others) {
    const ratios = rows.filter((r) => r.impl === 'wgtrain-webgpu').map((r) => {
      const o = rows.find((x) => x.impl === other && key(x) === key(r));
      const v = o && ratio(r, o);
      return v ? `${key(r)} ${v.toFixed(2)}x` : '';
    }).filter(Boolean);
    if (ratios.length) console.log(`wgtrain-webgpu vs ${other}${suffix}: ${ratios.join(', ')}`);
  }
}

async function optimizer(argv: string[]): Promise<void> {
  const [f, lists] = parseRepeatable('bench optimizer', argv, {
    n: { type: 'string', default: String(1 << 20) }, optimizers: { type: 'string' }, compare: { type: 'string' }, cpu: { type: 'boolean' }, json: { type: 'string' },
  }, ['compare']);
  const names = f.optimizers === undefined ? OPTIMIZER_NAMES : String(f.optimizers).split(',').map((s) => choice('bench optimizer', 'optimizers', s, OPTIMIZER_NAMES));
  const n = intFlag('bench optimizer', 'n', f.n);
  fitsOneBinding('bench optimizer', `--n ${n}: a parameter of ${n} elements`, n);
  const rows = await benchOptimizers({ n, names, compare: compares('bench optimizer', lists.compare, ['tfjs']).has('tfjs'), cpu: !!f.cpu });
  console.log('| optimizer | impl | n | GB/s | median ms | min | max |\n|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.optimizer} | ${r.impl} | ${r.n} | ${r.gbps.toFixed(2)} | ${r.ms.toFixed(3)} | ${r.min.toFixed(3)} | ${r.max.toFixed(3)} |`);
  printRatios(rows, ['tfjs-webgpu', 'wgtrain-cpu'], (r) => r.optimizer, (ours, o) => o.ms / ours.ms, ' (time ratio)');
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n');
}

async function conv(argv: string[]): Promise<void> {
  const [f, lists] = parseRepeatable('bench conv', argv, { shapes: { type: 'string', default: CONV_SHAPES }, compare: { type: 'string' }, cpu: { type: 'boolean' }, json: { type: 'string' } }, ['compare']);
  const shapes = String(f.shapes).split(',').map(parseConvShape);
  const rows = await benchConv(shapes, { compare: compares('bench conv', lists.compare, ['tfjs']).has('tfjs'), cpu: !!f.cpu });
  const num = (v: number | undefined, d: number) => (v === undefined ? '—' : v.toFixed(d));
  console.log('| shape | pass | impl | GFLOP/s | median ms | min | max |\n|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.shape} | ${r.pass} | ${r.impl} | ${num(r.gflops, 2)} | ${num(r.ms, 2)} | ${num(r.min, 2)} | ${num(r.max, 2)} |`);
  for (const r of rows.filter((r) => r.note)) console.log(`${r.impl} ${r.shape} ${r.pass}: ${r.note}`);
  printRatios(rows, ['tfjs-webgpu', 'tfjs-wasm', 'wgtrain-cpu'], (r) => `${r.shape} ${r.pass}:`, (ours, o) => (o.gflops && ours.gflops ? ours.gflops / o.gflops : undefined));
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n');
}

async function attentionBench(argv: string[]): Promise<void> {
  const f = parse('bench attention', argv, { lengths: { type: 'string', default: ATTENTION_LENGTHS.join(',') }, fed: { type: 'boolean' }, json: { type: 'string' } });
  const lengths = String(f.lengths).split(',').map((s) => intFlag('bench attention', 'lengths', s));
  const gpu = await WebGpuBackend.create();
  try {
    const rows = await benchAttention(gpu, lengths, { fed: !!f.fed });
    console.log(`adapter: ${gpu.description}; q, k, v and the upstream gradient ${f.fed ? 'uploaded at every run' : 'resident on the device'}`);
    console.log('| T | pass | impl | median ms | min | max | device ms |\n|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.T} | ${r.pass} | ${r.impl} | ${r.ms.toFixed(2)} | ${r.min.toFixed(2)} | ${r.max.toFixed(2)} | ${r.deviceMs.toFixed(2)} |`);
    for (const T of lengths) {
      const at = (pass: string, impl: string, key: 'ms' | 'deviceMs') => rows.find((r) => r.T === T && r.pass === pass && r.impl === impl)![key];
      const ratio = (pass: string, key: 'ms' | 'deviceMs') => (at(pass, 'composite', key) / at(pass, 'fused', key)).toFixed(2);
      console.log(`T=${T}: fused ${ratio('forward', 'ms')}x the composite's speed forward, ${ratio('forward+backward', 'ms')}x forward + backward (device time: ${ratio('forward', 'deviceMs')}x, ${ratio('forward+backward', 'deviceMs')}x)`);
    }
    if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n');
  } finally {
    gpu.dispose();
  }
}

async function softmaxXent(argv: string[]): Promise<void> {
  const [f, lists] = parseRepeatable('bench softmax-xent', argv, { sizes: { type: 'string', default: SOFTMAX_XENT_SIZES }, compare: { type: 'string' }, cpu: { type: 'boolean' }, json: { type: 'string' } }, ['compare']);
  const sizes = String(f.sizes).split(',').map(parseXentSize);
  const rows = await benchSoftmaxXent(sizes, { compare: compares('bench softmax-xent', lists.compare, ['tfjs']).has('tfjs'), cpu: !!f.cpu });
  console.log('| shape | impl | GB/s | median ms | min | max |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.shape} | ${r.impl} | ${r.gbps.toFixed(2)} | ${r.ms.toFixed(3)} | ${r.min.toFixed(3)} | ${r.max.toFixed(3)} |`);
  printRatios(rows, ['tfjs-webgpu', 'tfjs-wasm', 'wgtrain-cpu'], (r) => r.shape, (ours, o) => o.ms / ours.ms, ' (time ratio)');
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n');
}
