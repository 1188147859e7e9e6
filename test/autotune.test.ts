import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Autotuner, AUTOTUNE_VERSION, autotuneDefault, clearAutotuneMemory, convKey, gemmKey, setAutotuneStore, sizeClass } from '../src/schedule/autotune.js';
import { autotuneCacheDir, diskAutotuneStore } from '../src/schedule/autotune_file.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wgtrain-tune-'));

afterEach(() => { setAutotuneStore(); clearAutotuneMemory(); });

describe('autotune keys', () => {
  it('puts a batch of 128 and the last batch of 96 in one class, and 129 in the next', () => {
    expect(sizeClass(96)).toBe(128);
    expect(sizeClass(128)).toBe(128);
    expect(sizeClass(129)).toBe(256);
    const k = (M: number) => gemmKey({ M, N: 256, K: 784, batch: 1, transA: false, transB: false, dtype: 'f32' });
    expect(k(96)).toBe(k(128));
    expect(k(129)).not.toBe(k(128));
    expect(k(128)).toBe('gemm NN 128x256x1024 f32');
    expect(gemmKey({ M: 128, N: 256, K: 784, batch: 1, transA: true, transB: false, dtype: 'f16' })).toBe('gemm TN 128x256x1024 f16');
    const s = { N: 96, C: 1, H: 28, W: 28, OH: 28, OW: 28, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, O: 32 };
    expect(convKey('dw', s, 'f32')).toBe(convKey('dw', { ...s, N: 128 }, 'f32'));
    expect(convKey('dw', s, 'f32')).not.toBe(convKey('dx', s, 'f32'));
  });

  it('reads WGTRAIN_AUTOTUNE', () => {
    const was = process.env.WGTRAIN_AUTOTUNE;
    try {
      delete process.env.WGTRAIN_AUTOTUNE;
      expect(autotuneDefault(true)).toBe(true);
      process.env.WGTRAIN_AUTOTUNE = '0';
      expect(autotuneDefault(true)).toBe(false);
      process.env.WGTRAIN_AUTOTUNE = 'on';
      expect(autotuneDefault(false)).toBe(true);
    } finally {
      if (was === undefined) delete process.env.WGTRAIN_AUTOTUNE; else process.env.WGTRAIN_AUTOTUNE = was;
    }
  });
});

describe('autotune cache', () => {
  it('prefers a recorded choice, then the cache, and measures nothing when off', () => {
    const t = new Autotuner('adapter A', true);
    expect(t.wants('k')).toBe(true);
    t.record('k', { winner: 'b', ms: { a: 2, b: 1 } });
    expect(t.wants('k')).toBe(false);
    expect(t.lookup('k')).toEqual({ choice: 'b', source: 'tuned' });
    t.pin({ k: 'a' });
    expect(t.lookup('k')).toEqual({ choice: 'a', source: 'recorded' });
    const off = new Autotuner('adapter A', false);
    expect(off.wants('j')).toBe(false);
    expect(off.lookup('k')).toBeUndefined(); // off: the rules, though the process has measured it
    expect(new Autotuner('adapter B', true).lookup('k')).toBeUndefined(); // another adapter's entry is not this one's
  });

  it('round-trips through the disk file, written atomically, merged with what another process wrote', async () => {
    const dir = tmp(), warnings: string[] = [];
    setAutotuneStore(diskAutotuneStore(dir, (l) => warnings.push(l)));
    const t = new Autotuner('adapter A', true);
    t.record('gemm NN 128x256x1024 f32', { winner: 'subgroup 32x64', ms: { packed: 3.5, 'subgroup 32x64': 1.25 } });
    await t.save();
    const file = JSON.parse(readFileSync(join(dir, 'autotune.json'), 'utf8'));
    expect(file.version).toBe(AUTOTUNE_VERSION);
    expect(file.adapters['adapter A']['gemm NN 128x256x1024 f32'].winner).toBe('subgroup 32x64');
    expect(readdirSync(dir)).toEqual(['autotune.json']); // no temporary file left
    // Another process adds an entry; this one's next save keeps it.
    file.adapters['adapter B'] = { other: { winner: 'x', ms: { x: 1 } } };
    writeFileSync(join(dir, 'autotune.json'), JSON.stringify(file));
    await t.save();
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'autotune.json'), 'utf8')).adapters).sort()).toEqual(['adapter A', 'adapter B']);
    // A fresh process (memory cleared) reads it back.
    clearAutotuneMemory();
    setAutotuneStore(diskAutotuneStore(dir, (l) => warnings.push(l)));
    const u = new Autotuner('adapter A', true);
    expect(u.wants('gemm NN 128x256x1024 f32')).toBe(true);
    await u.load();
    expect(u.lookup('gemm NN 128x256x1024 f32')).toEqual({ choice: 'subgroup 32x64', source: 'tuned' });
    expect(u.entry('gemm NN 128x256x1024 f32')?.ms.packed).toBe(3.5);
    expect(warnings).toEqual([]);
  });

  for (const [what, text, why] of [
    ['a corrupt file', '{"version": 1, "adap', 'not JSON'],
    ['a file of another version', JSON.stringify({ version: AUTOTUNE_VERSION + 1, adapters: {} }), `version ${AUTOTUNE_VERSION + 1}, not ${AUTOTUNE_VERSION}`],
    ['a file of the wrong shape', JSON.stringify({ version: AUTOTUNE_VERSION, adapters: { a: { k: { ms: {} } } } }), 'an entry without a winner'],
  ]) {
    it(`ignores ${what} with one warning line, and replaces it at the next save`, async () => {
      const dir = tmp(), warnings: string[] = [];
      writeFileSync(join(dir, 'autotune.json'), text);
      setAutotuneStore(diskAutotuneStore(dir, (l) => warnings.push(l)));
      const t = new Autotuner('adapter A', true);
      await t.load();
      expect(t.lookup('k')).toBeUndefined();
      t.record('k', { winner: 'a', ms: { a: 1 } });
      await t.save(); // reads the bad file again: still one warning
      expect(warnings).toEqual([`wgtrain: ignoring the autotune cache ${join(dir, 'autotune.json')}: ${why}`]);
      expect(JSON.parse(readFileSync(join(dir, 'autotune.json'), 'utf8'))).toEqual({ version: AUTOTUNE_VERSION, adapters: { 'adapter A': { k: { winner: 'a', ms: { a: 1 } } } } });
    });
  }

  it('finds its directory from WGTRAIN_CACHE_DIR, XDG_CACHE_HOME or the home directory', () => {
    expect(autotuneCacheDir({ WGTRAIN_CACHE_DIR: '/x/y', XDG_CACHE_HOME: '/c' })).toBe('/x/y');
    expect(autotuneCacheDir({ XDG_CACHE_HOME: '/c' })).toBe(join('/c', 'wgtrain'));
    expect(autotuneCacheDir({})).toMatch(/\.cache[/\\]wgtrain$/);
  });
});
