// The browser demo end to end, in Debian's Chromium (headless, WebGPU on SwiftShader's software Vulkan): the page
// served by `npm run demo:browser` trains an MLP on MNIST with navigator.gpu, the loss falls and the held-out accuracy
// beats chance, a drawn digit gets a prediction, and the check against the CPU reference passes. Without WebGPU the
// page says so and trains on the CPU; on a compatibility-mode device with its default limits it names the limit.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = 'test/.artifacts';
const FLAGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader', '--headless=new',
  '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

interface Point { step: number; value: number }
interface DemoState {
  phase: string; backend: string; adapter: string; notice: string; error: string; step: number; samplesPerSec: number;
  losses: Point[]; accuracies: Point[]; prediction?: { digit: number; probs: number[] };
  check?: { ok: boolean; layers: { layer: string; maxAbsErr: number; ok: boolean }[]; summary: string };
}

let server: ChildProcess, url: string, context: BrowserContext, profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run 'bash scripts/setup.sh' as root on Debian 12 (it installs chromium), or apt-get install chromium`);
  server = spawn(process.execPath, ['scripts/demo-browser.mjs', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d) => { out += d; const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out); if (m) resolve(m[0]); });
    server.on('exit', (code) => reject(new Error(`demo server exited with code ${code} before printing its URL:\n${out}`)));
  });
  // A fresh profile each run; playwright takes it as the persistent context's directory (it refuses --user-data-dir).
  profile = mkdtempSync(join(tmpdir(), 'wgtrain-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 860 } });
});

afterAll(async () => {
  await context?.close();
  server?.kill();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function open(query: string, until: string[]): Promise<{ page: Page; state: DemoState; pageErrors: string[] }> {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url + query);
  // Most of the wait is SwiftShader compiling the step's pipelines: 20 to 120 s on a busy 2-core machine.
  await page.waitForFunction((phases) => phases.includes((globalThis as any).wgtrainDemo?.phase), until, { timeout: 200_000 });
  return { page, state: await demoState(page), pageErrors };
}
const demoState = (page: Page) => page.evaluate(() => JSON.parse(JSON.stringify((globalThis as any).wgtrainDemo)) as DemoState);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function expectLearnt(s: DemoState, steps: number, minAccuracy: number) {
  expect(s.step).toBe(steps);
  const losses = s.losses.map((p) => p.value);
  // The first point comes a few steps in, near ln 10 = 2.3; single mini-batch losses are noisy, so the end is averaged.
  expect(losses[0]).toBeGreaterThan(1.5);
  expect(mean(losses.slice(-4))).toBeLessThan(0.6 * losses[0]);
  expect(s.accuracies.at(-1)!.step).toBe(steps);
  expect(s.accuracies.at(-1)!.value).toBeGreaterThan(minAccuracy); // chance is 10%
  expect(s.samplesPerSec).toBeGreaterThan(0);
}

describe('browser demo in headless Chromium', () => {
  it('trains the MLP on WebGPU: loss falls, held-out accuracy beats chance, drawing predicts, check passes', async () => {
    const steps = 60;
    const { page, state, pageErrors } = await open(`?model=mlp&hidden=32&batch=32&steps=${steps}&log=3&eval=30&train=1000&test=300&autostart=1`, ['done', 'error', 'no-webgpu']);
    expect(state.error || state.notice).toBe('');
    expect(state.phase).toBe('done');
    expect(state.backend).toBe('webgpu');
    expect(state.adapter).toMatch(/swiftshader/i);
    expect(await page.textContent('#adapter')).toContain('WebGPU');
    expectLearnt(state, steps, 0.5);

    // A vertical stroke on the pad: the prediction is a distribution over the ten digits.
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 8; i++) await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.15 + 0.09 * i));
    await page.mouse.up();
    await page.waitForFunction(() => (globalThis as any).wgtrainDemo.prediction);
    const { prediction } = await demoState(page);
    expect(prediction!.probs).toHaveLength(10);
    expect(mean(prediction!.probs) * 10).toBeCloseTo(1, 5);
    expect(await page.textContent('#prediction')).toMatch(new RegExp(`^${prediction!.digit} \\(\\d+%\\)$`));

    await page.click('#check');
    await page.waitForFunction(() => (globalThis as any).wgtrainDemo.check || (globalThis as any).wgtrainDemo.phase === 'error', null, { timeout: 30_000 });
    const { check, error } = await demoState(page);
    expect(error).toBe('');
    expect(check!.ok).toBe(true);
    expect(check!.layers.map((l) => l.layer)).toEqual(['fc1', 'fc2']);
    for (const l of check!.layers) expect(l.maxAbsErr).toBeLessThan(1e-3);
    expect(await page.locator('#check-table tbody tr').count()).toBe(2);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 280_000);

  it('without WebGPU says so plainly and trains on the CPU reference', async () => {
    const steps = 30;
    const { page, state, pageErrors } = await open(`?gpu=none&model=mlp&hidden=32&batch=32&steps=${steps}&log=3&eval=${steps}&train=1000&test=300&autostart=1`, ['no-webgpu', 'done', 'error']);
    expect(state.phase).toBe('no-webgpu');
    expect(state.notice).toMatch(/^WebGPU is not available here: navigator\.gpu is undefined.*train on the CPU/);
    expect(await page.isVisible('#notice')).toBe(true);
    await page.click('text=Train on the CPU instead');
    await page.waitForFunction(() => ['done', 'error'].includes((globalThis as any).wgtrainDemo.phase), null, { timeout: 200_000 });
    const s = await demoState(page);
    expect(s.error).toBe('');
    expect(s.backend).toBe('cpu');
    expect(await page.textContent('#adapter')).toContain('CPU reference');
    expectLearnt(s, steps, 0.3);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 280_000);

  it('a compatibility-mode device with its default limits: the page names the limit it lacks and offers the CPU', async () => {
    const { page, state, pageErrors } = await open('?gpu=compat&limits=default&steps=5&train=200&test=50&autostart=1', ['done', 'error', 'no-webgpu']);
    expect(state.phase).toBe('error');
    expect(state.adapter).toMatch(/compatibility mode, 128 invocations per workgroup/);
    expect(state.notice).toMatch(/lacks a limit the kernels need: maxComputeInvocationsPerWorkgroup is 128 here, and 256 is needed/);
    expect(await page.isVisible('text=Train on the CPU instead')).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 280_000);
});
