// `wgtrain bench`: benchmarks from bench/, printed as a table and written as JSON.
import { writeFile } from 'node:fs/promises';
import { benchGemm } from '../../bench/gemm.js';
import { parse, choice, UsageError } from './args.js';

export const BENCH_HELP = `usage: wgtrain bench gemm [options]

  --sizes LIST        square sizes n for C = A·B, comma-separated  [256,512,1024]
  --compare tfjs      also run TF.js WebGPU (same adapter) and TF.js WASM in the same run
  --cpu               also run the CPU reference (sizes up to 512)
  --json FILE         write the rows as JSON: [{"n","impl","gflops","ms","min","max"}]`;

export async function bench(argv: string[]): Promise<void> {
  const [what, ...rest] = argv;
  choice('bench', 'benchmark', what, ['gemm']);
  const f = parse('bench', rest, { sizes: { type: 'string', default: '256,512,1024' }, compare: { type: 'string' }, cpu: { type: 'boolean' }, json: { type: 'string' } });
  const sizes = String(f.sizes).split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`bench: --sizes must be positive integers, got '${f.sizes}'`);
  if (f.compare !== undefined) choice('bench', 'compare', f.compare, ['tfjs']);
  const rows = await benchGemm(sizes, { compare: f.compare === 'tfjs', cpu: !!f.cpu });
  console.log(`| n | impl | GFLOP/s | median ms | min | max |\n|---|---|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.n} | ${r.impl} | ${r.gflops.toFixed(2)} | ${r.ms.toFixed(2)} | ${r.min.toFixed(2)} | ${r.max.toFixed(2)} |`);
  const ref = rows.filter((r) => r.impl === 'wgtrain-webgpu');
  for (const other of ['tfjs-webgpu', 'tfjs-wasm', 'wgtrain-cpu']) {
    const ratios = ref.map((r) => { const o = rows.find((x) => x.impl === other && x.n === r.n); return o ? `${r.n}: ${(r.gflops / o.gflops).toFixed(2)}x` : ''; }).filter(Boolean);
    if (ratios.length) console.log(`wgtrain-webgpu vs ${other}: ${ratios.join(', ')}`);
  }
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(rows, null, 2) + '\n');
}
