// `wgtrain export`: a checkpoint as a PyTorch project that continues its training (--format pytorch, a directory), or
// as an ONNX model for inference (--format onnx, one file). Nothing that exists is overwritten.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../train/checkpoint_file.js';
import { exportPytorch } from '../export/pytorch.js';
import { exportOnnx } from '../export/onnx.js';
import { mnistDir, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { writeFileAtomic } from '../store/atomic.js';
import { parse, choice, UsageError } from './args.js';
import { recordedModel } from './recorded_model.js';

export const EXPORT_HELP = `usage: wgtrain export --weights CHECKPOINT --format pytorch|onnx --out PATH

  --weights FILE     a checkpoint written by 'wgtrain train --save FILE'
  --format NAME      pytorch: a directory with model.py (torch.nn layers), model.safetensors (the state_dict),
                     optimizer.safetensors and training.json (the optimizer's state, hyper-parameters and schedule
                     position), train_ddp.py (continues training: torchrun --nproc_per_node=N train_ddp.py, or
                     python3 train_ddp.py --nproc N) and safetensors_io.py (needs no 'safetensors' package)
                     onnx: the forward graph as one .onnx file, for inference (onnxruntime and others)
  --out PATH         pytorch: a directory, new or empty; onnx: a file that does not exist yet`;

export async function exportCommand(argv: string[]): Promise<void> {
  const f = parse('export', argv, { weights: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } });
  if (typeof f.weights !== 'string') throw new UsageError(`export: --weights CHECKPOINT is required (a file written by 'wgtrain train --save FILE')`);
  if (typeof f.out !== 'string') throw new UsageError('export: --out PATH is required (pytorch: a directory; onnx: a .onnx file)');
  const format = choice('export', 'format', f.format, ['pytorch', 'onnx'] as const);
  const ck = await readCheckpoint(f.weights);
  recordedModel(f.weights, ck.meta.model); // a damaged model record fails here with its field named, not deep inside
  if (format === 'onnx') {
    if (existsSync(f.out)) throw new UsageError(`export: --out ${f.out} already exists (choose a new file; nothing is overwritten)`);
    await writeFileAtomic(f.out, exportOnnx(ck, f.weights));
    console.log(`wrote ${f.out}`);
    return;
  }
  const files = exportPytorch(ck, f.weights, { mnistDir: mnistDir(), mnistMean: MNIST_MEAN, mnistStd: MNIST_STD });
  if (existsSync(f.out) && (await readdir(f.out)).length) throw new UsageError(`export: --out ${f.out} is not empty (choose a new or empty directory; nothing is overwritten)`);
  await mkdir(f.out, { recursive: true });
  for (const [name, content] of files) await writeFile(join(f.out, name), content, { flag: 'wx' });
  console.log(`wrote ${[...files.keys()].join(', ')} to ${f.out}`);
  console.log(`continue training: cd ${f.out} && python3 train_ddp.py --nproc 2 --epochs 1   (or: torchrun --nproc_per_node=2 train_ddp.py --epochs 1)`);
}
