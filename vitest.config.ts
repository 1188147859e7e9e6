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
    hookTimeout: 120_000,
  },
});
