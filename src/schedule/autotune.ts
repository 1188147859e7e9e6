// Autotuning: which GEMM variant and which conv algorithm a node runs is measured on the device the first time a
// shape class is compiled, rather than read off rules tuned by hand for one driver. This module is the part that
// knows nothing of a device: the keys, the cache (in memory always; where a store is installed, such as the disk file
// of autotune_file.ts in Node, also there), and the record of what a compile chose. The measuring lives with the
// backend that runs the candidates (src/backends/webgpu/autotune.ts). Browser-safe.
import type { ConvPass, ConvShape } from './conv_algorithm.js';

/** The cache file's format; a file of another version is ignored (with a warning) and rewritten. */
export const AUTOTUNE_VERSION = 1;

/**
 * The shape class of a size: the next power of two. Every MNIST batch of 128 and the last one of 96 share a class,
 * and a winner measured at one size is close to right across the octave; a size where a variant cannot run falls
 * back to the rule (the backend checks each choice against the node's real sizes).
 */
export const sizeClass = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export type TuneDtype = 'f32' | 'f16';

/** The key of a GEMM: transposes, batch, M x N x K by class, storage precision. */
export function gemmKey(g: { M: number; N: number; K: number; batch: number; transA: boolean; transB: boolean; dtype: TuneDtype }): string {
  const t = `${g.transA ? 'T' : 'N'}${g.transB ? 'T' : 'N'}`;
  return `gemm ${t} ${g.batch > 1 ? `b${sizeClass(g.batch)} ` : ''}${sizeClass(g.M)}x${sizeClass(g.N)}x${sizeClass(g.K)} ${g.dtype}`;
}

/** The key of one pass of a conv layer: its window and channels exactly, the batch by class. */
export function convKey(pass: ConvPass, s: ConvShape, dtype: TuneDtype): string {
  return `conv ${pass} n${sizeClass(s.N)} c${s.C} ${s.H}x${s.W} o${s.O} k${s.kh}x${s.kw} s${s.sh}x${s.sw} p${s.ph}x${s.pw} d${s.dh}x${s.dw} ${dtype}`;
}

/** One measured key: every candidate's best time in ms (Infinity: it failed to run), and the fastest. */
export interface TuneEntry { winner: string; ms: Record<string, number> }

/** The cache as stored: per adapter (its description and GEMM kernel family), per key. */
export interface AutotuneFile { version: number; adapters: Record<string, Record<string, TuneEntry>> }

/** Where the cache persists beyond the process (Node: autotune_file.ts). `load` returns undefined for nothing usable. */
export interface AutotuneStore { readonly where: string; load(): Promise<AutotuneFile | undefined>; save(f: AutotuneFile): Promise<void> }

/** Whether `x` is a cache of this version; otherwise why not. */
export function checkAutotuneFile(x: unknown): string | undefined {
  const f = x as AutotuneFile;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return 'not a JSON object';
  if (f.version !== AUTOTUNE_VERSION) return `version ${JSON.stringify(f.version)}, not ${AUTOTUNE_VERSION}`;
  if (typeof f.adapters !== 'object' || f.adapters === null) return "no 'adapters' object";
  for (const entries of Object.values(f.adapters)) {
    if (typeof entries !== 'object' || entries === null) return 'an adapter without entries';
    for (const e of Object.values(entries)) if (typeof e?.winner !== 'string' || typeof e.ms !== 'object' || e.ms === null) return 'an entry without a winner';
  }
  return undefined;
}

// The process's cache, shared by every backend on the same adapter (two backends in one process tune once).
const memory = new Map<string, Map<string, TuneEntry>>();
let store: AutotuneStore | undefined;
let loaded: Promise<void> | undefined;

/** Persist the cache through `s` (undefined: memory only, the default, and a browser's). */
export function setAutotuneStore(s?: AutotuneStore): void { store = s; loaded = undefined; }

/** Forget the in-memory cache (tests). */
export function clearAutotuneMemory(): void { memory.clear(); loaded = undefined; }

