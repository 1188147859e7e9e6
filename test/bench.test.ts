// `wgtrain bench conv` and `wgtrain bench softmax-xent` end to end on tiny sizes: WebGPU and the CPU reference, rows
// written with --json. TF.js (--compare tfjs) is left out: it is slow to load and to run.
// The CLI is bundled privately under tmp/ (inside the repository, so its externals resolve from node_modules).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { adapterTag } from '../src/cli/bench.js';
import { DAWN_NOISE } from '../src/cli/dawn_warnings.js';

let bundle = '';
const out = mkdtempSync(join(tmpdir(), 'wgtrain-bench-'));
const cli = (args: string[]) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', timeout: 120_000 });

function expectRows(file: string, fields: string[], figures: string[]): Record<string, unknown>[] {
  const rows = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[];
  for (const r of rows) {
    for (const k of fields) expect(r, k).toHaveProperty(k);
    for (const k of figures) {
      expect(typeof r[k], `${k} of ${JSON.stringify(r)}`).toBe('number');
      expect(Number.isFinite(r[k]) && (r[k] as number) > 0, `${k} of ${JSON.stringify(r)}`).toBe(true);
    }
    expect(r.min as number).toBeLessThanOrEqual(r.ms as number);
    expect(r.ms as number).toBeLessThanOrEqual(r.max as number);
  }
  return rows;
}

