import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadUpcyclePreset } from '@bam/upcycle';
import { PluginRegistry, defineTask, defineVariant, fakeLanguageModel, loglikelihood, type TaskPlugin, type VariantPlugin } from '@bam/eval';
import { builtinPlugins, builtinTasks } from '../../src/index.ts';
import { checkTaskContract, describeTaskContract, duplicateIds } from './task-contract.ts';
import { checkVariantContract, type VariantContractOptions } from './variant-contract.ts';

/**
 * One artifacts folder for every variant check of this file: the first variant builds the
 * `smoke` upcycle pipeline (seed, experts, every recipe × budget) and the others reuse it.
 */
const CONTRACT_ARTIFACTS = mkdtempSync(join(tmpdir(), 'bam-variant-contract-smoke-'));
afterAll(() => rmSync(CONTRACT_ARTIFACTS, { recursive: true, force: true }));
const SMOKE_STUDY = join(CONTRACT_ARTIFACTS, 'smoke-study.json');
writeFileSync(SMOKE_STUDY, JSON.stringify({ ...loadUpcyclePreset('smoke'), recipes: ['bam-full'], budgets: ['data-matched'] }));

/**
 * Small options for built-in variants whose defaults are too heavy for a unit test (keyed by
 * variant id). The hook for the variant plugins: every variant in `builtinPlugins` runs the
 * variant contract with these options. The built-in variants default to the `tiny` upcycle
 * preset (minutes of training); here they run on `smoke` (seconds).
 */
