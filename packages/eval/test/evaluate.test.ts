import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ContractError,
  SweepConfigError,
  aggregateScores,
  defineTask,
  evaluateTask,
  fakeCharLogprob,
  fakeLanguageModel,
  generateUntil,
  loglikelihood,
  silentLogger,
  type LanguageModel,
} from '../src/index.ts';
import { fakeMc, fakePpl } from './fixtures/fake-plugins.ts';

const ctx = { artifactsDir: '/nonexistent', seed: 0, logger: silentLogger };

function countingModel(inner: LanguageModel): LanguageModel & { calls: number[] } {
  const calls: number[] = [];
  return {
    ...inner,
    calls,
    async loglikelihood(reqs) {
      calls.push(reqs.length);
      return inner.loglikelihood(reqs);
    },
  };
}

describe('evaluateTask with the fake model', () => {
  it('gives the fake model the log-probabilities of its documented table', () => {
    expect(fakeCharLogprob('a')).toBeCloseTo(-0.8, 12);
    expect(fakeCharLogprob(' ')).toBeCloseTo(-0.3, 12);
    expect(fakeCharLogprob('x')).toBeCloseTo(-0.1, 12);
    expect(fakeCharLogprob('é')).toBeCloseTo(-0.4, 12); // U+00E9 = 233
  });

  it('scores the multiple-choice fixture as computed by hand', async () => {
    const docs = await evaluateTask(fakeMc, {}, fakeLanguageModel(), ctx);
    expect(docs).toEqual([
      { acc: 1, acc_norm: 1 },
      { acc: 1, acc_norm: 0 },
      { acc: 1, acc_norm: 0 },
      { acc: 0, acc_norm: 0 },
    ]);
    const agg = aggregateScores(fakeMc.metrics, docs, { seed: 0, bootstrapIters: 0 });
    expect(agg.acc).toEqual({ value: 0.75, stderr: 0.25, n: 4 });
    expect(agg.acc_norm).toEqual({ value: 0.25, stderr: 0.25, n: 4 });
  });

  it('scores the rolling fixture: Σ logprob −3.0 over 10 tokens, 4 words and 11 bytes', async () => {
    const docs = await evaluateTask(fakePpl, {}, fakeLanguageModel(), ctx);
    expect(docs.map((d) => d.token_perplexity)).toEqual([
      [expect.closeTo(-0.4, 12), 3],
      [expect.closeTo(-2.1, 12), 5],
      [expect.closeTo(-0.5, 12), 2],
    ]);
    const agg = aggregateScores(fakePpl.metrics, docs, { seed: 0, bootstrapIters: 100 });
    expect(agg.token_perplexity.value).toBeCloseTo(Math.exp(3 / 10), 12);
    expect(agg.word_perplexity.value).toBeCloseTo(Math.exp(3 / 4), 12);
    expect(agg.bits_per_byte.value).toBeCloseTo(3 / (11 * Math.LN2), 12);
    const biased = aggregateScores(fakePpl.metrics, await evaluateTask(fakePpl, {}, fakeLanguageModel({ bias: 1 }), ctx), { seed: 0, bootstrapIters: 0 });
    expect(biased.token_perplexity.value).toBeCloseTo(Math.exp(13 / 10), 12); // −3 − 10·1
  });

  it('limits documents and sends requests in chunks without changing the scores', async () => {
    const model = countingModel(fakeLanguageModel());
    const chunked = await evaluateTask(fakeMc, {}, model, ctx, { chunkSize: 3 });
    expect(model.calls).toEqual([3, 3, 2]); // 8 loglikelihood requests
    expect(chunked).toEqual(await evaluateTask(fakeMc, {}, fakeLanguageModel(), ctx));
    expect(await evaluateTask(fakeMc, {}, fakeLanguageModel(), ctx, { limit: 2 })).toHaveLength(2);
    expect(await evaluateTask(fakeMc, { n: 3 }, fakeLanguageModel(), ctx)).toHaveLength(3);
  });

  it('rejects bad task options naming the field', async () => {
    const err = await evaluateTask(fakeMc, { n: 9, extra: 1 }, fakeLanguageModel(), ctx).catch((e: unknown) => e as SweepConfigError);
    expect(err).toBeInstanceOf(SweepConfigError);
    expect((err as SweepConfigError).issues.map((i) => i.path).sort()).toEqual(['options', 'options.n']);
  });

  it('fails with a ContractError when the model returns the wrong number of results', async () => {
    const short: LanguageModel = { ...fakeLanguageModel({ name: 'short' }), loglikelihood: async () => [{ logprob: -1, isGreedy: false, tokens: 1 }] };
    await expect(evaluateTask(fakeMc, {}, short, ctx)).rejects.toThrow("model 'short' returned 1 results for 8 loglikelihood requests");
  });

  it('refuses non-finite log-probabilities, which JSON results could not carry', async () => {
    const inf: LanguageModel = { ...fakeLanguageModel({ name: 'inf' }), loglikelihoodRolling: async (reqs) => reqs.map(() => ({ logprob: -Infinity, tokens: 1 })) };
    await expect(evaluateTask(fakePpl, {}, inf, ctx)).rejects.toThrow(/model 'inf' loglikelihood_rolling result 0: expected \{ logprob: finite number.*-Infinity/);
  });

  it('fails when score() misses a declared metric or returns an undeclared one', async () => {
    const base = {
      id: 'sloppy',
      version: 1,
      description: '',
      metrics: { acc: { aggregation: 'mean' as const, higherIsBetter: true } },
      options: z.object({}).strict(),
      documents: () => ['q'],
      requests: (d: string) => [loglikelihood(d, ' a')],
    };
    await expect(evaluateTask(defineTask({ ...base, score: () => ({}) }), {}, fakeLanguageModel(), ctx)).rejects.toThrow(/did not return metric 'acc'/);
    await expect(evaluateTask(defineTask({ ...base, score: () => ({ acc: 1, f1: 0 }) }), {}, fakeLanguageModel(), ctx)).rejects.toThrow(ContractError);
  });

  it('passes generate_until requests through and gives the text to score()', async () => {
    const task = defineTask({
      id: 'echo',
      version: 1,
      description: '',
      metrics: { exact: { aggregation: 'mean', higherIsBetter: true } },
      documents: () => [{ prompt: 'abc.def', want: 'fed' }, { prompt: 'xyz', want: 'no' }],
      requests: (d) => [generateUntil(d.prompt, 5, ['.'])],
      score: (d, [text]) => ({ exact: text === d.want ? 1 : 0 }),
    });
    // the fake generates the last 5 characters reversed ('fed.c'), cut at '.'
    expect(await evaluateTask(task, {}, fakeLanguageModel(), ctx)).toEqual([{ exact: 1 }, { exact: 0 }]);
  });
});
