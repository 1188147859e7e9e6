// The package as a user installs it: `npm pack` (which runs the build), the tarball unpacked into a temporary
// project's node_modules with its dependencies linked from this clone's (the same versions npm ci installed, and
// no network), then what a user does with it: the README's library examples, a strict TypeScript check, a browser
// bundle, and the command line.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** An import of a Node built-in in a bundle: `from "node:…"`, `import("node:…")`, `require("node:…")`. */
const NODE_IMPORT = /(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']node:/;

let dir: string;
let packed: { size: number; files: { path: string }[] };

/** Symlink `names` and everything they depend on from this clone's node_modules into the project's. */
function linkDependencies(names: string[]): void {
  const seen = new Set<string>();
  while (names.length) {
    const name = names.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const from = join(root, 'node_modules', name);
    if (!existsSync(from)) throw new Error(`dependency ${name} is not installed in ${root}/node_modules (run npm ci)`);
    const to = join(dir, 'node_modules', name);
    mkdirSync(dirname(to), { recursive: true });
    symlinkSync(from, to, 'dir');
    const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
    // A dependency's own node_modules travels with it; only hoisted ones need a link of their own.
    for (const d of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      if (!existsSync(join(from, 'node_modules', d))) names.push(d);
    }
  }
}

/** Run a command in the project; returns its status and output. */
function run(cmd: string, args: string[], timeout = 60_000) {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout, env: { ...process.env, npm_config_offline: 'true' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgtrain-package-'));
  // --json prints the tarball's size and file list; the build that `prepare` runs writes only to stderr.
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  [packed] = JSON.parse(out.slice(out.indexOf('[')));
  const tgz = join(dir, 'wgtrain-0.1.0.tgz');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module', dependencies: { wgtrain: `file:${tgz}` } }));
  const pkgDir = join(dir, 'node_modules', 'wgtrain');
  mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', pkgDir, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  linkDependencies(Object.keys(pkg.dependencies));
  mkdirSync(join(dir, 'node_modules', '.bin'));
  symlinkSync('../wgtrain/bin/wgtrain.js', join(dir, 'node_modules', '.bin', 'wgtrain'));
}, 120_000);

afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('the packed package, installed in a fresh project', () => {
  it('the tarball is under 1 MB and holds only what a user runs', () => {
    expect(packed.size).toBeLessThan(1 << 20);
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'bin/wgtrain.js', 'dist/index.js', 'dist/node.js', 'dist/cli.js', 'dist/types/index.d.ts', 'dist/types/node.d.ts']));
    const unwanted = paths.filter((p) => /^(test|bench|demos|scripts|src|\.ci)\/|tfjs-bundle|\.map$/.test(p));
    expect(unwanted).toEqual([]);
  });

  it("every example of the README's 'As a library' runs as written", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## As a library'), readme.indexOf('\n## ', readme.indexOf('## As a library') + 1));
    const examples = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(examples.length).toBe(5);
    const outputs = examples.map((code, i) => {
      writeFileSync(join(dir, `example${i + 1}.mjs`), code);
      const r = run(process.execPath, [`example${i + 1}.mjs`], 90_000);
      expect(r.status, `example ${i + 1}:\n${code}\n${r.all}`).toBe(0);
      return r.stdout;
    });
    expect(outputs[0]).toMatch(/^val_accuracy( 0\.\d{3})+; test accuracy 0\.(8|9)\d\d$/m);
    expect(outputs[0]).toMatch(/^\d+ loss reads, the last \d+\.\d{3}$/m);
    expect(outputs[1]).toMatch(/^predicted \d, label \d$/m);
    expect(outputs[2]).toMatch(/^loss after 10 steps: \d+\.\d{4}$/m);
    expect(outputs[3]).toContain("FeedError: run: input 'x' got a Float64Array of 6 elements (expected a Float32Array of 6 elements for shape [2,3]; convert with Float32Array.from(...))");
    expect(outputs[3]).toContain("NaN in 'x' at 1");
    expect(outputs[3]).toMatch(/^ShapeError \(exit code 2\): matmul: /m);
    expect(outputs[4]).toMatch(/^R² (0\.9\d\d|1\.000), RMSE 0\.\d{3}; predicted \d+\.\d for y = \d+\.\d$/m);
    expect(outputs[4]).toContain('loaded hidden.weight, hidden.bias; initialised head.weight, head.bias');
    expect(outputs[4]).toContain('trains head.weight, head.bias');
  });

  // The declarations name WebGPU's types (GPUDevice, ...) from TypeScript's DOM lib, which has them from TypeScript 7.
  it('a strict tsc of a file importing the public API passes, with real types (not any)', () => {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], noEmit: true, skipLibCheck: false, types: [] },
      files: ['check.ts'],
    }));
    writeFileSync(join(dir, 'check.ts'), `
import { fit, EarlyStopping, DataLoader, loadMnist, buildModel, cosine, Adam, WebGpuBackend, NonFiniteInputError, ClassifierTrainer, Rng, UserError, type History } from 'wgtrain';
import { saveCheckpoint } from 'wgtrain/node';

export async function main(): Promise<History> {
  const { train } = await loadMnist({ limitTrain: 100 });
  const loader = new DataLoader(train, { batchSize: 10 });
  const batches: number = loader.numBatches;
  const { model } = buildModel({ input: [784], layers: [{ type: 'linear', out: 10 }] }, new Rng(1));
  const backend: WebGpuBackend = await WebGpuBackend.create();
  const trainer = new ClassifierTrainer(backend, model, new Adam({ lr: cosine(1e-3, batches)(0) }), [784]);
  const history = await fit(trainer, train, { epochs: 1, callbacks: [new EarlyStopping({ monitor: 'loss' })] });
  await saveCheckpoint('run.safetensors', trainer, { epoch: 1, batch: 0, model: { name: 'linear' } });
  return history;
}
export const isUserError = (e: unknown): boolean => e instanceof NonFiniteInputError && e instanceof UserError && e.exitCode === 2;
// @ts-expect-error: lr is a number; were the declarations missing or 'any', this line would not be an error
new Adam({ lr: 'fast' });
`);
    const r = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
    expect(r.status, r.all).toBe(0);
  });

  it('esbuild --platform=browser bundles `import { WebGpuBackend, mlp, fit } from "wgtrain"` with no Node built-in', () => {
    writeFileSync(join(dir, 'app.js'), "import { WebGpuBackend, mlp, fit } from 'wgtrain';\nconsole.log(WebGpuBackend, mlp, fit);\n");
    const r = run(join(root, 'node_modules/.bin/esbuild'), ['app.js', '--bundle', '--platform=browser', '--format=esm', '--outfile=app.bundle.js']);
    expect(r.status, r.all).toBe(0);
    const bundle = readFileSync(join(dir, 'app.bundle.js'), 'utf8');
    expect(bundle).toMatch(/\bWebGpuBackend = class\b/);
    expect(bundle.match(NODE_IMPORT)?.[0]).toBeUndefined();
    // The check can fail: the Node entry does import built-ins.
    writeFileSync(join(dir, 'server.js'), "import { loadMnist } from 'wgtrain/node';\nconsole.log(loadMnist);\n");
    expect(run(join(root, 'node_modules/.bin/esbuild'), ['server.js', '--bundle', '--platform=node', '--format=esm', '--outfile=server.bundle.js']).status).toBe(0);
    expect(readFileSync(join(dir, 'server.bundle.js'), 'utf8')).toMatch(NODE_IMPORT);
  });

  it('npx wgtrain train --limit 2000 trains; bench --compare tfjs says in one line that TF.js is not installed (exit 2)', () => {
    const t = run('npx', ['--no', 'wgtrain', 'train', '--limit', '2000'], 120_000);
    expect(t.status, t.all).toBe(0);
    expect(t.stdout).toMatch(/accuracy/i);
    const b = run('npx', ['--no', 'wgtrain', 'bench', 'gemm', '--sizes', '64', '--compare', 'tfjs']);
    expect(b.status, b.all).toBe(2);
    expect(b.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^wgtrain: bench --compare tfjs needs TF\.js, which ships only with a clone of the repository/)]);
  });
});
