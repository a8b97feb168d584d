import { describe, expect, it } from 'vitest';
import {
  ContractError,
  acc,
  accNorm,
  aggregate,
  aggregateScores,
  bitsPerByte,
  bootstrapStderr,
  mean,
  meanStderr,
  median,
  mulberry32,
  perplexity,
  sampleStd,
  scoreMultipleChoice,
  scoreRolling,
  utf8Bytes,
  wordCount,
} from '../src/index.ts';

describe('metrics against hand calculations', () => {
  it('computes the mean, the sample std (n − 1) and the standard error std/√n', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9]; // mean 5, Σ(x − 5)² = 32
    expect(mean(xs)).toBe(5);
    expect(sampleStd(xs)).toBeCloseTo(Math.sqrt(32 / 7), 12); // 2.13809
    expect(meanStderr(xs)).toBeCloseTo(Math.sqrt(32 / 7) / Math.sqrt(8), 12); // 0.755929
    expect(meanStderr([1, 1, 1, 0])).toBeCloseTo(0.25, 12); // std 0.5, √4 = 2
    expect(Number.isNaN(meanStderr([3]))).toBe(true);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('computes perplexity as exp(−Σ logprob / Σ count) and bits per byte as −Σ logprob / (Σ bytes · ln 2)', () => {
    expect(perplexity([[-2, 2], [-4, 2]])).toBeCloseTo(Math.exp(1.5), 12); // 4.481689
    expect(perplexity([[-1, 1], [-3, 1]])).toBeCloseTo(Math.exp(2), 12); // count 1: lm-eval's exp(−mean ll)
    expect(bitsPerByte([[-8 * Math.LN2, 1]])).toBeCloseTo(8, 12); // uniform over 256 bytes
    expect(bitsPerByte([[-Math.log(4), 2]])).toBeCloseTo(1, 12);
  });

  it('counts UTF-8 bytes and lm-eval words', () => {
    expect(utf8Bytes('né')).toBe(3);
    expect(utf8Bytes('日本')).toBe(6);
    expect(wordCount('hi ho')).toBe(2);
    expect(wordCount(' a')).toBe(2); // re.split(r"\s+", " a") == ['', 'a'], as in lm-eval
  });

  it('scores acc by the highest loglikelihood, the first one on ties', () => {
    expect(acc([-1, -2, -0.5], 2)).toBe(1);
    expect(acc([-1, -2, -0.5], 0)).toBe(0);
    expect(acc([-1, -1], 1)).toBe(0);
  });

  it('normalises acc_norm by UTF-8 byte length, not characters', () => {
    // 'éé' is 2 characters but 4 bytes: −1.5/4 = −0.375 beats −1.2/3 = −0.4; per character it would lose (−0.75).
    const lls = [-1.5, -1.2];
    const choices = ['éé', 'abc'];
    expect(accNorm(lls, choices, 0)).toBe(1);
    expect(acc(lls, 0)).toBe(0);
    expect(scoreMultipleChoice(lls.map((logprob) => ({ logprob, isGreedy: false, tokens: 1 })), choices, 0)).toEqual({ acc: 0, acc_norm: 1 });
  });

  it('turns a rolling response into word, byte and token pairs', () => {
    const s = scoreRolling({ logprob: -3, tokens: 4 }, 'né x');
    expect(s).toEqual({ word_perplexity: [-3, 2], byte_perplexity: [-3, 5], token_perplexity: [-3, 4], bits_per_byte: [-3, 5] });
  });

  it('gives the same bootstrap stderr for the same seed and a different one for another seed', () => {
    const rand = mulberry32(7);
    const items = Array.from({ length: 50 }, () => (rand() < 0.4 ? 1 : 0));
    const a = bootstrapStderr(items, mean, { iters: 300, seed: 1 });
    expect(bootstrapStderr(items, mean, { iters: 300, seed: 1 })).toBe(a);
    expect(bootstrapStderr(items, mean, { iters: 300, seed: 2 })).not.toBe(a);
    expect(bootstrapStderr([2, 2, 2, 2], mean, { iters: 100, seed: 3 })).toBe(0);
  });

  it('bootstraps close to the analytic stderr of a mean and to the delta-method stderr of a perplexity', () => {
    const rand = mulberry32(11);
    const bits = Array.from({ length: 400 }, () => (rand() < 0.3 ? 1 : 0));
    const analytic = meanStderr(bits);
    const boot = bootstrapStderr(bits, mean, { iters: 1000, seed: 5 });
    expect(Math.abs(boot - analytic) / analytic).toBeLessThan(0.1);

    // One token per document: log ppl = −mean(lp), so stderr(ppl) ≈ ppl · stderr(mean lp).
    const pairs = Array.from({ length: 400 }, () => [-(0.5 + rand()), 1] as [number, number]);
    const ppl = perplexity(pairs);
    const delta = ppl * meanStderr(pairs.map((p) => p[0]));
    const bootPpl = bootstrapStderr(pairs, perplexity, { iters: 1000, seed: 9 });
    expect(Math.abs(bootPpl - delta) / delta).toBeLessThan(0.1);
  });

  it('aggregates per-document items by each metric’s aggregation', () => {
    const docs = [
      { acc: 1, ppl: [-1, 2] as [number, number], bpb: [-2, 4] as [number, number] },
      { acc: 0, ppl: [-3, 2] as [number, number], bpb: [-2, 4] as [number, number] },
    ];
    const out = aggregateScores(
      {
        acc: { aggregation: 'mean', higherIsBetter: true },
        ppl: { aggregation: 'perplexity', higherIsBetter: false },
        bpb: { aggregation: 'bits_per_byte', higherIsBetter: false },
      },
      docs,
      { seed: 0, bootstrapIters: 200 },
    );
    expect(out.acc).toEqual({ value: 0.5, stderr: 0.5, n: 2 }); // std of [1, 0] = 0.7071, /√2
    expect(out.ppl.value).toBeCloseTo(Math.exp(1), 12); // Σ lp −4 over 4 tokens
    expect(out.bpb.value).toBeCloseTo(4 / (8 * Math.LN2), 12);
    expect(out.bpb.stderr).toBeCloseTo(0, 12); // both documents are identical
    expect(out.ppl.stderr).toBeGreaterThan(0);
  });

  it('rejects items of the wrong shape for the aggregation, naming the metric and document', () => {
    expect(() => aggregate('perplexity', [[-1, 1], 0.5], { seed: 0, metric: 'word_perplexity', bootstrapIters: 10 })).toThrow(ContractError);
    expect(() => aggregate('perplexity', [[-1, 1], 0.5], { seed: 0, metric: 'word_perplexity', bootstrapIters: 10 })).toThrow(/word_perplexity.*document 1/);
    expect(() => aggregate('mean', [[-1, 1]], { seed: 0, metric: 'acc', bootstrapIters: 10 })).toThrow(/acc.*document 0/);
    expect(() => aggregate('mean', [], { seed: 0, metric: 'acc', bootstrapIters: 10 })).toThrow(/no documents/);
  });
});