const VARIANT_CONTRACT_OPTIONS: Record<string, VariantContractOptions> = {
  dense: { options: { preset: 'smoke', model: 'law' }, artifactsDir: CONTRACT_ARTIFACTS },
  btx: { options: { preset: 'smoke' }, artifactsDir: CONTRACT_ARTIFACTS },
  'bam-full': { options: { preset: 'smoke' }, budget: 'compute-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'bam-kv-shared': { options: { preset: 'smoke' }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'btx-experts': { options: { preset: 'smoke' }, budget: 'compute-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'btx-top3-6': { options: { preset: 'smoke' }, artifactsDir: CONTRACT_ARTIFACTS },
  'bam-moa-top1': { options: { preset: 'smoke' }, artifactsDir: CONTRACT_ARTIFACTS },
  'bam-moa-top2': { options: { preset: 'smoke' }, budget: 'compute-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'sparse-upcycle': { options: { preset: 'smoke' }, artifactsDir: CONTRACT_ARTIFACTS },
  // The study variants (src/variants/oracle.ts, ablations.ts) on the smoke preset cut to bam-full (the recipe they vary) and
  // one budget: each adds one 6-step mixture; the seed and experts are the smoke ones (same hashes).
  // The oracle outside a sweep has no task, so it is given a domain.
  'oracle-specialist': { options: { preset: 'smoke', domain: 'law' }, artifactsDir: CONTRACT_ARTIFACTS },
  'frozen-experts': { options: { preset: SMOKE_STUDY }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'shared-router': { options: { preset: SMOKE_STUDY }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'tied-routing': { options: { preset: SMOKE_STUDY }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'per-example-routing': { options: { preset: SMOKE_STUDY, prefixTokens: 4 }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'expert-choice-routing': { options: { preset: SMOKE_STUDY }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
  'hash-routing': { options: { preset: SMOKE_STUDY }, budget: 'data-matched', artifactsDir: CONTRACT_ARTIFACTS },
};

const builtinVariants = builtinPlugins.filter((p): p is VariantPlugin => p.kind === 'variant');

describeTaskContract(builtinTasks);

describe('built-in plugin list', () => {
  it('lists the ten built-in tasks under unique ids, perplexity columns first', () => {
    expect(builtinTasks.map((t) => t.id)).toEqual([
      'ppl-general',
      'ppl-code',
      'ppl-law',
      'ppl-math',
      'ppl-ood',
      'wordnet-definition',
      'wordnet-cloze',
      'license-id',
      'arithmetic',
      'code-completion',
    ]);
    expect(duplicateIds(builtinPlugins)).toEqual([]);
  });

  it('puts every built-in task into builtinPlugins, the list bam sweep loads', () => {
    for (const t of builtinTasks) expect(builtinPlugins).toContain(t);
  });

  for (const variant of builtinVariants) {
    // The first variant trains the smoke pipeline (tens of seconds on a shared 2-core machine).
    it(`${variant.id} keeps the variant contract`, { timeout: 300_000 }, async () => {
      expect(await checkVariantContract(variant, VARIANT_CONTRACT_OPTIONS[variant.id] ?? {})).toEqual([]);
    });
  }
});

describe('the contract suite itself', () => {
  const goodTask = defineTask({
    id: 'tiny-choice',
    version: 1,
    description: 'two fixed documents',
    options: z.object({ n: z.number().int().default(2) }).strict(),
    metrics: { acc: { aggregation: 'mean', higherIsBetter: true } },
    documents: (o) => Array.from({ length: o.n }, (_, i) => ({ i })),
    requests: (d: { i: number }) => [loglikelihood(`q${d.i}`, ' a'), loglikelihood(`q${d.i}`, ' bb')],
    score: () => ({ acc: 1 }),
  });

  it('finds no violation in a task that keeps the contract', async () => {
    expect(await checkTaskContract(goodTask)).toEqual([]);
  });

  it('reports an undeclared metric, a loose options schema, random documents and an empty continuation', async () => {
    let calls = 0;
    const bad = {
      ...goodTask,
      id: 'Bad_Task',
      options: z.object({ n: z.number().default(2) }),
      documents: () => [{ i: calls++ }],
      requests: () => [loglikelihood('q', '')],
    } as TaskPlugin;
    const problems = await checkTaskContract(bad);
    expect(problems).toEqual([
      'id "Bad_Task" is not kebab-case',
      "options schema accepts the unknown key '__notAnOption__' (use z.object({...}).strict())",
      'documents() differ between two runs with the same options and context',
      'document 0 request 0: loglikelihood continuation is empty (nothing to score)',
    ]);
    const extra = { ...goodTask, score: () => ({ acc: 1, f1: 0.5 }) } as TaskPlugin;
    expect(await checkTaskContract(extra)).toEqual(['document 0: score() returned [acc, f1], declared [acc]', 'document 1: score() returned [acc, f1], declared [acc]']);
    const nan = { ...goodTask, score: () => ({ acc: NaN }) } as TaskPlugin;
    expect(await checkTaskContract(nan)).toEqual(["document 0 metric 'acc': expected a finite number, got null", "document 1 metric 'acc': expected a finite number, got null"]);
  });

  it('passes a variant over the fake model and reports one whose scores are not log-probabilities', async () => {
    const fake = defineVariant({ id: 'fake-variant', description: 'the eval fake model', create: () => fakeLanguageModel() });
    expect(await checkVariantContract(fake)).toEqual([]);
    const positive = defineVariant({
      id: 'positive-scores',
      description: 'returns +1 log-probabilities',
      create: () => {
        const m = fakeLanguageModel();
        return { ...m, loglikelihood: async (rs) => rs.map(() => ({ logprob: 1, tokens: 1, isGreedy: false })) };
      },
    });
    expect(await checkVariantContract(positive)).toEqual([0, 1, 2].map((i) => `loglikelihood result ${i} is malformed: {"logprob":1,"tokens":1,"isGreedy":false}`));
  });
});

describe('loading @bam/plugins the way bam sweep does', () => {
  it('registers every built-in task id from the package entry', async () => {
    const registry = new PluginRegistry();
    const loaded = await registry.load(createRequire(import.meta.url).resolve('@bam/plugins'));
    // The ten tasks first, then the routing-analysis tasks (src/tasks/routing-analysis.ts).
    expect(loaded.tasks).toEqual(builtinPlugins.filter((p) => p.kind === 'task').map((t) => t.id));
    expect(loaded.tasks.slice(0, builtinTasks.length)).toEqual(builtinTasks.map((t) => t.id));
    expect(registry.task('ppl-law')).toBe(builtinTasks[2]);
  });
});
