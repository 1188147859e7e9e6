// The profiler: every kernel of a compiled step timed (GPU timestamps on WebGPU where the adapter has them, the host
// clock otherwise and on the CPU), summing to the measured step, and a trace in Chrome's trace-event format.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { CpuBackend } from '../src/backends/cpu/cpu_backend.js';
import { Backend, StepProfile, profileTrace } from '../src/backends/backend.js';
import { MODELS } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { ClassifierTrainer, stepFeeds } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';

async function profileStep(be: Backend, model: string, B: number, runs: number): Promise<{ p: StepProfile; kernels: number }> {
  const trainer = new ClassifierTrainer(be, MODELS[model].build(new Rng(1)), new SGD({ lr: 0.01, momentum: 0.9 }), [28, 28]);
  const rng = new Rng(3);
  const x = Float32Array.from({ length: B * 784 }, () => rng.normal()), y = Int32Array.from({ length: B }, () => rng.int(10));
  const g = trainer.trainStep(x, y, B);
  const p = await g.ex.profile(stepFeeds(g, x, y), { runs });
  const kernels = g.ex.plan.steps.length;
  trainer.dispose();
  return { p, kernels };
}

/** What Perfetto and chrome://tracing need of the JSON object format: an array of events with these fields. */
function checkTraceFormat(trace: unknown, p: StepProfile): void {
  const t = JSON.parse(JSON.stringify(trace)) as { traceEvents: Record<string, unknown>[]; displayTimeUnit: string };
  expect(Array.isArray(t.traceEvents)).toBe(true);
  expect(['ms', 'ns']).toContain(t.displayTimeUnit);
  for (const e of t.traceEvents) {
    expect(typeof e.name).toBe('string');
    expect(['X', 'M']).toContain(e.ph);
    expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
    if (e.ph === 'X') {
      expect(typeof e.ts === 'number' && Number.isFinite(e.ts) && e.ts >= 0).toBe(true);
      expect(typeof e.dur === 'number' && Number.isFinite(e.dur) && e.dur >= 0).toBe(true);
    } else {
      expect(['process_name', 'thread_name']).toContain(e.name);
      expect(typeof (e.args as { name?: unknown }).name).toBe('string');
    }
  }
  const kernelEvents = t.traceEvents.filter((e) => e.ph === 'X' && e.tid === 2);
  expect(kernelEvents.map((e) => e.name).sort()).toEqual(p.nodes.map((n) => n.node).sort());
  const total = kernelEvents.reduce((a, e) => a + (e.dur as number), 0) / 1000;
  expect(Math.abs(total - p.nodeSumMs)).toBeLessThan(0.01 * p.nodeSumMs + 0.01);
  expect(t.traceEvents.filter((e) => e.tid === 1 && e.ph === 'X').map((e) => e.name)).toEqual(['encode', 'submit', 'wait']);
}

function checkProfile(p: StepProfile, kernels: number): void {
  expect(p.nodes.length).toBe(kernels);
  for (let i = 1; i < p.nodes.length; i++) expect(p.nodes[i - 1].ms).toBeGreaterThanOrEqual(p.nodes[i].ms);
  expect(p.nodes.reduce((a, n) => a + n.share, 0)).toBeCloseTo(1, 6);
  const gemms = p.nodes.filter((n) => n.flops > 0);
  expect(gemms.length).toBeGreaterThanOrEqual(6); // three dense layers: forward, and the weight and input gradients
  for (const n of gemms) if (n.ms > 0) expect(n.gflops).toBeCloseTo(n.flops / n.ms / 1e6, 6);
  // The kernels account for the step: their sum is within 10% of the step measured by the same clock. (Its wall time,
  // stepMs, also holds the host's time descheduled, which on a shared machine can double it.)
  expect(Math.abs(p.coverage - 1), JSON.stringify(p, ['coverage', 'nodeSumMs', 'profiledStepMs', 'stepMs'])).toBeLessThan(0.1);
}

