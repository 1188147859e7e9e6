// Replace a file so that, whatever happens (a crash, a kill, a power cut), the path holds either the old contents or
// the new ones in full: write a temporary file in the same directory (rename is atomic only within one file system),
// fsync it so its bytes are on disk before the name points at them, rename it over the target, then fsync the
// directory so the rename itself survives a power cut. A failed write removes its temporary file; a killed one
// cannot, so the temporary name carries the writer's pid and the next writer of the same path removes those whose
// process is gone (sweepStaleTemps).
import { open, rename, unlink, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Test hook for the crash-during-save tests: with WGTRAIN_TEST_PAUSE_SAVE=N in the environment, the Nth atomic write
 * of the process (1: the first) stops after half the temporary file, says so on stderr, and waits a minute, long
 * enough for the test to SIGKILL the process.
 */
const PAUSE_ENV = 'WGTRAIN_TEST_PAUSE_SAVE';
let writes = 0;

/** A save that failed: names the file, why, and what the path holds now. */
export class SaveError extends Error {
  override name = 'SaveError';
  constructor(readonly path: string, readonly code: string | undefined, detail: string, existed: boolean) {
    super(`cannot write ${path} (${code ? `${code}: ` : ''}${detail}); ${existed ? `${path} keeps its previous contents` : 'nothing was written there'}`);
  }
}

const tmpPrefix = (path: string) => `.${basename(path)}.`;
const TMP_TAIL = /^(\d+)-[0-9a-f]{8}\.tmp$/;

/** `.NAME.<pid>-<8 hex>.tmp` beside `path`. */
export const tempPathFor = (path: string) => join(dirname(path), `${tmpPrefix(path)}${process.pid}-${randomBytes(4).toString('hex')}.tmp`);

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
};

/**
 * Removes the temporary files of `path` left by writers that died mid-save (their pid no longer runs, or it is this
 * process, which has not saved yet when a run calls this). A live process's temporary file is left alone. Returns
 * the files removed.
 */
export async function sweepStaleTemps(path: string): Promise<string[]> {
  const prefix = tmpPrefix(path), removed: string[] = [];
  for (const name of await readdir(dirname(path)).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const m = TMP_TAIL.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && alive(pid)) continue;
    const file = join(dirname(path), name);
    if (await unlink(file).then(() => true, () => false)) removed.push(file);
  }
  return removed;
}

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  const existed = await stat(path).then(() => true, () => false);
  const failed = (e: unknown) => {
    const err = e as NodeJS.ErrnoException;
    return new SaveError(path, err.code, (err.message ?? String(e)).replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, ''), existed);
  };
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
  } catch (e) {
    throw failed(e);
  }
  try {
    const handle = fh;
    const writeAll = async (from: number, to: number) => {
      for (let at = from; at < to;) at += (await handle.write(data, at, to - at, at)).bytesWritten;
    };
    const half = data.length >> 1;
    await writeAll(0, half);
    if (++writes === Number(process.env[PAUSE_ENV])) {
      await handle.sync();
      process.stderr.write(`${PAUSE_ENV}: paused after ${half} of ${data.length} bytes of ${tmp}\n`);
      await new Promise((r) => setTimeout(r, 60_000));
    }
    await writeAll(half, data.length);
    await handle.sync();
    await handle.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw failed(e);
  }
  if (process.platform !== 'win32') { // Windows cannot open a directory to fsync it
    const d = await open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  }
}
