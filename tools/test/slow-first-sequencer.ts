/**
 * Orders the suite's test files so the slowest start first: with one fork per core, the forks then
 * finish together instead of one running a long e2e file alone at the end. Vitest orders by the
 * durations of the last run when it has them (node_modules/.vite), and by file size on a fresh
 * clone, which put minute-long files late; SLOW_FIRST is the fresh-clone order, measured.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take 15 s or more alone on a 2-core machine, slowest first (a fresh-clone CI run);
 * paths relative to the repository root. A file missing here only starts later, so a stale list
 * costs time, never a test.
 */
export const SLOW_FIRST = [
  'packages/plugins/test/e2e/chaos.test.ts',
  'packages/plugins/test/e2e/queue.test.ts',
  'packages/cli/test/byo.test.ts',
  'packages/plugins/test/e2e/webgpu-sweep.test.ts',
  'packages/plugins/test/e2e/smoke-sweep.test.ts',
  'packages/cli/test/errors.test.ts',
  'packages/eval/test/report/browser.test.ts',
  'packages/plugins/test/variants/variants.test.ts',
  'packages/plugins/test/contract/builtin.contract.test.ts',
  'packages/eval/test/cli-sweep.test.ts',
  'packages/plugins/test/variants/study-variants.test.ts',
  'packages/plugins/test/e2e/shards.test.ts',
  'packages/eval/test/shards.test.ts',
];

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(relative(f.project.config.root, f.moduleId).split('\\').join('/'));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the files not listed keep vitest's own order after the listed ones.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
