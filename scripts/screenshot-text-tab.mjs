// The README's picture of the text tab: serves the demo, opens the text tab in Debian's headless Chromium (WebGPU on
// SwiftShader, as the end-to-end test does), trains the GPT on 200,000 characters of the default corpus and saves
// the page once it is done. About 12 minutes on a busy 2-core machine. `node scripts/screenshot-text-tab.mjs [out.png]`
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const out = process.argv[2] ?? 'demos/browser/text-tab.png';
const query = '?tab=text&tautostart=1&chars=200000&context=48&dim=48&heads=4&layers=2&tsteps=200&tbatch=16&sample=50&tlr=0.008&train=100&test=100';
const FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader', '--headless=new', '--no-sandbox', '--disable-gpu-compositing', '--disable-accelerated-2d-canvas'];
const server = spawn(process.execPath, ['scripts/demo-browser.mjs', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => { let o = ''; server.stdout.on('data', (d) => { o += d; const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(o); if (m) resolve(m[0]); }); });
const profile = mkdtempSync(join(tmpdir(), 'wgtrain-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
try {
  const page = await ctx.newPage();
  await page.goto(url + query);
  await page.waitForFunction(() => ['done', 'error', 'stopped'].includes(globalThis.wgtrainText?.phase), null, { timeout: 3_600_000 });
  const s = await page.evaluate(() => globalThis.wgtrainText);
  if (s.error) throw new Error(s.error);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}: ${s.losses.at(-1).step} steps, held-out loss ${s.valLoss.toFixed(3)} nats per character (unigram ${s.model.unigram.toFixed(3)})`);
} finally {
  await ctx.close();
  server.kill();
  rmSync(profile, { recursive: true, force: true });
}
