#!/usr/bin/env node
// Runs the esbuild bundle (built by `npm ci`/`npm run build` through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error("wgtrain: dist/cli.js is missing; run 'npm run setup' (or 'npm run build') first");
  process.exit(2);
}
await import(cli);
