/**
 * Test support. A fake LanguageModel for tests and plugin contract suites: its log-probabilities
 * are a documented, deterministic function of the text, so tests can compute expected metric
 * values by hand (it is not a language model of anything). And a writer of synthetic results
 * folders, for tests of what reads them.
 */
import { join } from 'node:path';
import { configHash, writeFileAtomic } from '@bam/utils';
import type { GenerateRequest, LanguageModel, LoglikelihoodRequest, RollingRequest } from './api/model.ts';
import type { MetricSpec } from './api/task.ts';
import { ContractError } from './errors.ts';
import type { DocScores } from './evaluate.ts';
import { aggregateScores } from './metrics.ts';
import { FILES, buildRows, writeResultFiles, type JobPlan, type JobRecord, type SweepPlanFile } from './results.ts';

/** Options of fakeLanguageModel. */
export interface FakeModelOptions {
  name?: string;
  backend?: string;
  /** Subtracted from every character's log-probability (so two fakes can differ). */
  bias?: number;
}

/**
 * The fake's log-probability of one character: −(1 + (code point mod 10)) / 10 − bias.
 * E.g. 'a' (97) → −0.8, ' ' (32) → −0.3, '0' (48) → −0.9, 'x' (120) → −0.1.
 */
export function fakeCharLogprob(ch: string, bias = 0): number {
  return -(1 + ((ch.codePointAt(0) ?? 0) % 10)) / 10 - bias;
}

/** The fake's log-probability of a text: the sum over its code points (one token per code point). */
export function fakeTextLogprob(text: string, bias = 0): number {
  let s = 0;
  for (const ch of text) s += fakeCharLogprob(ch, bias);
  return s;
}

/**
 * A deterministic LanguageModel: one token per code point; loglikelihood(context, continuation)
 * = fakeTextLogprob(continuation) (the context is ignored), isGreedy when every character has
 * the top score (code point mod 10 = 0 and bias 0); rolling = fakeTextLogprob(text);
 * generate returns the context's last maxTokens characters reversed, cut at the first `until`.
 */
export function fakeLanguageModel(opts: FakeModelOptions = {}): LanguageModel {
  const bias = opts.bias ?? 0;
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new Error('fake model used after dispose()');
  };
  return {
    info: { name: opts.name ?? 'fake', backend: opts.backend ?? 'fake' },
    async loglikelihood(reqs: LoglikelihoodRequest[]) {
      alive();
      return reqs.map((r) => {
        const chars = [...r.continuation];
        return {
          logprob: fakeTextLogprob(r.continuation, bias),
          tokens: chars.length,
          isGreedy: bias === 0 && chars.every((c) => (c.codePointAt(0) ?? 0) % 10 === 0),
        };
      });
    },
    async loglikelihoodRolling(reqs: RollingRequest[]) {
      alive();
      return reqs.map((r) => ({ logprob: fakeTextLogprob(r.text, bias), tokens: [...r.text].length }));
    },
    async generate(reqs: GenerateRequest[]) {
      alive();
      return reqs.map((r) => {
        let out = [...r.context].slice(-r.maxTokens).reverse().join('');
        for (const u of r.until ?? []) {
          const at = out.indexOf(u);
          if (at >= 0) out = out.slice(0, at);
        }
        return out;
      });
    },
    dispose() {
      disposed = true;
    },
  };
}

/** One job of a synthetic results folder: labels, plugin ids, seed and its per-document scores. */
export interface SyntheticJob {
  variant: string;
  /** Plugin id (default: the label). */
  variantId?: string;
  task: string;
  seed: number;
  budget?: string;
  docs: DocScores[];
}

/**
 * Writes a complete results folder (sweep.json, jobs.jsonl, docs.jsonl, results.csv, wide tables)
 * from per-document scores, as a sweep over models with those scores would: the same plan layout,
 * config hashes and aggregation code. For tests of everything that reads results folders
 * (re-aggregation, comparisons, reports) without running models.
 */
export function writeSyntheticResults(
  dir: string,
  spec: { name?: string; bootstrapIters?: number; metrics: Record<string, Record<string, MetricSpec>>; jobs: readonly SyntheticJob[] },
): JobPlan[] {
  const bootstrapIters = spec.bootstrapIters ?? 100;
  const index = (xs: string[], x: string): number => (xs.includes(x) ? xs.indexOf(x) : xs.push(x) - 1);
  const variants: string[] = [];
  const budgets: string[] = [''];
  const tasks: string[] = [];
  const seeds: number[] = [];
  const plan: JobPlan[] = spec.jobs.map((j) => {
    const metrics = spec.metrics[j.task];
    if (!metrics) throw new ContractError(`writeSyntheticResults: no metrics for task '${j.task}'`);
    const budget = j.budget ?? '';
    const order: [number, number, number, number] = [index(variants, j.variant), index(budgets, budget), index(tasks, j.task), seeds.includes(j.seed) ? seeds.indexOf(j.seed) : seeds.push(j.seed) - 1];
    return {
      key: configHash({ variant: j.variant, task: j.task, seed: j.seed, budget, bootstrapIters }),
      variant: j.variant,
      variantId: j.variantId ?? j.variant,
      task: j.task,
      taskId: j.task,
      taskVersion: '1',
      seed: j.seed,
      budget,
      order,
      metrics,
      bootstrapIters,
    };
  });
  const records = new Map<string, JobRecord>();
  plan.forEach((job, i) => {
    const docs = spec.jobs[i].docs;
    records.set(job.key, {
      key: job.key, status: 'ok', error: '', variant: job.variant, task: job.task, seed: job.seed, budget: job.budget,
      backend: 'synthetic', model: job.variant, modelHash: '', n: docs.length,
      values: aggregateScores(job.metrics, docs, { seed: job.seed, bootstrapIters }),
      durationS: 0, threadId: 0, packageVersion: '0.0.0', finishedAt: '1970-01-01T00:00:00.000Z',
    });
  });
  const planFile: SweepPlanFile = { name: spec.name ?? 'synthetic', jobs: plan };
  writeFileAtomic(join(dir, FILES.plan), `${JSON.stringify(planFile, null, 2)}\n`);
  writeFileAtomic(join(dir, FILES.journal), [...records.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
  writeFileAtomic(join(dir, FILES.docs), plan.flatMap((job, i) => spec.jobs[i].docs.map((scores, doc) => `${JSON.stringify({ key: job.key, doc, scores })}\n`)).join(''));
  writeResultFiles(dir, plan, buildRows(plan, records));
  return plan;
}