describe('profile', () => {
  it('times every kernel of the MLP step by GPU timestamps on WebGPU, summing to within 10% of the step they make up', async () => {
    const be = await WebGpuBackend.create();
    try {
      expect(be.ctx.features).toContain('timestamp-query'); // lavapipe, and every adapter the project runs on, has it
      const { p, kernels } = await profileStep(be, 'mlp', 256, 7);
      expect(p.timing).toBe('gpu-timestamps');
      checkProfile(p, kernels);
      checkTraceFormat(profileTrace(p), p);
    } finally { be.dispose(); }
  });

  it("falls back to the host clock on WebGPU without 'timestamp-query', and says so", async () => {
    const be = await WebGpuBackend.create({ timestamps: false });
    try {
      const { p, kernels } = await profileStep(be, 'mlp', 16, 3);
      expect(p.timing).toBe('host');
      expect(p.nodes.length).toBe(kernels);
      expect(p.nodes.every((n) => n.ms > 0)).toBe(true); // each kernel was submitted and waited for alone
      checkTraceFormat(profileTrace(p), p);
    } finally { be.dispose(); }
  });

  it('times every kernel on the CPU by the host clock', async () => {
    const { p, kernels } = await profileStep(new CpuBackend(), 'mlp', 8, 3);
    expect(p.timing).toBe('host');
    checkProfile(p, kernels);
    checkTraceFormat(profileTrace(p), p);
  });

  describe('wgtrain profile', () => {
    beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); });
    const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', timeout: 300_000 });

    it('prints the sorted table and writes a trace', () => {
      const trace = join(mkdtempSync(join(tmpdir(), 'wgtrain-profile-')), 'step.json');
      const r = cli(['profile', '--model', 'mlp', '--batch-size', '8', '--runs', '2', '--trace', trace]);
      expect(r.stderr.split('\n').filter((l) => l && !/^Warning:/.test(l))).toEqual([]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/timed by GPU timestamps/);
      expect(r.stdout).toMatch(/\| [\d.]+ \| [\d.]+% \| [\d.]+ GFLOP\/s \| matmul/);
      expect(r.stdout).toMatch(/host encodes \(with feeds\) [\d.]+ ms, submits [\d.]+ ms and waits [\d.]+ ms/);
      const t = JSON.parse(readFileSync(trace, 'utf8'));
      expect(t.traceEvents.filter((e: { tid: number; ph: string }) => e.tid === 2 && e.ph === 'X').length).toBeGreaterThan(10);
    });

    it('profiles the GPT step (train --model gpt), attention and the AdamW updates among its kernels', () => {
      const r = cli(['profile', '--model', 'gpt', '--batch-size', '1', '--runs', '1', '--top', '400']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^profile of one training step: gpt \(context \d+, dim \d+, \d+ layers\), batch 1 x \d+ tokens, webgpu/);
      // All of a step's AdamW updates are one kernel (optim_multi), whatever the number of parameters.
      expect(r.stdout.match(/\| optim \| optim_\w+#/g)).toEqual([expect.stringMatching(/optim_multi#/)]);
      expect(r.stdout).toMatch(/\| matmul\w* \| /);
    });

    it('profiles the mixed-precision step with --precision f16: the loss scaler\'s unscaling among its kernels', () => {
      const r = cli(['profile', '--model', 'mlp', '--batch-size', '8', '--runs', '2', '--top', '400', '--precision', 'f16']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^profile of one training step: mlp, batch 8, precision f16, webgpu/);
      // g / scale for each of the six parameters: the float32 step has no division.
      expect(r.stdout.match(/\| elementwise \| div#/g)).toHaveLength(6);
    });

    it('rejects a bad flag in one line, exit 2', () => {
      for (const args of [['profile'], ['profile', '--model', 'mlp', '--batch-size', '0'], ['profile', '--model', 'nosuch'], ['profile', '--model', 'mlp', '--precision', 'f8'], ['profile', '--model', 'gpt', '--precision', 'f16']]) {
        const r = cli(args);
        expect(r.status).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    });
  });
});