describe('wgtrain bench conv and softmax-xent', () => {
  beforeAll(() => {
    mkdirSync('tmp', { recursive: true });
    bundle = join(mkdtempSync(join('tmp', 'bench-test-')), 'cli.mjs');
    execFileSync(process.execPath, ['scripts/build.mjs', 'src/cli/main.ts', bundle]);
  });
  afterAll(() => { if (bundle) rmSync(dirname(bundle), { recursive: true, force: true }); rmSync(out, { recursive: true, force: true }); });

  it('lists both in --help and rejects a bad shape in one line', () => {
    const h = cli(['bench', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^usage: wgtrain bench all\|gemm\|conv\|softmax-xent\|train/);
    expect(h.stdout).toMatch(/wgtrain bench all:/);
    expect(h.stdout).toMatch(/wgtrain bench conv:/);
    expect(h.stdout).toMatch(/wgtrain bench softmax-xent:/);
    expect(h.stdout).toMatch(/wgtrain bench attention:/);
    const bad = cli(['bench', 'conv', '--shapes', '2x3x8:4x3x3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^wgtrain: bench conv: bad shape '2x3x8:4x3x3'.*expected NxCxHxW:OxKHxKW/);
    expect(cli(['bench', 'softmax-xent', '--sizes', '8x0']).stderr).toMatch(/bad size '8x0' \(expected BxC/);
  });

  it("all: refuses, before running anything, to replace a results file of today's date (a hand-made one stays as it was)", async () => {
    const dir = mkdtempSync(join(out, 'all-')), tag = await adapterTag();
    const mine = join(dir, `${new Date().toISOString().slice(0, 10)}-train-mlp-${tag}.json`), text = '{"by": "hand", "rounds": [1, 2, 3]}\n';
    writeFileSync(mine, text);
    const r = cli(['bench', 'all', '--dir', dir]);
    expect(r.status).toBe(2);
    // Spawned with socket pipes, the CLI cannot filter Dawn's two adapter warnings (src/cli/dawn_warnings.ts).
    expect(r.stderr.replace(DAWN_NOISE, '').trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/bench all: .*-train-mlp-.*\.json already exists \(pass --overwrite to replace today's results, or --dir DIR/);
    expect(r.stdout).not.toMatch(/## bench/);
    expect(readFileSync(mine, 'utf8')).toBe(text);
  });

  it('conv: forward and backward rows on WebGPU and the CPU reference', () => {
    const json = join(out, 'conv.json');
    const r = cli(['bench', 'conv', '--shapes', '2x3x8x8:4x3x3:p1,2x2x9x9:3x3x3:s2', '--cpu', '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| 2x3x8x8:4x3x3:p1 \| backward \| wgtrain-webgpu \| [\d.]+ \|/);
    expect(r.stdout).toMatch(/wgtrain-webgpu vs wgtrain-cpu: /);
    const rows = expectRows(json, ['shape', 'pass', 'impl', 'gflops', 'ms', 'min', 'max'], ['gflops', 'ms', 'min', 'max']);
    const keys = rows.map((x) => `${x.shape} ${x.pass} ${x.impl}`).sort();
    const want = ['2x3x8x8:4x3x3:p1', '2x2x9x9:3x3x3:p0:s2'].flatMap((s) => ['forward', 'backward'].flatMap((p) => ['wgtrain-webgpu', 'wgtrain-cpu'].map((i) => `${s} ${p} ${i}`)));
    expect(keys).toEqual(want.sort());
  });

  it('softmax-xent: a row per size on WebGPU and the CPU reference', () => {
    const json = join(out, 'xent.json');
    const r = cli(['bench', 'softmax-xent', '--sizes', '8x5,32x10', '--cpu', '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wgtrain-webgpu vs wgtrain-cpu \(time ratio\): 8x5 /);
    const rows = expectRows(json, ['shape', 'impl', 'gbps', 'ms', 'min', 'max'], ['gbps', 'ms', 'min', 'max']);
    expect(rows.map((x) => `${x.shape} ${x.impl}`).sort()).toEqual(['32x10 wgtrain-cpu', '32x10 wgtrain-webgpu', '8x5 wgtrain-cpu', '8x5 wgtrain-webgpu']);
  });

  it('attention: fused and composite rows in wall and device time, inputs resident unless --fed', () => {
    for (const fed of [false, true]) {
      const json = join(out, `attention-${fed}.json`);
      const r = cli(['bench', 'attention', '--lengths', '8', ...(fed ? ['--fed'] : []), '--json', json]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(fed ? 'uploaded at every run' : 'resident on the device');
      expect(r.stdout).toMatch(/T=8: fused [\d.]+x the composite's speed forward, [\d.]+x forward \+ backward \(device time: [\d.]+x, [\d.]+x\)/);
      const rows = expectRows(json, ['T', 'pass', 'impl', 'inputs', 'ms', 'min', 'max', 'deviceMs'], ['ms', 'min', 'max', 'deviceMs']);
      expect(rows.map((x) => `${x.pass} ${x.impl} ${x.inputs}`)).toEqual(['forward', 'forward+backward'].flatMap((p) => ['fused', 'composite'].map((i) => `${p} ${i} ${fed ? 'fed' : 'resident'}`)));
    }
  });

  // PyTorch is Debian's python3-torch (scripts/setup.sh installs it); small sizes keep this quick.
  it('--compare torch: GEMM and training rows from PyTorch on the CPU, in the same run', () => {
    const gemm = join(out, 'gemm-torch.json');
    const g = cli(['bench', 'gemm', '--sizes', '64,96', '--compare', 'torch', '--json', gemm]);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/wgtrain-webgpu vs torch-cpu: 64: [\d.]+x, 96: [\d.]+x/);
    const rows = expectRows(gemm, ['n', 'impl', 'gflops', 'ms', 'min', 'max'], ['gflops', 'ms', 'min', 'max']);
    expect(rows.map((x) => `${x.n} ${x.impl}`).sort()).toEqual(['64 torch-cpu', '64 wgtrain-webgpu', '96 torch-cpu', '96 wgtrain-webgpu']);
    const train = join(out, 'train-torch.json');
    const t = cli(['bench', 'train', '--model', 'mlp', '--batch-size', '16', '--steps', '6', '--compare', 'torch', '--json', train]);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/wgtrain-webgpu vs torch-cpu: [\d.]+x/);
    expect(t.stdout).toMatch(/6 steps at batch 16: wgtrain-webgpu [\d.]+ s, torch-cpu [\d.]+ s/);
    const trows = JSON.parse(readFileSync(train, 'utf8')) as { backend: string; samplesPerSec: number }[];
    expect(trows.map((r) => r.backend)).toEqual(['wgtrain-webgpu', 'torch-cpu']);
    for (const r of trows) expect(Number.isFinite(r.samplesPerSec) && r.samplesPerSec > 0).toBe(true);
    const gpt = cli(['bench', 'train', '--model', 'gpt', '--batch-size', '2', '--steps', '2', '--compare', 'torch']);
    expect(gpt.status, gpt.stderr).toBe(0);
    expect(gpt.stdout).toMatch(/\| gpt \| torch-cpu \| 2 x \d+ \| 2 \| \d+ \|/);
    expect(gpt.stdout).toMatch(/wgtrain-webgpu vs torch-cpu: [\d.]+x/);
  });

  it("PyTorch's OpenMP workers sleep when idle unless the caller chose a policy, and train rows are medians of passes", async () => {
    const { torchEnv } = await import('../bench/torch.js');
    const { trainPasses } = await import('../bench/train.js');
    expect(torchEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', OMP_WAIT_POLICY: 'PASSIVE' });
    expect(torchEnv({ OMP_WAIT_POLICY: 'ACTIVE' }).OMP_WAIT_POLICY).toBe('ACTIVE');
    expect([trainPasses(30), trainPasses(100), trainPasses(1875)]).toEqual([5, 5, 1]);
  });

  it('--compare torch without PyTorch, or where there is no PyTorch version: one line, exit 2', () => {
    const none = spawnSync(process.execPath, [bundle, 'bench', 'gemm', '--compare', 'torch'], { encoding: 'utf8', env: { ...process.env, WGTRAIN_PYTHON: join(out, 'no-python') } });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^wgtrain: bench --compare torch needs .*no-python with PyTorch; install Debian's python3-torch/);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    for (const args of [['bench', 'conv', '--compare', 'torch'], ['bench', 'train', '--model', 'resnet', '--compare', 'torch']]) {
      const r = cli(args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    }
  });
});

describe('bench report', () => {
  it('rewrites the tables of bench/results/README.md and keeps the hand-written notes after them', async () => {
    const { benchReport, NOTES_MARKER } = await import('../bench/report.js');
    const dir = mkdtempSync(join(tmpdir(), 'wgtrain-report-'));
    const gemm = '2026-11-24-gemm-lavapipe.json';
    writeFileSync(join(dir, gemm), readFileSync(join('bench/results', gemm)));
    writeFileSync(join(dir, 'README.md'), `# stale tables\n\n${NOTES_MARKER}\n\n## How the GEMM was tuned\n\nnotes kept\n`);
    await benchReport(dir);
    const md = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(md).not.toContain('stale tables');
    expect(md).toContain('## GEMM (2026-11-24-gemm-lavapipe.json)');
    expect(md.endsWith(`${NOTES_MARKER}\n\n## How the GEMM was tuned\n\nnotes kept\n`)).toBe(true);
    await benchReport(dir); // and again: kept once, not twice
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(md);
    rmSync(dir, { recursive: true });
  });
});
