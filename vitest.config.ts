import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import ComponentsReporter from './tools/test/components-reporter.ts';
import SlowFirstSequencer from './tools/test/slow-first-sequencer.ts';
import { MISSING_DIR_ENV } from './tools/test/components.ts';

// Test processes note the system components they did not find here (tools/test/components.ts);
// the components reporter prints them in one line at the end.
const missingDir = mkdtempSync(join(tmpdir(), 'bam-test-missing-'));

// One test run for the whole monorepo; each package keeps its tests in `test/`.
// Model tests run on the wasm backend in forked processes (one per core), so keep
// configs tiny (D=16, T=8, E=4) as docs/style.md asks.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    pool: 'forks',
    // One fork per core. Vitest's own default is cores - 1 (one fork on a 2-core machine, which ran
    // the whole suite in series); the e2e files' spawned processes only add load while they run.
    maxWorkers: availableParallelism(),
    // Slowest files first, so the forks finish together (tools/test/slow-first-sequencer.ts).
    sequence: { sequencer: SlowFirstSequencer },
    // The forks already take one core each; OpenBLAS threads on top would oversubscribe them.
    env: { BAM_BLAS_THREADS: '1', [MISSING_DIR_ENV]: missingDir },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', new ComponentsReporter(missingDir)],
  },
});
