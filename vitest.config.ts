import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [{
    name: 'wgsl-as-text',
    transform(code: string, id: string) {
      if (id.endsWith('.wgsl') || id.endsWith('.py')) return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  }],
  test: {
    include: ['test/**/*.test.ts'],
    // One Dawn instance per worker on 2 cores: files run one after another in a single forked process.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    // Deterministic, fast runs that leave the user's cache alone: a test that exercises tuning turns it on itself.
    env: { WGTRAIN_AUTOTUNE: '0' },
    hookTimeout: 120_000,
  },
});
