import { defineConfig } from 'vitest/config';

// One test run for the whole monorepo; each package keeps its tests in `test/`.
// Model tests run on the wasm backend in forked processes (one per core), so keep
// configs tiny (D=16, T=8, E=4) as STYLE.md asks.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    pool: 'forks',
    // The forks already take one core each; OpenBLAS threads on top would oversubscribe them.
    env: { BAM_BLAS_THREADS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
