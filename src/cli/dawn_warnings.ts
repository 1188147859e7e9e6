// Dawn's Vulkan backend prints two lines to stderr when it enumerates an adapter whose descriptor limits exceed what
// its dynamic-offset scheme supports (lavapipe reports 1,000,000): "Warning: maxDynamicUniformBuffersPerPipelineLayout
// artificially reduced from 1000000 to 16 ..." and the same for storage buffers. They say nothing a user can act on,
// and Dawn offers no toggle or callback for them (they are written by the native code straight to file descriptor 2,
// before any device, and so any logging callback, exists). So, on Linux, while the adapter is requested, fd 2 is
// pointed at a temporary file; afterwards the original is reopened through /proc/self/fd and everything captured is
// passed on except those two exact lines, so a real driver error still reaches the user. Only the CLI installs
// this (setAdapterRequestHook): a library user's process keeps its stderr untouched.
import { openSync, closeSync, readFileSync, writeSync, unlinkSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The lines dropped: only these, so that any other warning or error Dawn or the driver prints is kept. */
export const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\n/gm;

/** Runs `work` with fd 2 captured, then forwards what was written there, less DAWN_NOISE. */
export async function withDawnWarningsFiltered<T>(work: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux') return work();
  let saved: number, capture: string;
  try {
    saved = openSync('/proc/self/fd/2', constants.O_WRONLY | constants.O_APPEND);
  } catch {
    return work(); // a socket or a closed stderr: leave it alone
  }
  capture = join(tmpdir(), `.wgtrain-stderr-${process.pid}-${Date.now()}.log`);
  closeSync(2);
  // open() returns the lowest free descriptor, which is 2 now.
  const fd = openSync(capture, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600);
  const restore = () => {
    closeSync(fd);
    if (fd === 2) openSync(`/proc/self/fd/${saved}`, constants.O_WRONLY | constants.O_APPEND); // back to descriptor 2
    closeSync(saved);
    let text = '';
    try { text = readFileSync(capture, 'utf8'); unlinkSync(capture); } catch { /* nothing captured */ }
    const kept = text.replace(DAWN_NOISE, '');
    if (kept) writeSync(2, kept);
  };
  if (fd !== 2) { restore(); return work(); } // another thread took descriptor 2 first: do not filter
  try {
    return await work();
  } finally {
    restore();
  }
}
