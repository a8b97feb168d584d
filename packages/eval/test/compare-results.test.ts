import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PluginRegistry,
  ResultsError,
  checkSweepConfig,
  planJobs,
  SweepConfigError,
  compareResults,
  documentId,
  loglikelihoodRolling,
  mcnemarExact,
  mulberry32,
  readDocs,
  renderComparisons,
  runSweep,
  writeComparisons,
  writeSyntheticResults,
  type DocScores,
  type MetricSpec,
  type SyntheticJob,
} from '../src/index.ts';
import { FAKE_PLUGINS, FIXTURES, readCsv, tmp } from './helpers.ts';

const METRICS: Record<string, Record<string, MetricSpec>> = {
  'ppl-a': { token_perplexity: { aggregation: 'perplexity', higherIsBetter: false } },
  'ppl-b': { token_perplexity: { aggregation: 'perplexity', higherIsBetter: false } },
  mc: { acc: { aggregation: 'mean', higherIsBetter: true } },
};

/** Per-document logprobs of a baseline; other variants scale them (a factor < 1 is better). */
function pplDocs(seed: number, scale: number, n = 20): DocScores[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const tokens = 10 + Math.floor(rand() * 40);
    return { token_perplexity: [-tokens * (2 + rand()) * scale, tokens] as [number, number] };
  });
}

const MC_BASE = [1, 1, 0, 0, 1, 0, 1, 0, 1, 1];
const MC_BAM = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1]; // b = 3 (docs 2, 3, 5), c = 1 (doc 8)
const MC_DENSE = [0, 1, 0, 0, 1, 0, 1, 0, 1, 1]; // b = 0, c = 1

/** dense (listed first, so the default baseline must skip it), btx and bam-full; one seed. */
function fixture(seeds: number[] = [0]): { dir: string; jobs: SyntheticJob[] } {
  const dir = tmp('bam-compare-');
  const jobs: SyntheticJob[] = [];
  for (const [variant, scale, mc] of [['dense', 1.1, MC_DENSE], ['btx', 1, MC_BASE], ['bam-full', 0.98, MC_BAM]] as const) {
    for (const task of ['ppl-a', 'ppl-b']) {
      for (const seed of seeds) jobs.push({ variant, task, seed, docs: pplDocs(task === 'ppl-a' ? 1 : 2, scale + 0.01 * seed) });
    }
    for (const seed of seeds) jobs.push({ variant, task: 'mc', seed, docs: mc.map((acc) => ({ acc })) });
  }
  writeSyntheticResults(dir, { metrics: METRICS, jobs, bootstrapIters: 300 });
  return { dir, jobs };
}

function corpusPpl(docs: DocScores[]): number {
  let lp = 0;
  let n = 0;
  for (const d of docs) {
    const [a, b] = d.token_perplexity as [number, number];
    lp += a;
    n += b;
  }
  return Math.exp(-lp / n);
}

