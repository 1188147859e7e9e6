// The run's checkpoint in the Origin Private File System: one file, replaced as the run goes (createWritable writes
// a swap file and swaps it in on close, so a reload mid-write leaves the previous checkpoint whole). Both the worker
// and the page's own thread can reach it.
const FILE = 'run.safetensors';

const root = () => navigator.storage.getDirectory();

export async function saveRun(bytes: Uint8Array): Promise<void> {
  const handle = await (await root()).getFileHandle(FILE, { create: true });
  const w = await handle.createWritable();
  await w.write(bytes as Uint8Array<ArrayBuffer>);
  await w.close();
}

/** The saved run's bytes, or undefined when there is none. */
export async function loadRun(): Promise<Uint8Array | undefined> {
  try {
    const file = await (await (await root()).getFileHandle(FILE)).getFile();
    return new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    if ((e as DOMException).name === 'NotFoundError') return undefined;
    throw e;
  }
}

export async function forgetRun(): Promise<void> {
  await (await root()).removeEntry(FILE).catch((e: DOMException) => { if (e.name !== 'NotFoundError') throw e; });
}

/** FNV-1a over the bytes of float arrays: equal hashes mean bit-equal weights (what 'resumed' and 'saved' compare). */
export function weightsHash(values: readonly Float32Array[]): string {
  let h = 0x811c9dc5;
  for (const v of values) {
    const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
