// The autotune cache on disk (Node): one JSON file, $WGTRAIN_CACHE_DIR/autotune.json, else under $XDG_CACHE_HOME/wgtrain/
// or ~/.cache/wgtrain/. Written atomically, so a reader never sees half a file; a file that is not JSON, or is of
// another version, is ignored with one warning line and replaced at the next save: the cache is only ever a shortcut.
import { readFile, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.js';
import { AutotuneFile, AutotuneStore, checkAutotuneFile } from './autotune.js';

/** The cache directory: WGTRAIN_CACHE_DIR, else XDG_CACHE_HOME/wgtrain, else ~/.cache/wgtrain. */
export function autotuneCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.WGTRAIN_CACHE_DIR) return env.WGTRAIN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wgtrain');
}

/** A store for setAutotuneStore: the file autotune.json in `dir`. `warn` receives the one line about a bad file. */
export function diskAutotuneStore(dir = autotuneCacheDir(), warn: (line: string) => void = (l) => console.warn(l)): AutotuneStore {
  const path = join(dir, 'autotune.json');
  let warned = false;
  return {
    where: path,
    async load(): Promise<AutotuneFile | undefined> {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        return ignore(`cannot read it (${(e as Error).message})`);
      }
      let data: unknown;
      try { data = JSON.parse(text); } catch { return ignore('not JSON'); }
      const why = checkAutotuneFile(data);
      return why ? ignore(why) : (data as AutotuneFile);
    },
    async save(f: AutotuneFile): Promise<void> {
      try {
        await mkdir(dir, { recursive: true });
        await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(f, null, 1)}\n`));
      } catch (e) {
        // A cache that cannot be written costs the next run its tuning time, nothing else.
        ignore(`cannot write it (${(e as Error).message})`);
      }
    },
  };
  function ignore(why: string): undefined {
    if (!warned) { warned = true; warn(`wgtrain: ignoring the autotune cache ${path}: ${why}`); }
    return undefined;
  }
}
