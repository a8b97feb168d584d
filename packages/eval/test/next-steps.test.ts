import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { averageHeadline, comparisonHeadline, defaultBaseline, type JobPlan, type WideTable } from '../src/index.ts';
import { tmp } from './helpers.ts';

const ppl: WideTable = {
  metric: 'token_perplexity',
  higherIsBetter: false,
  columns: ['ppl-general', 'ppl-code', 'average'],
  rows: [
    { label: 'seed', cells: [300, 500, 400] },
    { label: 'btx', cells: [320, 180, 250] },
    { label: 'bam-full [data-matched]', cells: [310, 170, 240] },
    { label: 'bam-full [compute-matched]', cells: [null, 200, null] },
  ],
  hasAverage: true,
};
const acc: WideTable = { metric: 'acc', higherIsBetter: true, columns: ['arithmetic'], rows: [{ label: 'seed', cells: [0.25] }, { label: 'btx', cells: [0.3125] }], hasAverage: false };

describe("a sweep's closing comparison line", () => {
  it('puts the best complete average of token perplexity against the first row, with the relative change', () => {
    // (240 − 400) / 400 = −40%; the compute-matched row has no average and is left out
    expect(averageHeadline([acc, ppl])).toBe(
      'average token_perplexity over 2 tasks (lower is better): best bam-full [data-matched] 240.0 vs baseline seed 400.0 (−40.0%)',
    );
  });

  it("compares with bam compare's default baseline: the first variant that is not dense, at its first budget", () => {
    const job = (variant: string, variantId: string, budget: string, order: [number, number, number, number]) => ({ variant, variantId, budget, order }) as JobPlan;
    const plan = [job('bam-full', 'bam-full', 'data-matched', [2, 1, 0, 0]), job('btx', 'btx', 'compute-matched', [1, 2, 0, 0]), job('btx', 'btx', 'data-matched', [1, 1, 0, 0]), job('seed', 'dense', '', [0, 0, 0, 0])];
    expect(defaultBaseline(plan)).toBe('btx [data-matched]');
    expect(defaultBaseline([plan[3]])).toBeUndefined();
    // (240 − 250) / 250 = −4%
    expect(averageHeadline([ppl], 'btx')).toBe('average token_perplexity over 2 tasks (lower is better): best bam-full [data-matched] 240.0 vs baseline btx 250.0 (−4.0%)');
  });

  it('falls back to the first task of the first table when no table has an average, higher being better there', () => {
    // (0.3125 − 0.25) / 0.25 = +25%
    expect(averageHeadline([acc])).toBe('acc on arithmetic (higher is better): best btx 0.3125 vs baseline seed 0.2500 (+25.0%)');
    expect(averageHeadline([{ ...acc, rows: [acc.rows[0]] }])).toBe('acc on arithmetic (higher is better): baseline seed 0.2500 is the best of 1 row(s) (add variants to compare)');
    expect(averageHeadline([{ ...ppl, rows: [{ label: 'seed', cells: [null, 1, null] }] }])).toBe('');
  });

  it('names the paired-comparison files the sweep wrote next to the headline', () => {
    const dir = tmp('bam-next-');
    expect(comparisonHeadline(dir, [])).toBe('no finished baseline yet (see results.csv)');
    writeFileSync(join(dir, 'compare_token_perplexity.csv'), 'x\n');
    expect(comparisonHeadline(dir, [ppl])).toBe(`${averageHeadline([ppl])}; paired comparisons in compare_token_perplexity.csv`);
  });
});
