// Output paths (--save, --json, --metrics and the plot beside it, --plot), checked before any work starts: a run
// that trains for an hour and then finds its --json directory missing has lost the hour, and a run that writes its
// checkpoint over its own --model file has destroyed the user's config. Each output must be a new path or a regular
// file in a writable directory, none may be one of the run's inputs (compared by device and inode, so another
// spelling or a link to the same file is caught), no two outputs may be the same file, and --save may replace only a
// checkpoint of the same model unless --overwrite says otherwise.
import { stat, access, realpath, readdir, open, unlink, constants } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { dirname, basename, resolve, join } from 'node:path';
import { readCheckpoint } from '../train/checkpoint_file.js';
import { sweepStaleTemps } from '../store/atomic.js';
import { UsageError } from './args.js';
import { plotPathFor } from './progress.js';

export interface NamedPath { flag: string; path: string }

const statOrUndefined = (p: string) => stat(p).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined; throw e; });
const inode = (s: Stats) => `${s.dev}:${s.ino}`;

/** The files a --data-dir, --model, --data, --resume or --init-from flag reads: a directory stands for every file in it. */
async function inputFiles(inputs: NamedPath[]): Promise<Map<string, NamedPath>> {
  const byInode = new Map<string, NamedPath>();
  for (const i of inputs) {
    const s = await statOrUndefined(i.path);
    if (!s) continue;
    if (s.isDirectory()) {
      for (const name of await readdir(i.path).catch(() => [] as string[])) {
        const f = await statOrUndefined(join(i.path, name));
        if (f?.isFile()) byInode.set(inode(f), { flag: i.flag, path: join(i.path, name) });
      }
    } else byInode.set(inode(s), i);
  }
  return byInode;
}

/** Where an output will land: its inode when it exists, else its directory's real path and its name. */
async function checkOne(command: string, o: NamedPath): Promise<string> {
  const say = (why: string): never => { throw new UsageError(`${command}: ${o.flag} ${o.path}: ${why}`); };
  if (o.path === '') say('an empty path (expected a file name)');
  const dir = dirname(resolve(o.path));
  const d = await statOrUndefined(dir);
  if (!d) say(`the directory ${dir} does not exist (create it first)`);
  if (!d!.isDirectory()) say(`${dir} is not a directory`);
  // Creating a file is the test that holds for every reason a write can fail (permissions, a read-only mount, root).
  const probe = join(dir, `.wgtrain-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  const made = await open(probe, 'wx').then(async (h) => { await h.close(); await unlink(probe); }, (e: NodeJS.ErrnoException) => e.code);
  if (made) say(`cannot create files in ${dir} (${made})`);
  const s = await statOrUndefined(o.path);
  if (!s) return join(await realpath(dir), basename(o.path));
  if (s.isDirectory()) say('is a directory (expected a file name)');
  if (!s.isFile()) say('is not a regular file (a device, FIFO or socket; expected a file name)');
  if (await access(o.path, constants.W_OK).then(() => false, () => true)) say('exists and is not writable');
  return inode(s);
}

export interface OutputCheck {
  outputs: NamedPath[];
  inputs: NamedPath[];
  /** --save: an existing file there must be a checkpoint of this model (unless --overwrite or it is --resume's file). */
  save?: { path: string; model: Record<string, unknown>; overwrite: boolean; resume?: string };
}

export async function checkOutputs(command: string, c: OutputCheck): Promise<void> {
  const inputs = await inputFiles(c.inputs);
  const seen = new Map<string, NamedPath>();
  const resumeInode = c.save?.resume ? await statOrUndefined(c.save.resume).then((s) => s && inode(s)) : undefined;
  for (const o of c.outputs.filter((x) => x.path !== undefined)) {
    const key = await checkOne(command, o);
    const input = inputs.get(key);
    // Saving over the checkpoint a run resumed from is how a run continues; any other input is the user's.
    if (input && !(o.flag === '--save' && key === resumeInode)) {
      throw new UsageError(`${command}: ${o.flag} ${o.path} is the same file as ${input.flag} ${input.path}, which this run reads; writing it would destroy it (choose another output path)`);
    }
    const twin = seen.get(key);
    if (twin) throw new UsageError(`${command}: ${o.flag} ${o.path} and ${twin.flag} ${twin.path} are the same file (expected a different path for each output)`);
    seen.set(key, o);
  }
  const s = c.save;
  if (!s || s.overwrite || (await statOrUndefined(s.path)) === undefined) return;
  if (resumeInode !== undefined && resumeInode === (await statOrUndefined(s.path).then((x) => x && inode(x)))) return;
  const refuse = (what: string): never => { throw new UsageError(`${command}: --save ${s.path} exists and ${what}; refusing to replace it (pass --overwrite to replace it, or choose another path)`); };
  const meta = await readCheckpoint(s.path).then((r) => r.meta, () => undefined);
  if (!meta) refuse('is not a wgtrain checkpoint');
  // The same model: the same config when both record one (a model file may move), else the same name.
  const k = meta!.model.config && s.model.config ? 'config' : 'name';
  if (JSON.stringify(meta!.model[k]) !== JSON.stringify(s.model[k])) refuse(`holds a checkpoint of another model (${String(meta!.model.name)})`);
}

/**
 * `wgtrain train`'s outputs against its inputs, then the stale temporary files of its checkpoint swept. `f` holds the
 * parsed flags; `model` is what the checkpoint will record about the model (compared with an existing --save file). A --model
 * that names a built-in model is no file, so it matches nothing.
 */
export async function checkTrainOutputs(f: Record<string, unknown>, model: Record<string, unknown>): Promise<void> {
  const str = (k: string) => (typeof f[k] === 'string' ? (f[k] as string) : undefined);
  const named = (pairs: [string, string | undefined][]) => pairs.filter((p): p is [string, string] => p[1] !== undefined).map(([flag, path]) => ({ flag, path }));
  const metrics = str('metrics');
  await checkOutputs('train', {
    outputs: named([['--save', str('save')], ['--json', str('json')], ['--metrics', metrics], [str('plot') ? '--plot' : '--metrics\'s plot', str('plot') ?? (metrics && plotPathFor(metrics))]]),
    inputs: named([['--model', str('model')], ['--data', str('data')], ['--data-dir', str('data-dir')], ['--resume', str('resume')], ['--init-from', str('init-from')]]),
    save: str('save') === undefined ? undefined : { path: str('save')!, model, overwrite: f.overwrite === true, resume: str('resume') },
  });
  const save = str('save');
  if (save) for (const file of await sweepStaleTemps(save)) console.log(`removed ${file}, left by a save that was killed`);
}
