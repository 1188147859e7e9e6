// `wgtrain fuzz`: random small graphs on WebGPU against the CPU reference (src/check/fuzz.ts). Case i uses seed
// S + i, so any failure is reproduced by the seed it prints.
import { writeFile } from 'node:fs/promises';
import { createBackend, CpuBackend } from '../backends/index.js';
import { runFuzzCase, FUZZ_TOLERANCE, FUZZ_NOISE_FACTOR } from '../check/fuzz.js';
import { bigFuzzCase, gemmPaths, BIG_TARGETS } from '../check/fuzz_big.js';
import { WebGpuBackend } from '../backends/webgpu/webgpu_backend.js';
import { PARITY_RTOL } from '../check/parity.js';
import { parse, intFlag, choice } from './args.js';

export const FUZZ_HELP = `usage: wgtrain fuzz [options]

Builds random small graphs (elementwise ops with broadcasting, matmul with transposes, reductions, softmax, losses,
reshape/transpose/concat/slice/pad, conv2d, transposed conv, upsampling, pooling, batch norm, layer norm, dropout, randn, step) on random odd shapes, and runs
each forward and backward (gradients of sum(y·R) for every input) on WebGPU and on the CPU reference, comparing y and every
gradient: |gpu - cpu| <= (atol + rtol·|cpu|)·${FUZZ_TOLERANCE} + ${FUZZ_NOISE_FACTOR}·noise, atol = 1e-6 + 1e-6·sqrt(K)·max|cpu| (K: the longest
reduction behind the output), rtol = ${PARITY_RTOL}, noise: how far the reference itself moves when its inputs are nudged
by a few float32 ulps (cancellations whose exact value is 0).
Exits 1 if any case fails, printing its seed, graph and the command that reproduces it.

  --tier NAME     small: random graphs as above; big: shapes large enough for every GEMM and conv path the backend
                  selects (packed panels, subgroup and tiled tiles, conv's implicit GEMMs, im2col), case i's path is seed mod ${BIG_TARGETS.length}, and
                  --verbose prints the paths each case took  [small]
  --cases N       [100]
  --seed S        the first case's seed; case i uses S + i  [1]
  --verbose       print every case's graph
  --json FILE     {"cases","failed","outputs","seconds","failures":[{"seed","message"}]}`;

export async function fuzz(argv: string[]): Promise<void> {
  const f = parse('fuzz', argv, { tier: { type: 'string', default: 'small' }, cases: { type: 'string', default: '100' }, seed: { type: 'string', default: '1' }, verbose: { type: 'boolean' }, json: { type: 'string' } });
  const cases = intFlag('fuzz', 'cases', f.cases), seed = intFlag('fuzz', 'seed', f.seed, 0);
  const big = choice('fuzz', 'tier', f.tier, ['small', 'big']) === 'big';
  const gpu = await createBackend('webgpu'), cpu = new CpuBackend();
  // The big tier's tiled-kernel paths need a backend that uses the tiled GEMM (an adapter without subgroups does).
  const tiled = big ? await WebGpuBackend.create({ gemm: 'tiled' }) : undefined;
  // And its packed-panel paths one that packs (gemm 'packed'; an adapter without 8-lane subgroups runs them unpacked).
  const packed = big ? await WebGpuBackend.create({ gemm: 'packed' }).catch(() => undefined) : undefined;
  const t0 = performance.now();
  const failures: { seed: number; message: string }[] = [];
  let outputs = 0;
  try {
    for (let s = seed; s < seed + cases; s++) {
      const c = big ? bigFuzzCase(s) : undefined, on = c?.target.gemm === 'tiled' ? tiled! : c?.target.gemm === 'packed' ? packed ?? gpu : gpu;
      const r = await runFuzzCase(s, on, cpu, big ? bigFuzzCase : undefined);
      outputs += r.outputs;
      if (f.verbose) console.log(`seed ${s} ${r.ok ? 'ok  ' : 'FAIL'} ${r.description}${c ? ` [${[...new Set(gemmPaths(on as WebGpuBackend, c.outputs))].join('; ')}]` : ''}`);
      if (!r.ok) { failures.push({ seed: s, message: r.message! }); console.log(r.message); }
    }
  } finally {
    gpu.dispose();
    tiled?.dispose();
    packed?.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`fuzz: ${cases} cases (seeds ${seed}..${seed + cases - 1}), ${outputs} outputs compared, ${failures.length} failed, ${seconds.toFixed(1)} s`);
  if (typeof f.json === 'string') await writeFile(f.json, JSON.stringify({ cases, failed: failures.length, outputs, seconds, failures }, null, 2) + '\n');
  if (failures.length) throw new Error(`fuzz: ${failures.length} of ${cases} cases failed; first: ${failures[0].message}`);
}
