// The run's checkpoint in the Origin Private File System: one file, replaced as the run goes (createWritable writes
// a swap file and swaps it in on close, so a reload mid-write leaves the previous checkpoint whole). Both the worker
// and the page's own thread can reach it.
// Beside it, the data of a run on the user's own table or images (data.ts: encodePageData), so that a reload resumes
// it without the file, and the text tab's GPT run (its checkpoint, and its text: text_tab.ts).
const FILE = 'run.safetensors';
export const DATA_FILE = 'run-data.safetensors';
export const TEXT_FILE = 'text-run.safetensors';
export const TEXT_DATA = 'text-run.txt';

const root = () => navigator.storage.getDirectory();

export async function saveRun(bytes: Uint8Array, name = FILE): Promise<void> {
  const handle = await (await root()).getFileHandle(name, { create: true });
  const w = await handle.createWritable();
  await w.write(bytes as Uint8Array<ArrayBuffer>);
  await w.close();
}

/** The saved run's bytes (or those of the file `name` beside it), or undefined when there is none. */
export async function loadRun(name = FILE): Promise<Uint8Array | undefined> {
  try {
    const file = await (await (await root()).getFileHandle(name)).getFile();
    return new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    if ((e as DOMException).name === 'NotFoundError') return undefined;
    throw e;
  }
}

export async function forgetRun(...names: string[]): Promise<void> {
  for (const name of names.length ? names : [FILE, DATA_FILE]) {
    await (await root()).removeEntry(name).catch((e: DOMException) => { if (e.name !== 'NotFoundError') throw e; });
  }
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
