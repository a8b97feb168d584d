import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configHash } from '@bam/utils';
import { ContractError, SweepConfigError, defineTask, evaluateDocuments, fakeLanguageModel, loglikelihood, readJournal, readPlan, reaggregate, resultsCsv, runSweep, silentLogger, type JobPlan } from '../src/index.ts';
import { fakeMc } from './fixtures/fake-plugins.ts';
import { shardCount, shardRanges, shardsOf } from '../src/shards.ts';
import { FAKE_PLUGINS, csvWithoutDuration, readCsv, tmp, quietSweep as quiet } from './helpers.ts';

/**
 * Two variants × fake-mc (4 documents) and fake-ppl (3 documents) × two seeds; `split` goes onto
 * every task entry (e.g. `{ shards: 2 }`) and `sweep` onto the config (e.g. `{ shardDocs: 2 }`).
 */
function config(artifactsDir: string, split: Record<string, unknown> = {}, sweep: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'sharded',
    seeds: [0, 1],
    plugins: [FAKE_PLUGINS],
    artifactsDir,
    bootstrapIters: 200,
    variants: [
      { id: 'fake', name: 'fake-0' },
      { id: 'fake', name: 'fake-1', options: { bias: 1 } },
    ],
    tasks: [
      { id: 'fake-mc', ...split },
      { id: 'fake-ppl', ...split },
    ],
    ...sweep,
  };
}

/** Every file of a results folder that must be byte-identical between a split and an unsplit run. */
function derivedFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f === 'docs.jsonl' || /^(table|compare)_.*\.csv$/.test(f)).sort();
}

function expectSameResults(got: string, want: string): void {
  expect(csvWithoutDuration(join(got, 'results.csv'))).toBe(csvWithoutDuration(join(want, 'results.csv')));
  const files = derivedFiles(want);
  expect(files).toContain('docs.jsonl');
  expect(files.some((f) => f.startsWith('compare_'))).toBe(true);
  expect(derivedFiles(got)).toEqual(files);
  for (const f of files) expect(readFileSync(join(got, f), 'utf8'), f).toBe(readFileSync(join(want, f), 'utf8'));
}