describe('compare_<metric>.csv', () => {
  it('compares every variant with the first mixture by default, with hand-computable values', () => {
    const { dir, jobs } = fixture();
    const paths = writeComparisons(dir, { bootstrapIters: 300 });
    expect(paths.map((p) => p.slice(dir.length + 1)).sort()).toEqual(['compare_acc.csv', 'compare_token_perplexity.csv']);
    const rows = readCsv(join(dir, 'compare_token_perplexity.csv'));
    expect(Object.keys(rows[0])).toEqual([
      'variant', 'baseline', 'task', 'metric', 'value', 'baseline_value', 'delta', 'rel_delta', 'ci_low', 'ci_high',
      'rel_ci_low', 'rel_ci_high', 'p_value', 'p_holm', 'test', 'n_docs', 'n_seeds', 'iters', 'config_hash',
    ]);
    expect(rows.map((r) => `${r.variant} ${r.task}`)).toEqual(['dense ppl-a', 'bam-full ppl-a', 'dense ppl-b', 'bam-full ppl-b', 'dense average', 'bam-full average']);
    expect(new Set(rows.map((r) => r.baseline))).toEqual(new Set(['btx']));
    const docsOf = (variant: string, task: string): DocScores[] => jobs.find((j) => j.variant === variant && j.task === task)!.docs;
    const bamA = rows[1];
    expect(Number(bamA.value)).toBeCloseTo(corpusPpl(docsOf('bam-full', 'ppl-a')), 10);
    expect(Number(bamA.baseline_value)).toBeCloseTo(corpusPpl(docsOf('btx', 'ppl-a')), 10);
    expect(Number(bamA.delta)).toBeCloseTo(corpusPpl(docsOf('bam-full', 'ppl-a')) - corpusPpl(docsOf('btx', 'ppl-a')), 10);
    expect(Number(bamA.rel_delta)).toBeCloseTo((Number(bamA.delta) / Number(bamA.baseline_value)) * 100, 10);
    const avg = rows[5];
    const avgBam = (corpusPpl(docsOf('bam-full', 'ppl-a')) + corpusPpl(docsOf('bam-full', 'ppl-b'))) / 2;
    const avgBtx = (corpusPpl(docsOf('btx', 'ppl-a')) + corpusPpl(docsOf('btx', 'ppl-b'))) / 2;
    expect(Number(avg.value)).toBeCloseTo(avgBam, 10);
    expect(Number(avg.rel_delta)).toBeCloseTo(((avgBam - avgBtx) / avgBtx) * 100, 10);
    expect(avg).toMatchObject({ n_docs: '40', n_seeds: '1', iters: '300', test: 'permutation' });
    for (const r of rows) {
      // a uniformly 2% better (or 10% worse) model: the paired CI excludes 0 on the right side
      expect(Number(r.ci_low)).toBeLessThanOrEqual(Number(r.delta));
      expect(Number(r.ci_high)).toBeGreaterThanOrEqual(Number(r.delta));
      expect(Math.sign(Number(r.ci_low))).toBe(Math.sign(Number(r.ci_high)));
      expect(Number(r.p_holm)).toBeGreaterThanOrEqual(Number(r.p_value));
      expect(r.config_hash).toMatch(/^[0-9a-f]{16}$/);
    }
    // each (metric, task) is one Holm family of 2 variants: the smaller p doubles
    const [pd, pb] = [Number(rows[0].p_value), Number(rows[1].p_value)];
    expect(Math.min(Number(rows[0].p_holm), Number(rows[1].p_holm))).toBeCloseTo(Math.min(1, 2 * Math.min(pd, pb)), 12);
  });

  it('uses McNemar for accuracy and reproduces the same file on a second run', () => {
    const { dir } = fixture();
    writeComparisons(dir, { bootstrapIters: 300 });
    const first = readFileSync(join(dir, 'compare_acc.csv'), 'utf8');
    const rows = readCsv(join(dir, 'compare_acc.csv'));
    expect(rows.map((r) => `${r.variant} ${r.task} ${r.test}`)).toEqual(['dense mc mcnemar', 'bam-full mc mcnemar']);
    expect(Number(rows[1].delta)).toBeCloseTo(0.2, 12); // 0.8 − 0.6
    expect(Number(rows[1].p_value)).toBeCloseTo(mcnemarExact(3, 1), 14); // = 0.625
    expect(Number(rows[0].p_value)).toBeCloseTo(mcnemarExact(0, 1), 14); // = 1
    expect(Number(rows[1].p_holm)).toBe(1); // Holm: min(1, 2·0.625)
    writeComparisons(dir, { bootstrapIters: 300 });
    expect(readFileSync(join(dir, 'compare_acc.csv'), 'utf8')).toBe(first);
  });

  it('takes a named baseline, and says which variants exist for an unknown one', () => {
    const { dir } = fixture();
    const tables = compareResults(dir, { baseline: 'dense', metrics: ['acc'] });
    expect(tables.map((t) => t.metric)).toEqual(['acc']);
    expect(tables[0].rows.map((r) => `${r.variant} vs ${r.baseline}`)).toEqual(['btx vs dense', 'bam-full vs dense']);
    expect(() => compareResults(dir, { baseline: 'moe' })).toThrow(/baseline 'moe' is not a variant of this sweep; variants: dense, btx, bam-full/);
    expect(() => compareResults(dir, { metrics: ['bleu'] })).toThrow(/no headline metric 'bleu'/);
  });

  it('compares each budget row with the baseline row of the same budget, else its first', () => {
    const dir = tmp('bam-compare-');
    const jobs: SyntheticJob[] = [];
    for (const [variant, budget] of [['dense', ''], ['btx', 'data-matched'], ['btx', 'compute-matched'], ['bam-full', 'data-matched'], ['bam-full', 'compute-matched']]) {
      jobs.push({ variant, budget, task: 'mc', seed: 0, docs: MC_BAM.map((acc) => ({ acc })) });
    }
    writeSyntheticResults(dir, { metrics: METRICS, jobs });
    const [acc] = compareResults(dir, { baseline: 'btx' });
    expect(acc.rows.map((r) => `${r.variant} vs ${r.baseline}`)).toEqual([
      'dense vs btx [data-matched]', // btx's own rows are each budget's baseline
      'bam-full [data-matched] vs btx [data-matched]',
      'bam-full [compute-matched] vs btx [compute-matched]',
    ]);
    expect(compareResults(dir, { baseline: 'btx [compute-matched]' })[0].rows.map((r) => r.variant)).toEqual(['dense', 'btx [data-matched]', 'bam-full [data-matched]', 'bam-full [compute-matched]']);
  });

  it('runs the hierarchical bootstrap over seeds when the sweep has several', () => {
    const { dir } = fixture([0, 1, 2]);
    const [ppl] = compareResults(dir, { metrics: ['token_perplexity'] });
    const avg = ppl.rows.find((r) => r.variant === 'bam-full' && r.task === 'average')!;
    expect(avg).toMatchObject({ n_seeds: 3, test: 'bootstrap' });
    expect(avg.ci_low as number).toBeLessThan(avg.delta);
  });

  it('fails with a clear error naming the task, variant and first differing document', () => {
    const { dir } = fixture();
    const docsPath = join(dir, 'docs.jsonl');
    const lines = readFileSync(docsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; doc: number; id?: string });
    const plan = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { jobs: Array<{ key: string; variant: string; task: string }> };
    const bamB = plan.jobs.find((j) => j.variant === 'bam-full' && j.task === 'ppl-b')!.key;
    // the variant lost its last document
    writeFileSync(docsPath, lines.filter((l) => !(l.key === bamB && l.doc === 19)).map((l) => JSON.stringify(l)).join('\n'));
    expect(() => compareResults(dir)).toThrow(ResultsError);
    expect(() => compareResults(dir)).toThrow(
      "cannot pair variant 'bam-full' with baseline 'btx' on task 'ppl-b' (seed 0): the documents differ from document 19 on (the variant has 19 documents, the baseline 20)",
    );
    // documents with fingerprints that differ
    writeFileSync(docsPath, lines.map((l) => JSON.stringify({ ...l, id: l.key === bamB && l.doc === 3 ? 'other' : `d${l.doc}` })).join('\n'));
    expect(() => compareResults(dir)).toThrow(/task 'ppl-b' \(seed 0\): the documents differ from document 3 on \(document ids "other" \(variant\) and "d3" \(baseline\)\)/);
    expect(readDocs(dir).size).toBe(9);
  });

  it('renders markdown with Δ%, its CI and a significance mark, rounded to the CI', () => {
    const { dir } = fixture();
    const md = renderComparisons(compareResults(dir, { metrics: ['token_perplexity'] }), 'markdown');
    expect(md.split('\n')[0]).toBe('### token_perplexity: against btx (lower is better)');
    const line = md.split('\n').find((l) => l.startsWith('| bam-full | average |'))!;
    // bam-full scales every logprob by 0.98: better by a few percent, significant after Holm
    expect(line).toMatch(/^\| bam-full \| average \| [\d.]+ \| [\d.]+ \| −[\d.]+ \| −[\d.]+% \[−[\d.]+, −[\d.]+\] \| [<\d.]+ \| [<\d.]+ \| 40 × 1 \| \*+ better \|$/);
    expect(md).toContain('| dense | average |');
    expect(md).toMatch(/\| dense \| average \|.*\| \*+ worse \|/);
  });
});

