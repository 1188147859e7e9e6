// `wgtrain import --from pytorch`: a PyTorch state_dict (safetensors) into a wgtrain checkpoint of a model config, with
// one error naming every tensor that does not fit. The result holds weights only (no optimizer state): `predict` reads
// it, and a run can start from it.
import { existsSync } from 'node:fs';
import { readSafetensorsBytes } from '../store/safetensors_file.js';
import { writeFileAtomic } from '../store/atomic.js';
import { importPytorch } from '../export/import_pytorch.js';
import { resolveModel } from './model_arg.js';
import { Rng } from '../util/rng.js';
import { parse, choice, UsageError } from './args.js';
import { MODEL_FLAG_HELP } from './model_arg.js';

export const IMPORT_HELP = `usage: wgtrain import --from pytorch STATE.safetensors --model NAME|FILE --out CHECKPOINT

  --from pytorch     the format of the positional file: a PyTorch state_dict saved as safetensors, with the names and
                     layouts of the model.py that 'wgtrain export --format pytorch' writes (train_ddp.py --save writes one)
  --model NAME|FILE  ${MODEL_FLAG_HELP}
  --out FILE         the wgtrain checkpoint to write (weights only); must not exist yet`;

export async function importCommand(argv: string[]): Promise<void> {
  const files = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));
  const f = parse('import', argv.filter((a) => !files.includes(a)), { from: { type: 'string' }, model: { type: 'string' }, out: { type: 'string' } });
  choice('import', 'from', f.from, ['pytorch']);
  if (files.length !== 1) throw new UsageError(`import: expected one state dict file after --from pytorch, got ${files.length ? files.join(' ') : 'none'}`);
  if (typeof f.model !== 'string') throw new UsageError('import: --model NAME|FILE is required (the model the state dict belongs to)');
  if (typeof f.out !== 'string') throw new UsageError('import: --out CHECKPOINT is required');
  if (existsSync(f.out)) throw new UsageError(`import: --out ${f.out} already exists (choose a new file; nothing is overwritten)`);
  const resolved = await resolveModel('import', f.model, new Rng(0));
  if (!resolved.config) throw new UsageError(`import: model ${f.model} has no config to map names by (use a named config model or a JSON model file)`);
  const bytes = importPytorch(await readSafetensorsBytes(files[0]), resolved.config, files[0], { name: resolved.name, description: resolved.description });
  await writeFileAtomic(f.out, bytes);
  console.log(`wrote ${f.out} (${resolved.name}: ${resolved.parameterCount.toLocaleString('en')} parameters from ${files[0]})`);
}
