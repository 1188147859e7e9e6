// PyTorch on the CPU (Debian's python3-torch through /usr/bin/python3), measured in the same run as wgtrain for
// `--compare torch`: the user without a GPU would otherwise pick it. bench/torch_cpu.py does the timing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Debian's interpreter, where python3-torch installs; WGTRAIN_PYTHON names another (one with torch in a venv). */
export const TORCH_PYTHON = process.env.WGTRAIN_PYTHON || '/usr/bin/python3';
/** PyTorch's threads: the machine's two cores, as wgtrain's lavapipe uses them. */
export const TORCH_THREADS = 2;

export interface TorchRequest {
  gemm?: number[];
  /** `gpt`: the GPT's shape, for model 'gpt' (its seconds are then for steps x batchSize x context tokens). */
  /** `passes`: timed passes of `steps` steps, the median reported (mlp and cnn). [1] */
  train?: { model: string; batchSize: number; steps: number; passes?: number; gpt?: { vocab: number; context: number; dim: number; heads: number; layers: number } }[];
}
export interface TorchResult {
  torch: string; threads: number;
  gemm: { n: number; ms: number; min: number; max: number }[];
  train: { model: string; batchSize: number; steps: number; seconds: number }[];
}

// The script sits in bench/ beside this file; a CLI bundle (dist/, or a test's under tmp/) finds it in the
// repository's bench/ above it.
function script(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, 'torch_cpu.py'), ...[1, 2, 3].map((up) => join(here, ...Array(up).fill('..'), 'bench', 'torch_cpu.py'))];
  return candidates.find((p) => existsSync(p)) ?? candidates[1];
}

/** Why `--compare torch` cannot run here, or undefined if it can. */
export function torchMissing(): string | undefined {
  const fix = "install Debian's python3-torch and libopenblas0-pthread ('bash scripts/setup.sh torch' does, as root on Debian 12), or leave out --compare torch";
  if (!existsSync(TORCH_PYTHON)) return `bench --compare torch needs ${TORCH_PYTHON} with PyTorch; ${fix}`;
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status !== 0) return `bench --compare torch: ${TORCH_PYTHON} cannot import torch (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 120)}); ${fix}`;
  if (!existsSync(script())) return 'bench --compare torch needs bench/torch_cpu.py, which ships only with a clone of the repository';
  return undefined;
}

/**
 * PyTorch's environment: its OpenMP workers sleep when idle (OMP_WAIT_POLICY=PASSIVE) unless the caller set a policy.
 * By default they spin, and beside OpenBLAS's own two threads on two cores the spinning steals the cores the GEMMs
 * need: measured 2026-12-07 on this machine, alone, 5 passes of 100 MLP steps at batch 128 each, 6,100-64,700
 * samples/s by default against a steady 71,200-83,100 passive (OPENBLAS_NUM_THREADS=1: 73,100-76,200); the cnn at
 * batch 64 3,350-3,700 (medians) against 5,200-5,350. The comparison is against PyTorch at its steady best.
 */
export const torchEnv = (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({ OMP_WAIT_POLICY: 'PASSIVE', ...env });

export function runTorch(req: TorchRequest): TorchResult {
  const r = spawnSync(TORCH_PYTHON, [script()], { input: JSON.stringify({ threads: TORCH_THREADS, ...req }), encoding: 'utf8', maxBuffer: 1 << 24, env: torchEnv() });
  if (r.status !== 0) throw new Error(`bench: PyTorch failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as TorchResult;
}