describe('table_<metric>.csv', () => {
  it('carries each cell’s standard error next to its value', () => {
    const { dir } = fixture([0, 1]);
    const text = readFileSync(join(dir, 'table_acc.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe('variant,mc,mc_stderr');
    const results = readCsv(join(dir, 'results.csv')).filter((r) => r.metric === 'acc' && r.variant === 'btx');
    const row = readCsv(join(dir, 'table_acc.csv')).find((r) => r.variant === 'btx')!;
    // two seeds with the same documents: √(se² + se²) / 2
    expect(Number(row.mc_stderr)).toBeCloseTo(Math.sqrt(2 * Number(results[0].stderr) ** 2) / 2, 12);
    const ppl = readCsv(join(dir, 'table_token_perplexity.csv'));
    expect(Object.keys(ppl[0])).toEqual(['variant', 'ppl-a', 'ppl-a_stderr', 'ppl-b', 'ppl-b_stderr', 'average', 'average_stderr']);
    for (const r of ppl) expect(Number(r.average_stderr)).toBeCloseTo(Math.sqrt(Number(r['ppl-a_stderr']) ** 2 + Number(r['ppl-b_stderr']) ** 2) / 2, 12);
  });
});

describe('sweeps', () => {
  it('check compare.baseline against the variant labels, with or without a budget', async () => {
    const registry = new PluginRegistry();
    await registry.loadAll([FAKE_PLUGINS], tmp());
    const config = (baseline: string) => ({
      name: 'x', seeds: [0], budgets: ['data-matched'], compare: { baseline },
      variants: [{ id: 'fake-budget', name: 'moe' }, { id: 'fake' }], tasks: [{ id: 'fake-mc' }],
    });
    expect(checkSweepConfig(config('moe'), registry).config.compare.baseline).toBe('moe');
    expect(checkSweepConfig(config('moe [data-matched]'), registry).config.compare.baseline).toBe('moe [data-matched]');
    expect(() => checkSweepConfig(config('moe [compute-matched]'), registry)).toThrow(/compare\.baseline: 'moe \[compute-matched\]' is not a variant of this sweep; variants: moe, fake/);
  });

  it('run a task only on the variants it names and a variant or task only under its seeds, hash a mixture seed kind into the job keys, and name a bad label or kind', async () => {
    const registry = new PluginRegistry();
    await registry.loadAll([FAKE_PLUGINS], tmp());
    const config = (over: Record<string, unknown> = {}) => ({
      name: 'x', seeds: [0, 1], variants: [{ id: 'fake', name: 'dense' }, { id: 'fake', name: 'moe', options: { bias: 1 } }],
      tasks: [{ id: 'fake-mc' }, { id: 'fake-ppl', variants: ['moe'] }], ...over,
    });
    const plan = (c: unknown) => {
      const { config: parsed, variants, tasks } = checkSweepConfig(c, registry);
      return planJobs(parsed, variants, tasks, registry);
    };
    const jobs = plan(config());
    expect(jobs.map((j) => `${j.variant} ${j.task} ${j.seed}`)).toEqual(['dense fake-mc 0', 'dense fake-mc 1', 'moe fake-mc 0', 'moe fake-mc 1', 'moe fake-ppl 0', 'moe fake-ppl 1']);
    expect(jobs.every((j) => j.seedKind === 'pipeline')).toBe(true);
    const mixture = plan(config({ seedKind: 'mixture' }));
    expect(mixture.every((j) => j.seedKind === 'mixture')).toBe(true);
    // Pipeline seed 1 and mixture seed 1 are different models: different job keys.
    mixture.forEach((j, i) => expect(j.key).not.toBe(jobs[i].key));
    expect(() => checkSweepConfig(config({ tasks: [{ id: 'fake-mc', variants: ['mo'] }] }), registry)).toThrow(/tasks\.0\.variants\.0: 'mo' is not a variant of this sweep; variants: dense, moe; did you mean 'moe'\?/);
    expect(() => checkSweepConfig(config({ seedKind: 'expert' }), registry)).toThrow(/seedKind/);
    // A variant evaluated under some of the sweep's seeds only.
    const once = plan(config({ variants: [{ id: 'fake', name: 'dense', seeds: [0] }, { id: 'fake', name: 'moe', options: { bias: 1 } }] }));
    expect(once.map((j) => `${j.variant} ${j.task} ${j.seed}`)).toEqual(['dense fake-mc 0', 'moe fake-mc 0', 'moe fake-mc 1', 'moe fake-ppl 0', 'moe fake-ppl 1']);
    expect(() => checkSweepConfig(config({ variants: [{ id: 'fake', seeds: [2] }] }), registry)).toThrow(/variants\.0\.seeds\.0: seed 2 is not one of the sweep's seeds \(0, 1\)/);
    // A task under some seeds only; with a variant's own seeds, the seeds both allow.
    const taskOnce = plan(config({ variants: [{ id: 'fake', name: 'dense', seeds: [1] }, { id: 'fake', name: 'moe', options: { bias: 1 } }], tasks: [{ id: 'fake-mc', seeds: [0] }, { id: 'fake-ppl' }] }));
    expect(taskOnce.map((j) => `${j.variant} ${j.task} ${j.seed}`)).toEqual(['dense fake-ppl 1', 'moe fake-mc 0', 'moe fake-ppl 0', 'moe fake-ppl 1']);
    expect(() => checkSweepConfig(config({ tasks: [{ id: 'fake-mc', seeds: [0, 3] }] }), registry)).toThrow(/tasks\.0\.seeds\.1: seed 3 is not one of the sweep's seeds \(0, 1\)/);
  });

  it('evaluate a budgeted variant under its own budgets only and name a budget the sweep does not have', async () => {
    const registry = new PluginRegistry();
    await registry.loadAll([FAKE_PLUGINS], tmp());
    const config = (moe: Record<string, unknown>, budgets = ['data-matched', 'compute-matched']) => ({
      name: 'x', seeds: [0], budgets, variants: [{ id: 'fake-budget', name: 'moe' }, { id: 'fake-budget', name: 'study', options: {}, ...moe }, { id: 'fake', name: 'dense' }],
      tasks: [{ id: 'fake-mc' }],
    });
    const plan = (c: unknown) => {
      const { config: parsed, variants, tasks } = checkSweepConfig(c, registry);
      return planJobs(parsed, variants, tasks, registry);
    };
    expect(plan(config({})).map((j) => `${j.variant} ${j.budget}`)).toEqual(['moe data-matched', 'moe compute-matched', 'study data-matched', 'study compute-matched', 'dense ']);
    expect(plan(config({ budgets: ['data-matched'] })).map((j) => `${j.variant} ${j.budget}`)).toEqual(['moe data-matched', 'moe compute-matched', 'study data-matched', 'dense ']);
    expect(() => checkSweepConfig(config({ budgets: ['compute-matched'] }, ['data-matched']), registry)).toThrow(/variants\.1\.budgets\.0: budget 'compute-matched' is not one of the sweep's budgets \(data-matched\)/);
    expect(() => checkSweepConfig(config({ budgets: ['flops-matched'] }), registry)).toThrow(/variants\.1\.budgets\.0/);
  });

  it('evaluate a budgeted variant under per-budget seeds (a budget left out runs under every seed) and name a bad budget or seed', async () => {
    const registry = new PluginRegistry();
    await registry.loadAll([FAKE_PLUGINS], tmp());
    const config = (seeds: unknown, budgets = ['data-matched', 'compute-matched']) => ({
      name: 'x', seeds: [0, 1, 2], budgets, variants: [{ id: 'fake-budget', name: 'moe', seeds }, { id: 'fake', name: 'dense', seeds: [0] }],
      tasks: [{ id: 'fake-mc' }],
    });
    const plan = (c: unknown) => {
      const { config: parsed, variants, tasks } = checkSweepConfig(c, registry);
      return planJobs(parsed, variants, tasks, registry).map((j) => `${j.variant} ${j.budget} ${j.seed}`);
    };
    expect(plan(config({ 'data-matched': [0, 1, 2], 'compute-matched': [0] }))).toEqual(['moe data-matched 0', 'moe data-matched 1', 'moe data-matched 2', 'moe compute-matched 0', 'dense  0']);
    expect(plan(config({ 'compute-matched': [1] }))).toEqual(['moe data-matched 0', 'moe data-matched 1', 'moe data-matched 2', 'moe compute-matched 1', 'dense  0']);
    expect(() => checkSweepConfig(config({ 'compute-matched': [0] }, ['data-matched']), registry)).toThrow(/variants\.0\.seeds\.compute-matched: budget 'compute-matched' is not one of the sweep's budgets \(data-matched\)/);
    expect(() => checkSweepConfig(config({ 'data-matched': [0, 5] }), registry)).toThrow(/variants\.0\.seeds\.data-matched\.1: seed 5 is not one of the sweep's seeds \(0, 1, 2\)/);
    expect(() => checkSweepConfig(config({ 'flops-matched': [0] }), registry)).toThrow(/variants\.0\.seeds/);
  });

  it('write compare_<metric>.csv against the configured baseline', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const config = {
      name: 'fake-compare',
      seeds: [0],
      plugins: [FAKE_PLUGINS],
      artifactsDir: join(dir, 'artifacts'),
      bootstrapIters: 50,
      compare: { baseline: 'fake-1' },
      variants: [{ id: 'fake', name: 'fake-0' }, { id: 'fake', name: 'fake-1', options: { bias: 1 } }],
      tasks: [{ id: 'fake-mc' }],
    };
    await runSweep(config, { outDir: out, workers: 1, progress: false, print: false, quiet: true });
    const rows = readCsv(join(out, 'compare_acc.csv'));
    expect(rows.map((r) => `${r.variant} ${r.baseline} ${r.task} ${r.test}`)).toEqual(['fake-0 fake-1 fake-mc mcnemar']);
    expect(Number(rows[0].delta)).toBe(0); // both 0.75 (see sweep.test.ts)
    await expect(runSweep({ ...config, compare: { baseline: 'fake-2' } }, { outDir: join(dir, 'o2'), progress: false, print: false, quiet: true })).rejects.toThrow(
      SweepConfigError,
    );
    await expect(runSweep({ ...config, compare: { baseline: 'fake-2' } }, { outDir: join(dir, 'o2'), progress: false, print: false, quiet: true })).rejects.toThrow(
      /compare\.baseline: 'fake-2' is not a variant of this sweep; variants: fake-0, fake-1; did you mean 'fake-0'\?/,
    );
  });

  it('record each document’s fingerprint, so content that changed between two jobs of one sweep cannot be paired', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const artifactsDir = join(dir, 'artifacts');
    mkdirSync(artifactsDir);
    const texts = ['dex', 'hi ho', 'né'];
    writeFileSync(join(artifactsDir, 'texts.json'), JSON.stringify(texts));
    const config = {
      name: 'fake-ids',
      seeds: [0],
      plugins: [FAKE_PLUGINS, join(FIXTURES, 'file-ppl.ts')],
      artifactsDir,
      bootstrapIters: 50,
      compare: { baseline: 'fake-1' },
      variants: [{ id: 'fake', name: 'fake-0' }, { id: 'fake', name: 'fake-1', options: { bias: 1 } }],
      tasks: [{ id: 'file-ppl' }],
    };
    const run = (o: { resume?: boolean; maxJobs?: number }) => runSweep(config, { outDir: out, workers: 1, progress: false, print: false, quiet: true, ...o });
    await run({});
    const ids = (): Record<string, string[]> => {
      const plan = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { jobs: Array<{ key: string; variant: string }> };
      const docs = readFileSync(join(out, 'docs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; id: string });
      return Object.fromEntries(plan.jobs.map((j) => [j.variant, docs.filter((d) => d.key === j.key).map((d) => d.id)]));
    };
    // Each document's id is the hash of the requests it sent, the same for both variants.
    const expected = texts.map((t) => documentId([loglikelihoodRolling(t)]));
    expect(new Set(expected).size).toBe(3);
    expect(ids()).toEqual({ 'fake-0': expected, 'fake-1': expected });
    expect(readCsv(join(out, 'compare_token_perplexity.csv')).map((r) => r.variant)).toEqual(['fake-0']);

    // The same number of documents, but the second text changed before fake-0 was scored again.
    const out2 = join(dir, 'out2');
    const run2 = (o: { resume?: boolean; maxJobs?: number }) => runSweep(config, { outDir: out2, workers: 1, progress: false, print: false, quiet: true, ...o });
    writeFileSync(join(artifactsDir, 'texts.json'), JSON.stringify(texts));
    await run2({ maxJobs: 1 }); // fake-0 on the original texts
    writeFileSync(join(artifactsDir, 'texts.json'), JSON.stringify(['dex', 'hi hi', 'né']));
    await run2({ resume: true }); // fake-1 on the edited ones
    expect(() => compareResults(out2)).toThrow(
      `cannot pair variant 'fake-0' with baseline 'fake-1' on task 'file-ppl' (seed 0): the documents differ from document 1 on (document ids ${JSON.stringify(expected[1])} (variant) and ${JSON.stringify(documentId([loglikelihoodRolling('hi hi')]))} (baseline))`,
    );
    // The sweep itself still ends; its comparison is a warning, so no compare file is written.
    expect(existsSync(join(out2, 'compare_token_perplexity.csv'))).toBe(false);
  });
});
