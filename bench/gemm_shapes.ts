// GEMM throughput on the shapes a training step runs, each transpose form: the MLP's (784-256-128-10, batch 128)
// forward products and both gradients, and square products. An experiment script, not a CLI command:
//   node scripts/build.mjs bench/gemm_shapes.ts /tmp/gemm_shapes.mjs && node /tmp/gemm_shapes.mjs [rounds] [filter]
// Each shape is one compiled product on variables; a sample is REPS runs submitted back to back and one read of C,
// divided by REPS, so the readback is a small share; the best of `rounds` samples, the shapes interleaved round by
// round so that a change of load hits them all alike.
import { Variable } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { launchFor } from '../src/backends/webgpu/kernels.js';
import { seededUniform } from './timing.js';

interface Shape { name: string; M: number; K: number; N: number; transA?: boolean; transB?: boolean }

const SHAPES: Shape[] = [
  { name: 'mlp L1 fwd', M: 128, K: 784, N: 256 },
  { name: 'mlp L1 dW (Aᵀ·B)', M: 784, K: 128, N: 256, transA: true },
  { name: 'mlp L1 dX (A·Bᵀ)', M: 128, K: 256, N: 784, transB: true },
  { name: 'mlp L2 fwd', M: 128, K: 256, N: 128 },
  { name: 'mlp L2 dW (Aᵀ·B)', M: 256, K: 128, N: 128, transA: true },
  { name: 'mlp L2 dX (A·Bᵀ)', M: 128, K: 128, N: 256, transB: true },
  { name: 'mlp L3 fwd', M: 128, K: 128, N: 10 },
  { name: 'mlp L3 dW (Aᵀ·B)', M: 128, K: 128, N: 10, transA: true },
  { name: 'mlp L3 dX (A·Bᵀ)', M: 128, K: 10, N: 128, transB: true },
  { name: '256³', M: 256, K: 256, N: 256 },
  { name: '512³', M: 512, K: 512, N: 512 },
  { name: '1024³', M: 1024, K: 1024, N: 1024 },
  { name: '1024³ Aᵀ·B', M: 1024, K: 1024, N: 1024, transA: true },
  { name: '1024³ A·Bᵀ', M: 1024, K: 1024, N: 1024, transB: true },
  // Where packedGemm took the packed kernel for A·Bᵀ below min(M, N) = 256: a conv layer's weight gradient shape
  // (64 x 576, K 32768) and 128 x 1024 x 1024.
  { name: 'thin A·Bᵀ, long K', M: 64, K: 32768, N: 576, transB: true },
  { name: '128x1024x1024 A·Bᵀ', M: 128, K: 1024, N: 1024, transB: true },
  { name: '384³', M: 384, K: 384, N: 384 },
  { name: '256x8192x256', M: 256, K: 8192, N: 256 },
];

const rounds = Number(process.argv[2] ?? 5);
const filter = process.argv[3] ? new RegExp(process.argv[3]) : undefined;
const gpu = await WebGpuBackend.create();
// VARIANTS='X=0;X=1': each shape compiled once per setting of these environment variables (read by experimental
// switches when the plan is compiled), so variants are compared round by round in one process.
const variants = (process.env.VARIANTS ?? '').split(';').filter(Boolean);
const settings = variants.length ? variants : [''];
const cases = SHAPES.filter((s) => !filter || filter.test(s.name)).flatMap((s) => settings.map((v) => {
  for (const kv of v.split(',').filter(Boolean)) { const [k, x] = kv.split('='); process.env[k] = x; }
  const a = new Variable(seededUniform(s.M * s.K, 1), s.transA ? [s.K, s.M] : [s.M, s.K], 'A');
  const b = new Variable(seededUniform(s.K * s.N, 2), s.transB ? [s.N, s.K] : [s.K, s.N], 'B');
  const c = ops.matmul(a.tensor, b.tensor, { transA: s.transA, transB: s.transB });
  const l = launchFor(c, gpu.ctx.gemm);
  const d = l.defines ?? {};
  const path = `${l.shader} ${Object.keys(d).filter((k) => d[k]).join(',')}`;
  const t0 = performance.now();
  const ex = gpu.compile([c]);
  return { s, v, c, ex, path, reps: Number(process.env.REPS ?? 0) || Math.max(4, Math.min(200, Math.round(8e9 / (2 * s.M * s.N * s.K)))), best: Infinity, cpu: Infinity, compileMs: performance.now() - t0 };
}));
for (const k of cases) { k.ex.run(new Map()); await k.ex.read(k.c); } // first run compiles the pipelines
for (let r = 0; r < rounds; r++) {
  for (const k of cases) {
    const t = performance.now(), u = process.cpuUsage();
    for (let i = 0; i < k.reps; i++) k.ex.run(new Map());
    await k.ex.read(k.c);
    k.best = Math.min(k.best, (performance.now() - t) / k.reps);
    const used = process.cpuUsage(u);
    k.cpu = Math.min(k.cpu, (used.user + used.system) / 1000 / k.reps);
  }
}
// GFLOP per CPU-second: the process's CPU time (all its threads, the driver's included) per product. On a shared
// machine this moves less with other processes' load than the wall-clock rate does.
console.log('| shape | M x K x N | variant | path | ms | GFLOP/s | CPU ms | GFLOP/CPU-s |\n|---|---|---|---|---|---|---|---|');
for (const k of cases) {
  const { s } = k;
  console.log(`| ${s.name} | ${s.M}x${s.K}x${s.N} | ${k.v} | ${k.path} | ${k.best.toFixed(3)} | ${((2 * s.M * s.N * s.K) / k.best / 1e6).toFixed(1)} | ${k.cpu.toFixed(3)} | ${((2 * s.M * s.N * s.K) / k.cpu / 1e6).toFixed(1)} |`);
  k.ex.dispose();
}
gpu.dispose();
