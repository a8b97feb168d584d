import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPARE_COLUMNS, averageHeadline, comparisonHeadline, type WideTable } from '../src/index.ts';
import { tmp } from './helpers.ts';

const row = (label: string, cells: Array<number | null>) => ({ label, cells, errors: cells.map(() => null) });
const ppl: WideTable = {
  metric: 'token_perplexity',
  higherIsBetter: false,
  columns: ['ppl-general', 'ppl-code', 'average'],
  rows: [row('seed', [300, 500, 400]), row('btx [data-matched]', [320, 180, 250]), row('bam-full [data-matched]', [310, 170, 240]), row('bam-full [compute-matched]', [null, 200, null])],
  hasAverage: true,
};
const acc: WideTable = { metric: 'acc', higherIsBetter: true, columns: ['arithmetic'], rows: [row('seed', [0.25]), row('btx', [0.3125])], hasAverage: false };

/** A compare_<metric>.csv with the given rows (the other columns filled with plausible values). */
function compareCsv(dir: string, metric: string, rows: Array<Record<string, string | number>>): void {
  const full = rows.map((r) => ({ metric, rel_ci_low: '', rel_ci_high: '', p_value: '', p_holm: '', test: 'permutation', n_docs: 8, n_seeds: 1, iters: 100, config_hash: 'x', ...r }));
  writeFileSync(join(dir, `compare_${metric}.csv`), [COMPARE_COLUMNS.join(','), ...full.map((r) => COMPARE_COLUMNS.map((c) => (r as Record<string, unknown>)[c] ?? '').join(','))].join('\n'));
}

describe("a sweep's closing comparison line", () => {
  it('puts the best complete average of token perplexity against the baseline row, with the relative change', () => {
    // (240 − 400) / 400 = −40% against the first row; (240 − 250) / 250 = −4% against btx at its first budget
    expect(averageHeadline([acc, ppl])).toBe('average token_perplexity over 2 tasks (lower is better): best bam-full [data-matched] 240.0 vs baseline seed 400.0 (−40.0%)');
    expect(averageHeadline([ppl], 'btx')).toBe('average token_perplexity over 2 tasks (lower is better): best bam-full [data-matched] 240.0 vs baseline btx [data-matched] 250.0 (−4.0%)');
  });

  it('falls back to the first task of the first table when no table has an average, higher being better there', () => {
    // (0.3125 − 0.25) / 0.25 = +25%
    expect(averageHeadline([acc])).toBe('acc on arithmetic (higher is better): best btx 0.3125 vs baseline seed 0.2500 (+25.0%)');
    expect(averageHeadline([{ ...acc, rows: [acc.rows[0]] }])).toBe('acc on arithmetic (higher is better): baseline seed 0.2500 is the best of 1 row(s) (add variants to compare)');
    expect(averageHeadline([{ ...ppl, rows: [row('seed', [null, 1, null])] }])).toBe('');
  });

  it("reads the paired comparison's token-perplexity average when the sweep wrote one: best variant, Δ%, its CI and the Holm p", () => {
    const dir = tmp('bam-next-');
    expect(comparisonHeadline(dir, [])).toBe('no finished baseline yet (see results.csv)');
    compareCsv(dir, 'acc', [{ variant: 'bam-full', baseline: 'btx', task: 'average', value: 0.3, baseline_value: 0.25, delta: 0.05, rel_delta: 20 }]);
    compareCsv(dir, 'token_perplexity', [
      { variant: 'bam-full', baseline: 'btx', task: 'ppl-code', value: 170, baseline_value: 180, delta: -10, rel_delta: -5.555 },
      { variant: 'bam-full', baseline: 'btx', task: 'average', value: 240, baseline_value: 250, delta: -10, rel_delta: -4, rel_ci_low: -6.04, rel_ci_high: -1.96, p_holm: 0.0042 },
      { variant: 'bam-kv', baseline: 'btx', task: 'average', value: 245, baseline_value: 250, delta: -5, rel_delta: -2, rel_ci_low: -3, rel_ci_high: 0.5, p_holm: 0.2 },
    ]);
    expect(comparisonHeadline(dir, [ppl], [], 'npx bam compare out')).toBe(
      'token_perplexity, average over tasks (lower is better): best bam-full 240.0 vs baseline btx 250.0, −4.0% (95% CI −6.0% … −2.0%), Holm p 0.0042 — every variant: npx bam compare out',
    );
  });
});
