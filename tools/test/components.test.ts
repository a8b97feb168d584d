/**
 * The suite on a machine without Chromium, OpenBLAS and PyTorch: a child vitest runs the three
 * test files that need them with Chromium and the PyTorch Python pointed at paths that do not
 * exist and OpenBLAS ruled out by BAM_TEST_WITHOUT (the system library cannot be hidden from the
 * linker). Without CI it passes, skipping them, and ends with the one summary line; with CI=true
 * it fails, naming each component and its install command.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { installCommand, summaryLine } from './components.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FILES = ['packages/eval/test/report/browser.test.ts', 'packages/core/test/ops/blas.test.ts', 'benchmarks/test/pytorch-peer.test.ts'];

/** `vitest run FILES` in a child process, as on a machine without the three components. */
function vitestWithout(ci: boolean) {
  const env: Record<string, string> = {};
  // The child is a run of its own: none of this run's vitest or CI settings.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(VITEST|CI$|BAM_TEST_)/.test(k)) env[k] = v;
  Object.assign(env, { CHROMIUM_PATH: '/nonexistent/chromium', BAM_PEER_PYTHON: '/nonexistent/python3', BAM_TEST_WITHOUT: 'openblas', NO_COLOR: '1' });
  if (ci) env.CI = 'true';
  const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...FILES], { cwd: REPO, env, encoding: 'utf8', timeout: 110_000 });
  return { code: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

const LINE =
  'bam: skipped the tests that need system components not found here: chromium (apt-get install -y --no-install-recommends chromium), ' +
  'openblas (apt-get install -y --no-install-recommends libopenblas0-pthread), ' +
  'pytorch (apt-get install -y --no-install-recommends python3-torch python3-numpy) — `npm run test:full` installs them and runs everything';

describe('tests that need a system component on a machine without it', () => {
  it('names the Debian packages of several components once each', () => {
    expect(installCommand(['pytorch', 'numpy', 'openblas'])).toBe('apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread');
    expect(summaryLine(['chromium', 'openblas', 'pytorch'], false)).toBe(LINE);
  });

  it('are skipped, and the run passes and ends with one line naming each missing component and its install command', () => {
    const r = vitestWithout(false);
    expect(r.code, r.out).toBe(0);
    // blas.test.ts keeps the two tests that need no library (the fixed blocks of a product, under either cut).
    expect(r.out).toMatch(/Test Files\s+1 passed \| 2 skipped \(3\)/);
    expect(r.out).toMatch(/Tests\s+2 passed \| \d+ skipped/);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(LINE);
    expect(lines.filter((l) => l.startsWith('bam: '))).toHaveLength(1);
  });

  it('fail the run under CI=true, each file naming its component, why it is missing and its install command', () => {
    const r = vitestWithout(true);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Test Files\s+3 failed \(3\)/);
    expect(r.out).toContain('chromium (the report\'s browser test (packages/eval/test/report/browser.test.ts)): no executable at /nonexistent/chromium');
    expect(r.out).toContain('openblas (');
    expect(r.out).toContain('BAM_TEST_WITHOUT names it; install: apt-get install -y --no-install-recommends libopenblas0-pthread');
    expect(r.out).toContain('pytorch (');
    expect(r.out).toContain('/nonexistent/python3');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(
      'bam: FAILED: CI=true and tests need missing system components: chromium (apt-get install -y --no-install-recommends chromium), ' +
        'openblas (apt-get install -y --no-install-recommends libopenblas0-pthread), pytorch (apt-get install -y --no-install-recommends python3-torch python3-numpy)',
    );
  });
});
