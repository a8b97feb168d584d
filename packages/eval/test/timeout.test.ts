import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSweepConfig, runSweep } from '../src/index.ts';
import { jobTimeoutOf } from '../src/timeout.ts';
import { EVAL_ROOT, FAKE_PLUGINS, readCsv, tmp } from './helpers.ts';

/** Plugins that break at run time, written as a user would: a create() that never resolves, one that returns null, a score() that never returns. */
function brokenPlugins(dir: string): string {
  const file = join(dir, 'broken.ts');
  writeFileSync(
    file,
    `import { defineTask, defineVariant, loglikelihood, scoreMultipleChoice } from '${join(EVAL_ROOT, 'src', 'index.ts')}';
export const hangs = defineVariant({ id: 'hangs', description: 'create() never resolves', create: () => new Promise(() => {}) });
export const nulls = defineVariant({ id: 'nulls', description: 'create() returns null', create: () => null as never });
export const loops = defineTask({
  id: 'loops',
  version: 1,
  description: 'score() never returns (a synchronous loop)',
  metrics: { acc: { aggregation: 'mean', higherIsBetter: true } },
  documents: () => [{ q: 'q', choices: ['a', 'b'] }],
  requests: (doc: { q: string; choices: string[] }) => doc.choices.map((c) => loglikelihood(doc.q, c)),
  score: () => {
    for (;;) {}
  },
});
export default [hangs, nulls, loops];
`,
  );
  return file;
}

describe('job timeouts and broken plugins', () => {
  it('turns a hanging create(), a looping score() and a null model into failed rows; the other jobs finish ok', { timeout: 120_000 }, async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const config = {
      name: 'broken',
      seeds: [0],
      plugins: [FAKE_PLUGINS, brokenPlugins(dir)],
      bootstrapIters: 0,
      jobTimeout: 3,
      variants: [{ id: 'fake' }, { id: 'hangs' }, { id: 'nulls', jobTimeout: 60 }],
      tasks: [{ id: 'fake-mc' }, { id: 'loops', jobTimeout: 2 }],
    };
    const t0 = performance.now();
    const s = await runSweep(config, { outDir: out, workers: 2, progress: false, print: false, quiet: true });
    const seconds = (performance.now() - t0) / 1000;
    expect(s).toMatchObject({ complete: true, total: 6, ran: 6, failed: 5 });
    const rows = readCsv(join(out, 'results.csv'));
    const row = (variant: string, task: string, metric = 'acc') => rows.find((r) => r.variant === variant && r.task === task && r.metric === metric);
    expect(row('fake', 'fake-mc')).toMatchObject({ status: 'ok', value: '0.75', n: '4' });
    expect(row('fake', 'fake-mc', 'acc_norm')).toMatchObject({ status: 'ok', value: '0.25' });
    // fake × loops: the task's 2 s; hangs × fake-mc: the sweep's 3 s; hangs × loops: the larger of none and 2 s.
    expect(row('fake', 'loops')).toMatchObject({ status: 'failed', error: 'timed out after 2 s (jobTimeout); its worker was stopped and replaced' });
    expect(row('hangs', 'fake-mc')).toMatchObject({ status: 'failed', error: 'timed out after 3 s (jobTimeout); its worker was stopped and replaced' });
    expect(row('hangs', 'loops')).toMatchObject({ status: 'failed', error: 'timed out after 2 s (jobTimeout); its worker was stopped and replaced' });
    const nullError = `variant 'nulls' (${join(dir, 'broken.ts')}): create() returned null; it must return (or resolve to) a LanguageModel: an object with info and loglikelihood(), loglikelihoodRolling(), generate(), dispose()`;
    expect(row('nulls', 'fake-mc')).toMatchObject({ status: 'failed', error: nullError });
    expect(row('nulls', 'loops')).toMatchObject({ status: 'failed', error: nullError });
    // Three timeouts of at most 3 s on two workers, plus worker restarts: bounded, far below the 60 s of 'nulls'.
    expect(seconds).toBeLessThan(45);
  });

  it('takes the larger of a variant’s and a task’s jobTimeout, else the sweep’s, else none', () => {
    const base = { name: 'n', seeds: [0], variants: [{ id: 'a', jobTimeout: 10 }, { id: 'b' }], tasks: [{ id: 't', jobTimeout: 20 }, { id: 'u' }] };
    const c = parseSweepConfig({ ...base, jobTimeout: 5 });
    expect([jobTimeoutOf(c, 0, 0), jobTimeoutOf(c, 0, 1), jobTimeoutOf(c, 1, 0), jobTimeoutOf(c, 1, 1)]).toEqual([20, 10, 20, 5]);
    expect(jobTimeoutOf(parseSweepConfig(base), 1, 1)).toBeUndefined();
  });

  it('rejects a jobTimeout that is not a positive number of seconds', () => {
    expect(() => parseSweepConfig({ name: 'n', seeds: [0], variants: [{ id: 'a' }], tasks: [{ id: 't', jobTimeout: 0 }], jobTimeout: -1 })).toThrow(
      /- tasks\.0\.jobTimeout: Too small: expected number to be >0\n {2}- jobTimeout: Too small: expected number to be >0/,
    );
  });
});