/**
 * Autotuning on unless WGTRAIN_AUTOTUNE says otherwise ('0', 'false', 'off' / '1', 'true', 'on'); `fallback` when unset
 * or in a browser.
 */
export function autotuneDefault(fallback: boolean): boolean {
  const v = typeof process !== 'undefined' ? process.env?.WGTRAIN_AUTOTUNE : undefined;
  if (v === undefined || v === '') return fallback;
  if (/^(0|false|off|no)$/i.test(v)) return false;
  if (/^(1|true|on|yes)$/i.test(v)) return true;
  return fallback;
}

/** Where a choice came from: measured now or before (the cache), a checkpoint's record, or the hand-written rule. */
export type ChoiceSource = 'tuned' | 'recorded' | 'rule';

/**
 * One backend's tuning state: whether to measure, the choices a checkpoint recorded (which win over everything, so a
 * resumed run sums in the order it trained with), and what the compiles so far chose, by key.
 */
export class Autotuner {
  readonly pinned = new Map<string, string>();
  readonly used = new Map<string, { choice: string; source: ChoiceSource }>();
  constructor(readonly adapter: string, public enabled: boolean) {}

  private entries(): Map<string, TuneEntry> {
    let m = memory.get(this.adapter);
    if (!m) memory.set(this.adapter, (m = new Map()));
    return m;
  }

  /** The cache's entry for `key` on this adapter, if measured. */
  entry(key: string): TuneEntry | undefined { return this.entries().get(key); }

  /** The choice for `key`: recorded, else (when enabled) measured, else undefined (the rule decides). */
  lookup(key: string): { choice: string; source: ChoiceSource } | undefined {
    const p = this.pinned.get(key);
    if (p !== undefined) return { choice: p, source: 'recorded' };
    const e = this.enabled ? this.entries().get(key) : undefined;
    return e && { choice: e.winner, source: 'tuned' };
  }

  /** Whether `key` still needs measuring. */
  wants(key: string): boolean { return this.enabled && !this.pinned.has(key) && !this.entries().has(key); }

  record(key: string, e: TuneEntry): void { this.entries().set(key, e); }

  /** What a compile chose for `key` (only tracked while tuning is on or choices are pinned: a rules-only run records nothing). */
  note(key: string, choice: string, source: ChoiceSource): void {
    if (this.enabled || this.pinned.size) this.used.set(key, { choice, source });
  }

  /** The choices so far, for a checkpoint (key -> choice), sorted by key. */
  choices(): Record<string, string> {
    return Object.fromEntries([...this.used].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.choice]));
  }

  /** Use these choices wherever their keys come up (a checkpoint's record). */
  pin(choices: Record<string, string>): void { for (const [k, v] of Object.entries(choices)) this.pinned.set(k, v); }

  /** Merge the store's file into memory, once per process (and per store). */
  async load(): Promise<void> {
    if (!store) return;
    const s = store;
    loaded ??= (async () => {
      const f = await s.load();
      for (const [adapter, entries] of Object.entries(f?.adapters ?? {})) {
        let m = memory.get(adapter);
        if (!m) memory.set(adapter, (m = new Map()));
        for (const [k, e] of Object.entries(entries)) if (!m.has(k)) m.set(k, e);
      }
    })();
    await loaded;
  }

  /** Write the memory cache, merged over what the store holds now (another process may have tuned meanwhile). */
  async save(): Promise<void> {
    if (!store) return;
    const f = (await store.load()) ?? { version: AUTOTUNE_VERSION, adapters: {} };
    for (const [adapter, m] of memory) f.adapters[adapter] = { ...f.adapters[adapter], ...Object.fromEntries(m) };
    await store.save(f);
  }
}

/**
 * A measured key, as tune() reports it: the node it came from and the candidates' times; `now` when this call
 * measured them, false when they came from the cache (a 'tuned' source either way).
 */
export interface TuneResult { key: string; node: string; candidates: Record<string, number>; winner: string; rule: string; source: ChoiceSource; now: boolean }
