import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '@bam/eval';
import { END_MARKER, START_MARKER, findingsMarkdown, findingsOf, pct, readFindingRows } from '../paper-findings.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'docs/results/paper');
const COMMITTED = existsSync(RESULTS);
const WHY = 'docs/results/paper/ is not committed yet (the lead runs `npx nx run eval:sweep --configuration=paper` and commits its outputs)';

describe.skipIf(!COMMITTED)(`the committed paper results${COMMITTED ? '' : ` — skipped: ${WHY}`}`, () => {
  it('every committed CSV parses into rows as wide as its header', () => {
    const csvs = readdirSync(RESULTS).filter((f) => f.endsWith('.csv'));
    expect(csvs).toContain('results.csv');
    expect(csvs).toContain('compare_token_perplexity.csv');
    for (const f of csvs) {
      const [header, ...rows] = parseCsv(readFileSync(join(RESULTS, f), 'utf8'));
      expect(rows.length, f).toBeGreaterThan(0);
      for (const r of rows) expect(r.length, f).toBe(header.length);
    }
  });

  it("every numeric cell of the README's findings table equals the committed compare CSVs", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf(START_MARKER);
    const end = readme.indexOf(END_MARKER);
    expect(start).toBeGreaterThanOrEqual(0);
    const lines = readme.slice(start + START_MARKER.length, end).trim().split('\n').slice(2);
    const findings = findingsOf(readFindingRows(RESULTS));
    expect(lines).toHaveLength(findings.length);
    findings.forEach((f, i) => {
      const cells = lines[i].slice(2, -2).split(' | ');
      expect(cells[0]).toBe(`${f.claim.claim}: ${f.claim.variant} vs ${f.claim.baseline}`);
      if (f.paperRel !== null) expect(cells[2].startsWith(pct(f.paperRel))).toBe(true);
      if (f.row) {
        const nums = [...cells[3].matchAll(/([+−])(\d+\.\d+)%/g)].map((m) => (m[1] === '−' ? -1 : 1) * Number(m[2]));
        expect(nums).toHaveLength(3);
        [f.row.rel, f.row.low, f.row.high].forEach((x, k) => expect(Math.abs(nums[k] - x), `${f.claim.claim} cell ${k}`).toBeLessThanOrEqual(0.005 + 1e-9));
        expect(cells[4]).toBe(`${f.row.seeds} × ${f.row.docs}`);
      }
      expect(cells[5]).toBe(f.verdict);
    });
    // and the table as a whole is what the generator writes from these CSVs
    expect(lines.join('\n')).toBe(findingsMarkdown(findings).split('\n').slice(2).join('\n'));
  });
});

describe('the committed paper results guard', () => {
  it('runs its checks exactly when docs/results/paper/ exists', () => {
    expect(COMMITTED).toBe(existsSync(join(ROOT, 'docs/results/paper/')));
    if (!COMMITTED) expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(`${START_MARKER}\n_Not run yet`);
  });
});
