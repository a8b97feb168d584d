import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResultsError, SweepConfigError, reaggregate, resultsCsv, runSweep } from '../src/index.ts';
import { FAKE_PLUGINS, csvWithoutDuration, readCsv, sink, tmp, quietSweep as quiet } from './helpers.ts';

/** Two fake variants × three tasks × two seeds = 12 jobs, 44 result rows. */
function mainConfig(artifactsDir: string): Record<string, unknown> {
  return {
    name: 'fake-main',
    seeds: [0, 1],
    plugins: [FAKE_PLUGINS],
    artifactsDir,
    bootstrapIters: 200,
    variants: [
      { id: 'fake', name: 'fake-0' },
      { id: 'fake', name: 'fake-1', options: { bias: 1 } },
    ],
    tasks: [{ id: 'fake-mc' }, { id: 'fake-ppl' }, { id: 'fake-mc', name: 'fake-mc-2', options: { n: 2 } }],
  };
}

function value(rows: Record<string, string>[], variant: string, task: string, metric: string, seed = '0'): Record<string, string> {
  const hit = rows.filter((r) => r.variant === variant && r.task === task && r.metric === metric && r.seed === seed);
  expect(hit).toHaveLength(1);
  return hit[0];
}

describe('sweep', () => {
  it('runs variants × tasks × seeds on two workers and writes the hand-computed values', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const progress = sink();
    const printed = sink();
    const s = await runSweep(mainConfig(join(dir, 'artifacts')), { outDir: out, workers: 2, progress, print: printed, quiet: true });
    expect(s).toMatchObject({ complete: true, total: 12, ran: 12, skipped: 0, failed: 0 });
    const rows = readCsv(join(out, 'results.csv'));
    expect(rows).toHaveLength(2 * 2 * (2 + 3 + 2));
    expect(Object.keys(rows[0])).toEqual([
      'variant', 'task', 'metric', 'value', 'stderr', 'n', 'seed', 'budget', 'task_version',
      'config_hash', 'backend', 'package_version', 'status', 'error', 'duration_s',
    ]);
    // row order: variant, task, metric, seed
    expect(rows.slice(0, 4).map((r) => `${r.variant} ${r.task} ${r.metric} ${r.seed}`)).toEqual([
      'fake-0 fake-mc acc 0', 'fake-0 fake-mc acc 1', 'fake-0 fake-mc acc_norm 0', 'fake-0 fake-mc acc_norm 1',
    ]);
    const acc = value(rows, 'fake-0', 'fake-mc', 'acc');
    expect(acc).toMatchObject({ value: '0.75', stderr: '0.25', n: '4', task_version: '2', status: 'ok', backend: 'fake-setup-1', package_version: '0.1.0', budget: '' });
    expect(value(rows, 'fake-0', 'fake-mc', 'acc_norm').value).toBe('0.25');
    expect(value(rows, 'fake-0', 'fake-mc-2', 'acc').value).toBe('1');
    expect(value(rows, 'fake-0', 'fake-mc-2', 'acc_norm').value).toBe('0.5');
    expect(Number(value(rows, 'fake-0', 'fake-ppl', 'token_perplexity').value)).toBeCloseTo(Math.exp(0.3), 12);
    expect(Number(value(rows, 'fake-0', 'fake-ppl', 'word_perplexity').value)).toBeCloseTo(Math.exp(0.75), 12);
    expect(Number(value(rows, 'fake-0', 'fake-ppl', 'bits_per_byte', '1').value)).toBeCloseTo(3 / (11 * Math.LN2), 12);
    expect(Number(value(rows, 'fake-1', 'fake-ppl', 'token_perplexity').value)).toBeCloseTo(Math.exp(1.3), 12);
    expect(Number(value(rows, 'fake-1', 'fake-ppl', 'bits_per_byte').value)).toBeCloseTo(13 / (11 * Math.LN2), 12);
    expect(Number(value(rows, 'fake-1', 'fake-ppl', 'bits_per_byte').stderr)).toBeGreaterThan(0);
    expect(value(rows, 'fake-1', 'fake-ppl', 'bits_per_byte').task_version).toBe('v1');
    expect(value(rows, 'fake-1', 'fake-mc', 'acc').value).toBe('0.75'); // bias 1: acc [0, 1, 1, 1]
    // the config hash identifies the job config: equal across metrics, different across seeds
    expect(acc.config_hash).toBe(value(rows, 'fake-0', 'fake-mc', 'acc_norm').config_hash);
    expect(acc.config_hash).not.toBe(value(rows, 'fake-0', 'fake-mc', 'acc', '1').config_hash);

    // wide tables: mean over seeds, average over tasks where a metric has several, each with its
    // stderr √(Σ seᵢ²)/k: acc [1,1,1,0] has se 0.25 per seed → 0.25/√2 over two seeds; [0,1] se 0.5 → 0.5/√2
    const r2 = Math.SQRT1_2;
    expect(readFileSync(join(out, 'table_acc.csv'), 'utf8')).toBe(
      `variant,fake-mc,fake-mc_stderr,fake-mc-2,fake-mc-2_stderr,average,average_stderr\nfake-0,0.75,${0.25 * r2},1,0,0.875,${(0.25 * r2) / 2}\nfake-1,0.75,${0.25 * r2},0.5,${0.5 * r2},0.625,${Math.sqrt((0.25 * r2) ** 2 + (0.5 * r2) ** 2) / 2}\n`,
    );
    expect(readCsv(join(out, 'table_acc_norm.csv')).map((r) => [r.variant, r['fake-mc'], r['fake-mc-2'], r.average])).toEqual([['fake-0', '0.25', '0.5', '0.375'], ['fake-1', '0.25', '0.5', '0.375']]);
    const ppl = readCsv(join(out, 'table_token_perplexity.csv'));
    expect(Object.keys(ppl[0])).toEqual(['variant', 'fake-ppl', 'fake-ppl_stderr']);
    expect(Number(ppl[1]['fake-ppl'])).toBeCloseTo(Math.exp(1.3), 12);
    expect(printed.text).toMatch(/acc \(higher is better\)\nvariant\s+fake-mc\s+fake-mc-2\s+average/);
    // printed cells are value ± stderr, rounded to the stderr's two significant digits
    expect(printed.text).toMatch(/\nfake-1\s+0\.75 ± 0\.18\s+0\.50 ± 0\.35\s+0\.63 ± 0\.20\n/);
    expect(printed.text).toContain('token_perplexity (lower is better)');
    expect(progress.text).toContain('12/12 jobs');
    expect(progress.text).toMatch(/ETA \d+:\d\d/);

    // one journal line per job; docs.jsonl holds 4 + 3 + 2 documents per (variant, seed)
    expect(readFileSync(join(out, 'jobs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12);
    expect(readFileSync(join(out, 'docs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(36);

    // re-aggregating docs.jsonl reproduces results.csv exactly
    expect(resultsCsv(reaggregate(out))).toBe(readFileSync(join(out, 'results.csv'), 'utf8'));
  });

  it('runs jobs concurrently on two worker threads', async () => {
    const dir = tmp();
    const meetDir = tmp();
    const meet = (as: string, other: string) => ({ id: 'fake', name: as, options: { meetDir, meetAs: as, meetWith: other } });
    const out = join(dir, 'out');
    const s = await runSweep(
      { name: 'threads', seeds: [0], plugins: [FAKE_PLUGINS], artifactsDir: join(dir, 'artifacts'), variants: [meet('a', 'b'), meet('b', 'a')], tasks: [{ id: 'fake-mc' }] },
      quiet({ outDir: out, workers: 2 }),
    );
    expect(s.rows.map((r) => r.error)).toEqual(['', '', '', '']);
    const journal = readFileSync(join(out, 'jobs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { threadId: number });
    expect(new Set(journal.map((j) => j.threadId)).size).toBe(2);
    expect(readCsv(join(out, 'results.csv')).map((r) => r.value)).toEqual(['0.75', '0.25', '0.75', '0.25']);
  });

  it('records a throwing job and a crashed worker as failed rows while the others complete', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const config = {
      name: 'failures',
      seeds: [0],
      plugins: [FAKE_PLUGINS],
      artifactsDir: join(dir, 'artifacts'),
      variants: [
        { id: 'fake', name: 'thrower', options: { mode: 'throw' } },
        { id: 'fake', name: 'good' },
        { id: 'fake', name: 'crasher', options: { mode: 'exit' } },
        { id: 'fake', name: 'good-1', options: { bias: 1 } },
      ],
      tasks: [{ id: 'fake-mc' }],
    };
    const s = await runSweep(config, quiet({ outDir: out, workers: 2 }));
    expect(s).toMatchObject({ complete: true, total: 4, ran: 4, failed: 2 });
    const rows = readCsv(join(out, 'results.csv'));
    expect(rows.map((r) => `${r.variant}:${r.metric}:${r.status}:${r.value}`)).toEqual([
      'thrower:acc:failed:', 'thrower:acc_norm:failed:', 'good:acc:ok:0.75', 'good:acc_norm:ok:0.25',
      'crasher:acc:failed:', 'crasher:acc_norm:failed:', 'good-1:acc:ok:0.75', 'good-1:acc_norm:ok:0.25',
    ]);
    expect(rows[0].error).toBe('fake variant asked to throw');
    expect(rows[4].error).toMatch(/worker died: .*code: 7/);
    expect(existsSync(join(out, 'table_acc.csv'))).toBe(true);
    expect(readFileSync(join(out, 'table_acc.csv'), 'utf8')).toBe('variant,fake-mc,fake-mc_stderr\nthrower,,\ngood,0.75,0.25\ncrasher,,\ngood-1,0.75,0.25\n');

    // a resume runs the failed jobs again (and only those)
    const again = await runSweep(config, quiet({ outDir: out, workers: 2, resume: true }));
    expect(again).toMatchObject({ ran: 2, skipped: 2, failed: 2 });
  });

  it('resumes an interrupted sweep (and a torn journal line) to the same files as an uninterrupted run', async () => {
    const dir = tmp();
    const config = mainConfig(join(dir, 'artifacts'));
    const full = join(dir, 'full');
    await runSweep(config, quiet({ outDir: full, workers: 2 }));

    const part = join(dir, 'part');
    const first = await runSweep(config, quiet({ outDir: part, workers: 2, maxJobs: 5 }));
    expect(first).toMatchObject({ complete: false, ran: 5 });
    expect(readCsv(join(part, 'results.csv')).length).toBeLessThan(44);
    await expect(runSweep(config, quiet({ outDir: part, workers: 2 }))).rejects.toThrow(ResultsError);
    const second = await runSweep(config, quiet({ outDir: part, workers: 1, resume: true, maxJobs: 3 }));
    expect(second).toMatchObject({ complete: false, ran: 3, skipped: 5 });
    appendFileSync(join(part, 'jobs.jsonl'), '{"key":"torn-by-a-kill","sta'); // a write cut short by a kill
    appendFileSync(join(part, 'docs.jsonl'), '{"key":"deadbeef","doc":0,"scores":{"acc":1}}\n'); // docs of a job that never committed
    // a journaled job whose documents are incomplete is not done: it runs again
    const docLines = readFileSync(join(part, 'docs.jsonl'), 'utf8').split('\n');
    const victim = (JSON.parse(docLines[0]) as { key: string }).key;
    writeFileSync(join(part, 'docs.jsonl'), docLines.filter((l, i) => i !== 0 || !l.includes(victim)).join('\n'));
    const third = await runSweep(config, quiet({ outDir: part, workers: 2, resume: true }));
    expect(third).toMatchObject({ complete: true, ran: 5, skipped: 7, failed: 0 });

    expect(csvWithoutDuration(join(part, 'results.csv'))).toBe(csvWithoutDuration(join(full, 'results.csv')));
    for (const f of ['docs.jsonl', 'table_acc.csv', 'table_bits_per_byte.csv', 'sweep.json']) {
      expect(readFileSync(join(part, f), 'utf8')).toBe(readFileSync(join(full, f), 'utf8'));
    }
    const done = await runSweep(config, quiet({ outDir: part, workers: 2, resume: true }));
    expect(done).toMatchObject({ complete: true, ran: 0, skipped: 12 });
    expect(resultsCsv(reaggregate(part))).toBe(readFileSync(join(part, 'results.csv'), 'utf8'));
  });

  it('fails before any work on an invalid config, listing every bad field', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const err = await runSweep(
      {
        name: '',
        seed: 3,
        seeds: [0, 0],
        workers: 0,
        budgets: ['flops-matched'],
        plugins: [FAKE_PLUGINS],
        variants: [{ id: 'fak' }, { id: 'fake', options: { bias: -1, colour: 'red' } }],
        tasks: [{ id: 'fake-mc', options: { n: 'four' } }, { id: 'fake-ppl', optons: {} }],
      },
      quiet({ outDir: out }),
    ).catch((e: unknown) => e as SweepConfigError);
    expect(err).toBeInstanceOf(SweepConfigError);
    const paths = (err as SweepConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual([
      '', // the unknown top-level key 'seed'
      'budgets.0',
      'name',
      'seeds.1',
      'tasks.0.options.n',
      'tasks.1',
      'variants.0.id',
      'variants.1.options',
      'variants.1.options.bias',
      'workers',
    ]);
    const msg = (err as SweepConfigError).message;
    expect(msg).toContain("unknown variant 'fak'; known variants: fake, fake-budget; did you mean 'fake'?");
    expect(msg).toContain('seed 0 is listed twice');
    expect(msg).toMatch(/Unrecognized key.*"seed"/);
    expect(existsSync(out)).toBe(false);
  });

  it('runs budgeted variants once per budget and prepares each distinct variant config once', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const artifacts = join(dir, 'artifacts');
    const s = await runSweep(
      {
        name: 'budgets',
        seeds: [0, 1],
        budgets: ['data-matched', 'compute-matched'],
        plugins: [FAKE_PLUGINS],
        artifactsDir: artifacts,
        variants: [{ id: 'fake-budget', options: { requirePrepared: true } }, { id: 'fake', options: { requirePrepared: true } }],
        tasks: [{ id: 'fake-mc' }, { id: 'fake-ppl' }],
      },
      quiet({ outDir: out, workers: 2 }),
    );
    expect(s).toMatchObject({ total: 12, failed: 0, complete: true });
    const log = readFileSync(join(artifacts, 'prepared.log'), 'utf8').trim().split('\n').sort();
    expect(log).toEqual([
      'bias=0 seed=0 budget=-',
      'bias=0 seed=0 budget=compute-matched',
      'bias=0 seed=0 budget=data-matched',
      'bias=0 seed=1 budget=-',
      'bias=0 seed=1 budget=compute-matched',
      'bias=0 seed=1 budget=data-matched',
    ]);
    const rows = readCsv(join(out, 'results.csv'));
    expect([...new Set(rows.map((r) => `${r.variant}|${r.budget}`))]).toEqual(['fake-budget|data-matched', 'fake-budget|compute-matched', 'fake|']);
    expect(readCsv(join(out, 'table_acc.csv')).map((r) => `${r.variant}: ${r['fake-mc']}`)).toEqual(['fake-budget [data-matched]: 0.75', 'fake-budget [compute-matched]: 0.75', 'fake: 0.75']);
  });

  it('turns a failing prepare into failed rows for that variant only', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    // artifactsDir is a file, so prepare's mkdir fails; the variant without prepare-dependence still runs
    const artifacts = join(dir, 'not-a-folder');
    appendFileSync(artifacts, 'x');
    const s = await runSweep(
      { name: 'prep-fail', seeds: [0], plugins: [FAKE_PLUGINS], artifactsDir: artifacts, variants: [{ id: 'fake' }], tasks: [{ id: 'fake-mc' }] },
      quiet({ outDir: out, workers: 1 }),
    );
    expect(s.failed).toBe(1);
    expect(readCsv(join(out, 'results.csv'))[0].error).toMatch(/^prepare failed: .*(EEXIST|ENOTDIR)/);
  });
});
