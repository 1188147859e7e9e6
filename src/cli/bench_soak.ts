// `wgtrain bench soak`: a long training run that records memory every N steps and says whether it stayed flat.
import { writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { benchSoak, RSS_BOUND, WARMUP_STEPS } from '../../bench/soak.js';
import { MODELS } from '../nn/models.js';
import { parse, choice, intFlag, UsageError } from './args.js';

export const SOAK_HELP = `wgtrain bench soak: many MNIST training steps on WebGPU; every --every steps records pool bytes, GPU buffers
created and process RSS, and says whether they stayed flat after ${WARMUP_STEPS} warm-up steps (pool and buffers exactly;
RSS within ${RSS_BOUND / 2 ** 20} MiB from its lowest to its highest sample). Exits 1 if not.
  --model NAME        ${Object.keys(MODELS).join(', ')}  [mlp]
  --batch-size N      [32]
  --steps N           [10000]
  --every N           [500]
  --json FILE         {"model","adapter","batchSize","steps","samplesPerSec","flat","rssGrowthBytes","rssSpreadBytes","samples":[...]}`;

/**
 * Two caches grow RSS by 20-25 MiB over the first ~14,000 steps and then stay put, with no object leaking (heap used,
 * external memory, pool bytes and buffers flat throughout): V8 widens its young generation towards its default
 * maximum as it sees a steady allocation rate, and glibc gives each allocating thread (Dawn's, the driver's) its own
 * malloc arena. A leak of a few KB a step would hide in that for a long while, so the soak measures in a child with
 * both pinned small (--max-semi-space-size=1, MALLOC_ARENA_MAX=2), where RSS is flat from the first collection on.
 * Both must be set when the process starts.
 */
async function measureInChild(): Promise<void> {
  const child = spawn(process.execPath, ['--max-semi-space-size=1', ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  // The child has said what went wrong, in its one line: pass its exit code on without a second line.
  if (code !== 0) process.exit(code ?? 1);
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export async function soak(argv: string[]): Promise<void> {
  const f = parse('bench soak', argv, {
    model: { type: 'string', default: 'mlp' }, 'batch-size': { type: 'string', default: '32' }, steps: { type: 'string', default: '10000' },
    every: { type: 'string', default: '500' }, json: { type: 'string' },
  });
  const model = choice('bench soak', 'model', f.model, Object.keys(MODELS));
  const steps = intFlag('bench soak', 'steps', f.steps), every = intFlag('bench soak', 'every', f.every);
  if (every > steps) throw new UsageError(`bench soak: --every ${every} is more than --steps ${steps} (expected at least one sample)`);
  if (process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined) return measureInChild();
  console.log('| step | seconds | loss | pool bytes | buffers created | RSS | heap used |\n|---|---|---|---|---|---|---|');
  const r = await benchSoak({
    model, batchSize: intFlag('bench soak', 'batch-size', f['batch-size']), steps, every,
    onSample: (s) => console.log(`| ${s.step} | ${s.seconds.toFixed(1)} | ${s.loss.toFixed(4)} | ${s.poolBytes} | ${s.buffersCreated} | ${mib(s.rssBytes)} | ${mib(s.heapUsedBytes)} |`),
  });
  const ok = r.flat.poolBytes && r.flat.buffersCreated && r.flat.rss;
  console.log(`soak: ${r.steps} steps at ${r.samplesPerSec.toFixed(0)} samples/s; pool bytes ${r.flat.poolBytes ? 'flat' : 'GREW'}, ` +
    `buffers created ${r.flat.buffersCreated ? 'flat' : 'GREW'}, RSS ${r.flat.rss ? 'flat' : 'GREW'} (spread ${mib(r.rssSpreadBytes)} after step ${WARMUP_STEPS}, bound ${mib(r.rssBoundBytes)}; ${r.rssGrowthBytes >= 0 ? '+' : ''}${mib(r.rssGrowthBytes)} first to last)`);
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify(r, null, 2) + '\n');
  if (!ok) throw new Error('bench soak: memory did not stay flat (see the table above)');
}