function journalLines(dir: string): Array<{ key: string; status: string; shard?: { of: string; index: number; count: number } }> {
  return readFileSync(join(dir, 'jobs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('shard planning', () => {
  it('splits documents into contiguous ranges whose sizes differ by at most one', () => {
    expect(shardRanges(10, 3)).toEqual([[0, 3], [3, 6], [6, 10]]);
    expect(shardRanges(4, 4)).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    expect(shardRanges(7, 1)).toEqual([[0, 7]]);
  });

  it('takes a task\'s own shards over the sweep\'s shardDocs and never makes more shards than documents', () => {
    expect(shardCount(10, 3, 2)).toBe(3);
    expect(shardCount(10, undefined, 4)).toBe(3); // ⌈10 / 4⌉
    expect(shardCount(10, undefined, 10)).toBe(1);
    expect(shardCount(10, undefined, undefined)).toBe(1);
    expect(shardCount(3, 8, undefined)).toBe(3); // clamped: one document per shard
  });

  it('gives each shard its own key, hashed from the unsplit key, shard index and document range', () => {
    const job = { key: 'abc', variant: 'v', variantId: 'v', task: 't', taskId: 't', taskVersion: '1', seed: 0, budget: '', order: [0, 0, 0, 0], metrics: {}, bootstrapIters: 0 } as JobPlan;
    expect(shardsOf(job, 5, 1)).toEqual([job]);
    const shards = shardsOf(job, 5, 2);
    expect(shards.map((s) => s.shard)).toEqual([
      { of: 'abc', index: 0, count: 2, start: 0, end: 2, total: 5 },
      { of: 'abc', index: 1, count: 2, start: 2, end: 5, total: 5 },
    ]);
    expect(shards[1].key).toBe(configHash({ of: 'abc', shard: [1, 2], documents: [2, 5], total: 5 }));
    expect(new Set(shards.map((s) => s.key)).size).toBe(2);
    expect(shards.every((s) => s.seed === 0 && s.order.join() === '0,0,0,0')).toBe(true);
  });

  it('rejects bad shards and shardDocs with an error naming the field', async () => {
    const dir = tmp();
    const bad = { ...config(join(dir, 'a'), {}, { shardDocs: 0 }), tasks: [{ id: 'fake-mc', shards: 0 }, { id: 'fake-ppl', shards: 1.5 }] };
    const err = await runSweep(bad, quiet({ outDir: join(dir, 'out') })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SweepConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/tasks\.0\.shards/);
    expect(msg).toMatch(/tasks\.1\.shards/);
    expect(msg).toMatch(/shardDocs/);
    expect((err as SweepConfigError).code).toMatch(/^E_/);
  });
});

describe('evaluating a shard\'s document range', () => {
  const ctx = { artifactsDir: '/nonexistent', seed: 0, logger: silentLogger };

  it('scores only its documents, exactly as the whole run scores them', async () => {
    const all = await evaluateDocuments(fakeMc, {}, fakeLanguageModel(), ctx);
    const part = await evaluateDocuments(fakeMc, {}, fakeLanguageModel(), ctx, { range: { start: 1, end: 3, total: 4 } });
    expect(part.scores).toEqual(all.scores.slice(1, 3));
    expect(part.ids).toEqual(all.ids.slice(1, 3));
    expect(part.scores).toEqual([{ acc: 1, acc_norm: 0 }, { acc: 1, acc_norm: 0 }]);
  });

  it('gives a document built from the whole set (a few-shot prompt of its neighbours) the same requests in any shard', async () => {
    // Each document's prompt holds the previous document as a one-shot example, the way few-shot
    // tasks draw from the set: a shard starting at document 2 must still see document 1.
    const oneShot = defineTask<Record<string, never>, { q: string; prev: string }>({
      id: 'one-shot',
      version: 1,
      description: 'one-shot prompts from the previous document (test)',
      metrics: { acc: { aggregation: 'mean', higherIsBetter: true } },
      documents: () => ['a', 'bb', 'c', 'dd'].map((q, i, xs) => ({ q, prev: i > 0 ? xs[i - 1] : '' })),
      requests: (d) => [loglikelihood(`${d.prev}\n${d.q}:`, ' x'), loglikelihood(`${d.prev}\n${d.q}:`, ' yy')],
      score: (_d, r) => ({ acc: (r[0] as { logprob: number }).logprob > (r[1] as { logprob: number }).logprob ? 1 : 0 }),
    });
    const all = await evaluateDocuments(oneShot, {}, fakeLanguageModel(), ctx);
    const shards = await Promise.all([[0, 2], [2, 4]].map(([start, end]) => evaluateDocuments(oneShot, {}, fakeLanguageModel(), ctx, { range: { start, end, total: 4 } })));
    expect(shards.flatMap((s) => s.ids)).toEqual(all.ids);
    expect(shards.flatMap((s) => s.scores)).toEqual(all.scores);
  });

  it('fails saying so when the task yields another number of documents than the plan counted', async () => {
    const err = await evaluateDocuments(fakeMc, { n: 3 }, fakeLanguageModel(), ctx, { range: { start: 2, end: 4, total: 4 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractError);
    expect((err as Error).message).toContain("task 'fake-mc' yielded 3 documents, but this shard was planned as documents 2–3 of 4");
    expect((err as ContractError).hint).toMatch(/deterministic/);
  });
});

describe('a sweep with split tasks', () => {
  it('aggregates its shards to exactly the unsplit results, documents and comparisons', async () => {
    const dir = tmp();
    const whole = join(dir, 'whole');
    const split = join(dir, 'split');
    const a = await runSweep(config(join(dir, 'artifacts')), quiet({ outDir: whole, workers: 2 }));
    expect(a).toMatchObject({ complete: true, total: 8, ran: 8, failed: 0 });
    const b = await runSweep(config(join(dir, 'artifacts'), { shards: 2 }), quiet({ outDir: split, workers: 2 }));
    // 8 jobs, each in 2 shards
    expect(b).toMatchObject({ complete: true, total: 16, ran: 16, failed: 0 });
    expectSameResults(split, whole);
    expect(readCsv(join(split, 'results.csv')).find((r) => r.variant === 'fake-0' && r.task === 'fake-mc' && r.metric === 'acc' && r.seed === '0')).toMatchObject({ value: '0.75', n: '4', status: 'ok' });

    // the plan keeps the rows and lists the shards that run in their place
    const plan = readPlan(split);
    expect(plan.jobs.map((j) => j.key)).toEqual(readPlan(whole).jobs.map((j) => j.key));
    expect(plan.shards).toHaveLength(16);
    const mc = plan.shards!.filter((s) => s.shard!.of === plan.jobs[0].key).map((s) => s.shard);
    expect(mc).toEqual([
      { of: plan.jobs[0].key, index: 0, count: 2, start: 0, end: 2, total: 4 },
      { of: plan.jobs[0].key, index: 1, count: 2, start: 2, end: 4, total: 4 },
    ]);
    // the journal: a line per shard, then one merged line per job under the unsplit key
    const lines = journalLines(split);
    expect(lines.filter((l) => l.shard)).toHaveLength(16);
    expect(lines.filter((l) => !l.shard).map((l) => l.key).sort()).toEqual(plan.jobs.map((j) => j.key).sort());
    expect(resultsCsv(reaggregate(split))).toBe(readFileSync(join(split, 'results.csv'), 'utf8'));

    // a resume of the finished sweep runs nothing
    const again = await runSweep(config(join(dir, 'artifacts'), { shards: 2 }), quiet({ outDir: split, workers: 2, resume: true }));
    expect(again).toMatchObject({ complete: true, ran: 0, skipped: 16 });
    expectSameResults(split, whole);
  });

  it('splits tasks automatically by shardDocs, one document per shard when shards exceed the documents', async () => {
    const dir = tmp();
    const whole = join(dir, 'whole');
    await runSweep(config(join(dir, 'artifacts')), quiet({ outDir: whole, workers: 2 }));
    const auto = join(dir, 'auto');
    // fake-mc: 4 documents → 2 shards of 2; fake-ppl: 3 documents → 2 shards, of 1 and 2
    const s = await runSweep(config(join(dir, 'artifacts'), {}, { shardDocs: 2 }), quiet({ outDir: auto, workers: 2 }));
    expect(s).toMatchObject({ complete: true, total: 16, ran: 16 });
    const ranges = readPlan(auto).shards!.filter((j) => j.variant === 'fake-0' && j.seed === 0).map((j) => `${j.task}:${j.shard!.start}-${j.shard!.end}`);
    expect(ranges).toEqual(['fake-mc:0-2', 'fake-mc:2-4', 'fake-ppl:0-1', 'fake-ppl:1-3']);
    expectSameResults(auto, whole);

    const many = join(dir, 'many');
    const m = await runSweep(config(join(dir, 'artifacts'), { shards: 9 }), quiet({ outDir: many, workers: 2 }));
    expect(m).toMatchObject({ complete: true, total: 4 * (4 + 3) }); // clamped to 4 and 3 shards
    expectSameResults(many, whole);
  });

  it('resumes a split job by running only its missing shards', async () => {
    const dir = tmp();
    const whole = join(dir, 'whole');
    await runSweep(config(join(dir, 'artifacts')), quiet({ outDir: whole, workers: 1 }));
    const part = join(dir, 'part');
    const cfg = config(join(dir, 'artifacts'), { shards: 2 });
    const first = await runSweep(cfg, quiet({ outDir: part, workers: 1, maxJobs: 1 }));
    expect(first).toMatchObject({ complete: false, ran: 1 });
    // one shard of the first job is journaled; its job has no row yet
    expect(journalLines(part).map((l) => l.shard?.index)).toEqual([0]);
    expect(readCsv(join(part, 'results.csv'))).toHaveLength(0);
    const second = await runSweep(cfg, quiet({ outDir: part, workers: 1, resume: true, maxJobs: 1 }));
    expect(second).toMatchObject({ ran: 1, skipped: 1 });
    const journal = journalLines(part);
    // the second shard, then the merged job: shard 0 was not run again
    expect(journal.map((l) => (l.shard ? `shard ${l.shard.index}` : 'merged'))).toEqual(['shard 0', 'shard 1', 'merged']);
    expect(readCsv(join(part, 'results.csv')).map((r) => `${r.variant}:${r.task}:${r.metric}:${r.seed}:${r.value}`)).toEqual(['fake-0:fake-mc:acc:0:0.75', 'fake-0:fake-mc:acc_norm:0:0.25']);
    const rest = await runSweep(cfg, quiet({ outDir: part, workers: 2, resume: true }));
    expect(rest).toMatchObject({ complete: true, ran: 14, skipped: 2 });
    expectSameResults(part, whole);
  });

  it('counts a job finished unsplit as done for a split config, and reruns a half-split job whole for an unsplit one', async () => {
    const dir = tmp();
    const whole = join(dir, 'whole');
    await runSweep(config(join(dir, 'artifacts')), quiet({ outDir: whole, workers: 2 }));
    const lines = journalLines(whole).length;
    // unsplit journal, split config: nothing runs, nothing changes
    const resplit = await runSweep(config(join(dir, 'artifacts'), { shards: 2 }), quiet({ outDir: whole, workers: 2, resume: true }));
    expect(resplit).toMatchObject({ complete: true, ran: 0, skipped: 16 });
    expect(journalLines(whole)).toHaveLength(lines);

    // half of the shards of a split run, then the unsplit config: the unmerged jobs run whole
    const half = join(dir, 'half');
    await runSweep(config(join(dir, 'artifacts'), { shards: 2 }), quiet({ outDir: half, workers: 1, maxJobs: 3 }));
    const log = { text: '', write(s: string) { this.text += s; return true; } };
    const unsplit = await runSweep(config(join(dir, 'artifacts')), { print: false, quiet: true, progress: log, outDir: half, workers: 2, resume: true });
    // shards 0 and 1 of the first job merged into it; the other 7 jobs ran whole
    expect(unsplit).toMatchObject({ complete: true, ran: 7, skipped: 1 });
    expect(log.text).not.toMatch(/config changed/);
    expectSameResults(half, whole);
    // and a split config again finds every job done
    const back = await runSweep(config(join(dir, 'artifacts'), { shards: 3 }), quiet({ outDir: half, workers: 2, resume: true }));
    expect(back).toMatchObject({ ran: 0 });
    expect(readJournal(half).records.size).toBeGreaterThan(8);
  });

  it('records a failed shard as a failed row naming the shard, and reruns only the failed shards on resume', async () => {
    const dir = tmp();
    const cfg = { ...config(join(dir, 'artifacts'), { shards: 2 }), seeds: [0], variants: [{ id: 'fake', name: 'thrower', options: { mode: 'throw' } }] };
    const out = join(dir, 'out');
    const s = await runSweep(cfg, quiet({ outDir: out, workers: 2 }));
    expect(s).toMatchObject({ complete: true, total: 4, ran: 4, failed: 2 });
    const rows = readCsv(join(out, 'results.csv'));
    expect(rows.map((r) => `${r.task}:${r.metric}:${r.status}`)).toEqual(['fake-mc:acc:failed', 'fake-mc:acc_norm:failed', 'fake-ppl:token_perplexity:failed', 'fake-ppl:word_perplexity:failed', 'fake-ppl:bits_per_byte:failed']);
    expect(rows[0].error).toBe('shard 1/2 (documents 0–1) failed: fake variant asked to throw');
    expect(rows[2].error).toBe('shard 1/2 (documents 0–0) failed: fake variant asked to throw');
    const again = await runSweep(cfg, quiet({ outDir: out, workers: 2, resume: true }));
    expect(again).toMatchObject({ ran: 4, failed: 2 });
    // the same failure is journaled once per job, not again on every resume
    expect(journalLines(out).filter((l) => !l.shard)).toHaveLength(2);
  });
});
