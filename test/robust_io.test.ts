// The pieces under "nothing a user owns is lost": bounded reads, atomic writes that clean up after any failure, the
// sweep of temporary files left by killed writers (never a live writer's), the model budget, and the filter that
// drops Dawn's two start-up warnings but passes every other line of stderr.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { readBounded } from '../src/store/read_bounded.js';
import { writeFileAtomic, sweepStaleTemps, SaveError } from '../src/store/atomic.js';
import { buildModel, ConfigError } from '../src/nn/config.js';
import { jsonDepth, jsonTextDepth } from '../src/nn/budget.js';
import { Rng } from '../src/util/rng.js';

const dir = () => mkdtempSync(join(tmpdir(), 'wgtrain-io-'));
const bounded = (maxBytes: number) => ({ maxBytes, expected: 'a test file', error: (m: string) => new Error(m) });

describe('bounded reads', () => {
  it('reads a regular file, refuses devices, FIFOs, directories and files over the bound', async () => {
    const d = dir();
    writeFileSync(join(d, 'f'), 'hello');
    expect((await readBounded(join(d, 'f'), bounded(5))).toString()).toBe('hello');
    await expect(readBounded(join(d, 'f'), bounded(4))).rejects.toThrow(/f: is 5 bytes \(0\.000 MiB\), more than the 0\.000 MiB accepted for a test file/);
    await expect(readBounded('/dev/zero', bounded(1e9))).rejects.toThrow(/^\/dev\/zero: is a character device, not a regular file \(expected a test file\)$/);
    await expect(readBounded(d, bounded(1e9))).rejects.toThrow(/is a directory, not a regular file/);
    execFileSync('mkfifo', [join(d, 'p')]);
    const t0 = performance.now();
    await expect(readBounded(join(d, 'p'), bounded(1e9))).rejects.toThrow(/p: is a FIFO \(named pipe\)/);
    expect(performance.now() - t0).toBeLessThan(1000); // opened non-blocking: no writer needed
    await expect(readBounded(join(d, 'missing'), bounded(1))).rejects.toThrow(/missing: cannot read: no such file \(expected a test file\)/);
  });
});

describe('atomic writes', () => {
  it('a failed rename removes the temporary file and names the file and what it keeps', async () => {
    const d = dir();
    mkdirSync(join(d, 'target'));
    writeFileSync(join(d, 'target', 'x'), 'occupied'); // a non-empty directory cannot be renamed over
    const e = await writeFileAtomic(join(d, 'target'), new Uint8Array(10)).catch((x) => x);
    expect(e).toBeInstanceOf(SaveError);
    expect(e.message).toMatch(new RegExp(`^cannot write ${join(d, 'target')} \\((EISDIR|ENOTEMPTY|EEXIST): .*\\); ${join(d, 'target')} keeps its previous contents$`));
    expect(readdirSync(d)).toEqual(['target']);
  });

  it('a missing directory says nothing was written', async () => {
    const d = dir();
    const e = await writeFileAtomic(join(d, 'no', 'f.st'), new Uint8Array(4)).catch((x) => x);
    expect(e.message).toMatch(/^cannot write .*f\.st \(ENOENT: .*\); nothing was written there$/);
  });

  it('the sweep removes temporary files of dead writers and of this pid, never a live writer\'s or another name\'s', async () => {
    const d = dir(), target = join(d, 'ck.st');
    // A live process that is not us: a sleeping child.
    const live = spawn('sleep', ['30']);
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its pid no longer runs
    const names = [`.ck.st.${dead}-0123abcd.tmp`, `.ck.st.${process.pid}-89abcdef.tmp`, `.ck.st.${live.pid}-deadbeef.tmp`, `.other.st.${dead}-0123abcd.tmp`, '.ck.st.notapid.tmp'];
    for (const n of names) writeFileSync(join(d, n), 'x');
    const removed = await sweepStaleTemps(target);
    live.kill();
    expect(removed.map((p) => p.slice(d.length + 1)).sort()).toEqual([names[0], names[1]].sort());
    expect(readdirSync(d).sort()).toEqual([names[2], names[3], names[4]].sort());
  });
});

describe('model budget and nesting', () => {
  it('the total parameter budget names the layer where it is passed, before that layer allocates', () => {
    const cfg = { input: [10], layers: [{ type: 'linear', out: 100 }, { type: 'linear', out: 100 }, { type: 'linear', out: 100 }] };
    // 4,400 + 40,400 bytes fit 50,000; the third layer's weight (40,000 more) does not.
    expect(() => buildModel(cfg, new Rng(1), 'm.json', { tensorBytes: 1e6, totalBytes: 50_000 })).toThrow(new ConfigError('m.json: layer 2 (linear): the parameters up to here would need 84800 bytes, more than the model budget of 50000 bytes'));
    expect(() => buildModel(cfg, new Rng(1), 'm.json', { tensorBytes: 39_999, totalBytes: 1e9 })).toThrow(new ConfigError('m.json: layer 1 (linear): its weight [100, 100] would need 40000 bytes, more than the 39999 bytes one tensor may have'));
    expect(buildModel(cfg, new Rng(1), 'm.json', { tensorBytes: 1e6, totalBytes: 1e6 }).parameterCount).toBe(1100 + 10100 + 10100);
  });

  it('depth is measured without recursion, on values and on text', () => {
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000));
    expect(jsonDepth(deep, 64)).toBe(65);
    expect(jsonDepth({ a: [1, { b: [] }] }, 64)).toBe(4);
    expect(jsonTextDepth('['.repeat(100000) + ']'.repeat(100000), 64)).toBe(65);
    expect(jsonTextDepth('{"a": "[[[[[[[[", "b": [1, {"c": "\\"]]"}]}', 64)).toBe(3);
  });
});

describe("Dawn's start-up warnings", () => {
  it('the two lines are dropped from stderr; every other line, before, inside and after, is kept', () => {
    const d = dir();
    buildSync({ entryPoints: ['src/cli/dawn_warnings.ts'], bundle: true, platform: 'node', format: 'esm', outfile: join(d, 'filter.mjs'), logLevel: 'silent' });
    const warn = (kind: string) => `Warning: maxDynamic${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n`;
    writeFileSync(join(d, 'run.mjs'), `import { writeSync } from 'node:fs';
import { withDawnWarningsFiltered } from './filter.mjs';
writeSync(2, 'before\\n');
await withDawnWarningsFiltered(async () => { writeSync(2, '${warn('Uniform')}real driver error: VK_ERROR_DEVICE_LOST\\n${warn('Storage')}'); console.error('console inside'); });
writeSync(2, 'after\\n');
`);
    for (const mode of ['file', 'pipe'] as const) {
      let stderr: string;
      if (mode === 'file') {
        const fd = openSync(join(d, 'err'), 'w');
        spawnSync(process.execPath, [join(d, 'run.mjs')], { stdio: ['ignore', 'ignore', fd] });
        closeSync(fd);
        stderr = readFileSync(join(d, 'err'), 'utf8');
      } else {
        stderr = execFileSync('sh', ['-c', `"${process.execPath}" "${join(d, 'run.mjs')}" 2>&1 >/dev/null | cat`], { encoding: 'utf8' });
      }
      expect(stderr, mode).not.toMatch(/artificially reduced/);
      expect(stderr.split('\n').filter(Boolean), mode).toEqual(['before', 'real driver error: VK_ERROR_DEVICE_LOST', 'console inside', 'after']);
    }
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('.wgtrain-stderr-'))).toEqual([]);
  });
});
