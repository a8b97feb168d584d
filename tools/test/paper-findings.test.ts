import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compareCsv, compareResults, runSweep } from '@bam/eval';
import { CLAIMS, END_MARKER, START_MARKER, extraBaselines, findingsMarkdown, findingsOf, pct, readCompareCsv, readFindingRows, replaceBetweenMarkers, verdictOf, withFindingsInReport, writeFindings, writePairs, type Claim } from '../paper-findings.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/paper-findings/', import.meta.url));
const FAKE_PLUGINS = fileURLToPath(new URL('../../packages/eval/test/fixtures/fake-plugins.ts', import.meta.url));

function byClaim(text: string) {
  return findingsOf(readFindingRows(FIXTURE)).find((f) => f.claim.claim === text)!;
}

describe('the paper findings generator', () => {
  it('reads the verdict from the side of 0 the paired CI lies on', () => {
    expect(verdictOf(-15, -5)).toBe('holds');
    expect(verdictOf(2, 8)).toBe('does not hold');
    expect(verdictOf(-1, 3)).toBe('inconclusive');
    expect(verdictOf(-1, 0)).toBe('inconclusive');
  });

  it("finds each claim's row in the sweep's compare CSV or the extra pairs, with the paper's relative difference", () => {
    const full = byClaim('BAM-full DM beats BTX on average perplexity');
    expect(full.paperRel).toBeCloseTo((9.7 / 10.72 - 1) * 100, 12);
    expect(full.row).toEqual({ rel: -10, low: -15, high: -5, seeds: 4, docs: 200 });
    expect(full.verdict).toBe('holds');
    expect(byClaim('BAM-KV-shared DM beats BTX on average perplexity')).toMatchObject({ row: { rel: 1, low: -1, high: 3 }, verdict: 'inconclusive' });
    expect(byClaim('compute-matched BAM-full still beats BTX')).toMatchObject({ row: { rel: 5, low: 2, high: 8 }, verdict: 'does not hold' });
    // from findings_compare.csv (baselines other than btx)
    expect(byClaim('BAM-full DM beats BAM-KV-shared DM on average perplexity')).toMatchObject({ row: { rel: -10.891, low: -11.881, high: 0.99 }, verdict: 'inconclusive' });
    expect(byClaim('BAM-full DM beats the code specialist in-domain')).toMatchObject({ row: { rel: -6.25, low: -9.375, high: -3.125 }, verdict: 'holds' });
    expect(byClaim('BAM-full DM beats the code specialist in-domain').paperRel).toBeCloseTo((3.45 / 3.71 - 1) * 100, 12);
    // absent from both files
    expect(byClaim('soft attention routing beats top-1 (CM)')).toMatchObject({ row: null, verdict: 'not run' });
    expect(byClaim('BAM-full beats parameter-matched BTX with M experts').paperRel).toBeNull();
    expect(extraBaselines()).toEqual(['bam-kv-shared [data-matched]', 'btx-top3-6 [data-matched]', 'btx-experts-M [data-matched]', 'bam-moa-top2 [compute-matched]', 'bam-moa-top1 [compute-matched]', 'btx renormalised [data-matched]', 'code expert', 'law expert', 'math expert']);
  });

  it('prints one Markdown row per claim with two-decimal percentages', () => {
    const lines = findingsMarkdown(findingsOf(readFindingRows(FIXTURE))).split('\n');
    expect(lines).toHaveLength(2 + CLAIMS.length);
    expect(lines[2]).toBe('| BAM-full DM beats BTX on average perplexity: bam-full [data-matched] vs btx [data-matched] | average | −9.51% (Table 1 avg) | −10.00% [−15.00%, −5.00%] | 4 × 200 | holds |');
    expect(lines[5]).toBe('| compute-matched BAM-full still beats BTX: bam-full [compute-matched] vs btx [compute-matched] | average | −6.72% (Table 1 avg) | +5.00% [+2.00%, +8.00%] | 4 × 200 | does not hold |');
    expect(lines[8]).toBe('| BAM-full beats parameter-matched BTX with M experts: bam-full [data-matched] vs btx-experts-M [data-matched] | average | BTX with 5–8 experts was worse than BTX (Tables 4–5) | — | — | not run |');
    expect(pct(-0.004)).toBe('−0.00%');
  });

  it('writes the table between the README markers, into findings.md and at the top of report.html, the same on a second run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bam-findings-'));
    for (const f of ['compare_token_perplexity.csv', 'findings_compare.csv']) copyFileSync(join(FIXTURE, f), join(dir, f));
    const readme = join(dir, 'README.md');
    writeFileSync(readme, `# x\nbefore\n${START_MARKER}\nold\n${END_MARKER}\nafter\n`);
    writeFileSync(join(dir, 'report.html'), '<html><body class="r"><h1>Report</h1></body></html>');
    writeFindings(dir, readme);
    const table = findingsMarkdown(findingsOf(readFindingRows(FIXTURE)));
    const once = readFileSync(readme, 'utf8');
    expect(once).toBe(`# x\nbefore\n${START_MARKER}\n${table}\n${END_MARKER}\nafter\n`);
    expect(readFileSync(join(dir, 'findings.md'), 'utf8')).toContain(`${START_MARKER}\n${table}\n${END_MARKER}`);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html.startsWith(`<html><body class="r">\n${START_MARKER}\n<section id="findings">`)).toBe(true);
    expect(html).toContain('<td>−10.00% [−15.00%, −5.00%]</td>');
    expect(html.endsWith('<h1>Report</h1></body></html>')).toBe(true);
    writeFindings(dir, readme);
    expect(readFileSync(readme, 'utf8')).toBe(once);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toBe(html);
  });

  it('names the missing markers, body or compare CSV', () => {
    expect(() => replaceBetweenMarkers('no markers', 't', 'README.md')).toThrow(/README\.md has no <!-- findings:start -->/);
    expect(() => withFindingsInReport('<html></html>', 's')).toThrow(/report\.html has no <body>/);
    expect(() => readFindingRows(join(FIXTURE, 'absent'))).toThrow(/compare_token_perplexity\.csv does not exist[\s\S]*hint: run the paper sweep/);
  });

  it("writes the extra pairs from a sweep's documents: the rows bam compare gives against that baseline", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bam-findings-'));
    const out = join(dir, 'out');
    await runSweep(
      { name: 'pairs', seeds: [0], plugins: [FAKE_PLUGINS], artifactsDir: join(dir, 'artifacts'), bootstrapIters: 50, variants: [{ id: 'fake', name: 'a' }, { id: 'fake', name: 'b', options: { bias: 1 } }], tasks: [{ id: 'fake-ppl' }] },
      { outDir: out, workers: 1, progress: false, print: false, quiet: true },
    );
    const claim: Claim = { claim: 'a beats b', variant: 'a', baseline: 'b', task: 'fake-ppl', paper: { variant: 1, baseline: 2, where: 'x' } };
    const path = writePairs(out, dir, [claim]);
    const expected = compareResults(out, { baseline: 'b', metrics: ['token_perplexity'] }).flatMap((t) => t.rows);
    expect(readFileSync(path, 'utf8')).toBe(compareCsv(expected));
    const [f] = findingsOf(readCompareCsv(path), [claim]);
    const row = expected.find((r) => r.variant === 'a' && r.task === 'fake-ppl')!;
    expect(f.row).toEqual({ rel: row.rel_delta, low: row.rel_ci_low, high: row.rel_ci_high, seeds: 1, docs: row.n_docs });
    expect(f.paperRel).toBe(-50);
  });
});

