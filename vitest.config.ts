import { defineConfig } from 'vitest/config';

// One test run for the whole monorepo; each package keeps its tests in `test/`.
// Model tests run on the wasm backend in forked processes (one per core), so keep
// configs tiny (D=16, T=8, E=4) as STYLE.md asks.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
