// Replace a file so that, whatever happens (a crash, a kill, a power cut), the path holds either the old contents or
// the new ones in full: write a temporary file in the same directory (rename is atomic only within one file system),
// fsync it so its bytes are on disk before the name points at them, rename it over the target, then fsync the
// directory so the rename itself survives a power cut.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Test hook for the crash-during-save test: with WGTRAIN_TEST_PAUSE_SAVE=1 in the environment, the writer stops after
 * half the temporary file, says so on stderr, and waits a minute, long enough for the test to SIGKILL the process.
 */
const PAUSE_ENV = 'WGTRAIN_TEST_PAUSE_SAVE';

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    const writeAll = async (from: number, to: number) => {
      for (let at = from; at < to;) at += (await fh.write(data, at, to - at, at)).bytesWritten;
    };
    const half = data.length >> 1;
    await writeAll(0, half);
    if (process.env[PAUSE_ENV] === '1') {
      await fh.sync();
      process.stderr.write(`${PAUSE_ENV}: paused after ${half} of ${data.length} bytes of ${tmp}\n`);
      await new Promise((r) => setTimeout(r, 60_000));
    }
    await writeAll(half, data.length);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  if (process.platform !== 'win32') { // Windows cannot open a directory to fsync it
    const d = await open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  }
}
