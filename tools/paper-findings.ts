/**
 * The findings table of the paper study (issue 16): each claim of the BAM paper (docs/paper.md),
 * the paper's relative difference, bam's paired relative difference with its 95% CI (the sweep's
 * hierarchical bootstrap over mixture seeds and documents) and a verdict.
 *
 *   npx tsx tools/paper-findings.ts pairs results/paper docs/results/paper
 *     compares the study's rows with the claims' other baselines (bam-kv-shared, btx-top3-6, …)
 *     from the sweep's per-document scores and writes docs/results/paper/findings_compare.csv
 *     (named so the sweep's compare_*.csv clean-up never removes it);
 *   npx tsx tools/paper-findings.ts table docs/results/paper [README.md]
 *     writes the table between the README's findings markers and docs/results/paper/findings.md,
 *     and puts it at the top of docs/results/paper/report.html when that exists.
 *
 * Every claim says "lower token perplexity than its baseline". Verdict: the CI excludes 0 on the
 * lower side → holds; on the higher side → does not hold; otherwise inconclusive.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BamError, compareCsv, compareResults, compareFileName, parseCsv, type CompareRow } from '@bam/eval';
import { writeFileAtomic } from '@bam/utils';

/** The metric every claim compares (perplexity per token, lower is better). */
export const FINDINGS_METRIC = 'token_perplexity';
/** The extra paired comparisons (baselines other than the sweep's btx). */
export const PAIRS_FILE = 'findings_compare.csv';
/** The sweep's own comparison file (baseline btx). */
export const COMPARE_FILE = compareFileName(FINDINGS_METRIC);
export const START_MARKER = '<!-- findings:start -->';
export const END_MARKER = '<!-- findings:end -->';

/** One claim of the paper: `variant` has lower perplexity than `baseline` on `task`. */
export interface Claim {
  claim: string;
  /** Row labels as the compare CSVs write them ("bam-full [data-matched]", "code expert"). */
  variant: string;
  baseline: string;
  task: string;
  /** The paper's perplexities of variant and baseline (docs/paper.md), or null with a note. */
  paper: { variant: number; baseline: number; where: string } | null;
  paperNote?: string;
}

const DM = '[data-matched]';
const CM = '[compute-matched]';

/**
 * The claims of issue 16, with the paper's small-scale numbers from docs/paper.md (Table 1's
 * average is over general, code, law and math; bam's `average` also includes ppl-ood).
 */
export const CLAIMS: readonly Claim[] = [
  { claim: 'BAM-full DM beats BTX on average perplexity', variant: `bam-full ${DM}`, baseline: `btx ${DM}`, task: 'average', paper: { variant: 9.7, baseline: 10.72, where: 'Table 1 avg' } },
  { claim: 'BAM-KV-shared DM beats BTX on average perplexity', variant: `bam-kv-shared ${DM}`, baseline: `btx ${DM}`, task: 'average', paper: { variant: 10.32, baseline: 10.72, where: 'Table 1 avg' } },
  { claim: 'BAM-full DM beats BAM-KV-shared DM on average perplexity', variant: `bam-full ${DM}`, baseline: `bam-kv-shared ${DM}`, task: 'average', paper: { variant: 9.7, baseline: 10.32, where: 'Table 1 avg' } },
  { claim: 'compute-matched BAM-full still beats BTX', variant: `bam-full ${CM}`, baseline: `btx ${CM}`, task: 'average', paper: { variant: 10.0, baseline: 10.72, where: 'Table 1 avg' } },
  { claim: 'compute-matched BAM-KV-shared still beats BTX', variant: `bam-kv-shared ${CM}`, baseline: `btx ${CM}`, task: 'average', paper: { variant: 10.46, baseline: 10.72, where: 'Table 1 avg' } },
  // Tables 4–5 give per-domain numbers only: the mean of general, code, law and math.
  { claim: 'BAM-full beats parameter-matched BTX top-3 of 6', variant: `bam-full ${DM}`, baseline: `btx-top3-6 ${DM}`, task: 'average', paper: { variant: (24.06 + 3.44 + 6.04 + 5.31) / 4, baseline: (24.13 + 3.55 + 6.23 + 5.48) / 4, where: 'Tables 4–5, mean of 4 domains' } },
  { claim: 'BAM-full beats parameter-matched BTX with M experts', variant: `bam-full ${DM}`, baseline: `btx-experts-M ${DM}`, task: 'average', paper: null, paperNote: 'BTX with 5–8 experts was worse than BTX (Tables 4–5)' },
  { claim: 'soft attention routing beats top-2 (CM)', variant: `bam-full ${CM}`, baseline: `bam-moa-top2 ${CM}`, task: 'average', paper: { variant: 10.47, baseline: 10.72, where: 'Table 6 avg' } },
  { claim: 'soft attention routing beats top-1 (CM)', variant: `bam-full ${CM}`, baseline: `bam-moa-top1 ${CM}`, task: 'average', paper: { variant: 10.47, baseline: 10.81, where: 'Table 6 avg' } },
  // Issue 16's item 4: the paper's mixtures start un-renormalised (each FFN expert scaled by its gate); this pair starts both equal to their experts.
  { claim: 'BAM-full DM beats BTX when both start equal to their experts', variant: `bam-full renormalised ${DM}`, baseline: `btx renormalised ${DM}`, task: 'average', paper: null, paperNote: 'not tested (the paper starts un-renormalised)' },
  { claim: 'BAM-full DM beats the code specialist in-domain', variant: `bam-full ${DM}`, baseline: 'code expert', task: 'ppl-code', paper: { variant: 3.45, baseline: 3.71, where: 'Table 1 code' } },
  { claim: 'BAM-full DM beats the law specialist in-domain', variant: `bam-full ${DM}`, baseline: 'law expert', task: 'ppl-law', paper: { variant: 6.04, baseline: 7.53, where: 'Table 1 law' } },
  { claim: 'BAM-full DM beats the math specialist in-domain', variant: `bam-full ${DM}`, baseline: 'math expert', task: 'ppl-math', paper: { variant: 5.31, baseline: 5.67, where: 'Table 1 math' } },
];

/** Baselines beyond the sweep's (btx) that the claims compare against. */
export function extraBaselines(claims: readonly Claim[] = CLAIMS): string[] {
  return [...new Set(claims.map((c) => c.baseline).filter((b) => !b.startsWith('btx [')))];
}

export type Verdict = 'holds' | 'does not hold' | 'inconclusive' | 'not run';

/** One row of the findings table. */
export interface Finding {
  claim: Claim;
  /** The paper's relative difference in percent, or null. */
  paperRel: number | null;
  /** bam's paired comparison row (compare CSV), or null when the sweep has no such row. */
  row: { rel: number; low: number; high: number; seeds: number; docs: number } | null;
  verdict: Verdict;
}

/** A compare CSV's rows as records of cells (header row → keys). */
export function readCompareCsv(path: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
  if (!header || !header.includes('rel_delta')) throw new BamError(`${path} is not a compare CSV (no rel_delta column)`, 'E_FINDINGS', 'pass the compare_<metric>.csv a sweep wrote');
  return rows.filter((r) => r.length === header.length).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

/** The verdict of a claim of "lower" from its relative CI. */
export function verdictOf(low: number, high: number): Verdict {
  if (high < 0) return 'holds';
  if (low > 0) return 'does not hold';
  return 'inconclusive';
}

function num(cell: string | undefined): number | null {
  if (cell === undefined || cell === '') return null;
  const x = Number(cell);
  return Number.isFinite(x) ? x : null;
}

/** The findings of `claims` from compare rows (the sweep's and the extra pairs, together). */
export function findingsOf(rows: readonly Record<string, string>[], claims: readonly Claim[] = CLAIMS): Finding[] {
  return claims.map((claim) => {
    const paperRel = claim.paper ? (claim.paper.variant / claim.paper.baseline - 1) * 100 : null;
    const r = rows.find((x) => x.metric === FINDINGS_METRIC && x.variant === claim.variant && x.baseline === claim.baseline && x.task === claim.task);
    const rel = num(r?.rel_delta);
    const low = num(r?.rel_ci_low);
    const high = num(r?.rel_ci_high);
    if (!r || rel === null || low === null || high === null) return { claim, paperRel, row: null, verdict: 'not run' as const };
    return { claim, paperRel, row: { rel, low, high, seeds: Number(r.n_seeds), docs: Number(r.n_docs) }, verdict: verdictOf(low, high) };
  });
}

/** A relative difference as the table prints it: signed, two decimals, percent. */
export function pct(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}%`;
}

/** The findings as a Markdown table. */
export function findingsMarkdown(findings: readonly Finding[]): string {
  const lines = [
    '| claim (lower token perplexity) | task | paper (small) | bam Δ% [95% CI] | seeds × docs | verdict |',
    '|---|---|---|---|---|---|',
  ];
  for (const f of findings) {
    const paper = f.paperRel !== null && f.claim.paper ? `${pct(f.paperRel)} (${f.claim.paper.where})` : (f.claim.paperNote ?? '—');
    const bam = f.row ? `${pct(f.row.rel)} [${pct(f.row.low)}, ${pct(f.row.high)}]` : '—';
    const n = f.row ? `${f.row.seeds} × ${f.row.docs}` : '—';
    lines.push(`| ${f.claim.claim}: ${f.claim.variant} vs ${f.claim.baseline} | ${f.claim.task} | ${paper} | ${bam} | ${n} | ${f.verdict} |`);
  }
  return lines.join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The findings as an HTML table (for the top of report.html). */
export function findingsHtml(findings: readonly Finding[]): string {
  const [head, , ...body] = findingsMarkdown(findings).split('\n');
  const cells = (line: string) => line.slice(2, -2).split(' | ').map(escapeHtml);
  return [
    '<section id="findings"><h2>Findings: the paper\'s claims at this scale</h2><table>',
    `<thead><tr>${cells(head).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>`,
    ...body.map((l) => `<tr>${cells(l).map((c) => `<td>${c}</td>`).join('')}</tr>`),
    '</tbody></table></section>',
  ].join('\n');
}

/** `text` with the part between the findings markers replaced by `table` (markers kept). */
export function replaceBetweenMarkers(text: string, table: string, what: string): string {
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new BamError(`${what} has no ${START_MARKER} … ${END_MARKER} markers`, 'E_FINDINGS', `add both markers where the findings table belongs`);
  return `${text.slice(0, start + START_MARKER.length)}\n${table}\n${text.slice(end)}`;
}

/** report.html with the findings section first in its body (replacing an earlier one). */
export function withFindingsInReport(html: string, section: string): string {
  if (html.includes(START_MARKER)) return replaceBetweenMarkers(html, section, 'report.html');
  const body = html.match(/<body[^>]*>/);
  if (!body || body.index === undefined) throw new BamError('report.html has no <body>', 'E_FINDINGS', 'regenerate it with bam report');
  const at = body.index + body[0].length;
  return `${html.slice(0, at)}\n${START_MARKER}\n${section}\n${END_MARKER}\n${html.slice(at)}`;
}

/** The sweep's compare rows and the extra pairs of a committed results folder. */
export function readFindingRows(dir: string): Record<string, string>[] {
  const main = join(dir, COMPARE_FILE);
  if (!existsSync(main)) throw new BamError(`${main} does not exist`, 'E_FINDINGS', 'run the paper sweep and copy its outputs (see docs/results/paper/README.md)');
  const pairs = join(dir, PAIRS_FILE);
  return [...readCompareCsv(main), ...(existsSync(pairs) ? readCompareCsv(pairs) : [])];
}

/** Writes findings_compare.csv in `outDir`: the study's rows against every extra baseline, from `resultsDir`'s documents. */
export function writePairs(resultsDir: string, outDir: string, claims: readonly Claim[] = CLAIMS): string {
  const rows: CompareRow[] = [];
  for (const baseline of extraBaselines(claims)) {
    for (const t of compareResults(resultsDir, { baseline: baseline.replace(/ \[.*\]$/, ''), metrics: [FINDINGS_METRIC] })) rows.push(...t.rows);
  }
  const path = join(outDir, PAIRS_FILE);
  writeFileAtomic(path, compareCsv(rows));
  return path;
}

/** Writes the findings table into the README, findings.md and report.html of `dir`. */
export function writeFindings(dir: string, readme: string): Finding[] {
  const findings = findingsOf(readFindingRows(dir));
  const table = findingsMarkdown(findings);
  writeFileAtomic(readme, replaceBetweenMarkers(readFileSync(readme, 'utf8'), table, readme));
  writeFileAtomic(join(dir, 'findings.md'), `# Findings of the paper study\n\n${START_MARKER}\n${table}\n${END_MARKER}\n`);
  const report = join(dir, 'report.html');
  if (existsSync(report)) writeFileAtomic(report, withFindingsInReport(readFileSync(report, 'utf8'), findingsHtml(findings)));
  return findings;
}

function main(argv: string[]): void {
  const [cmd, a, b] = argv;
  if (cmd === 'pairs' && a && b) console.log(`wrote ${writePairs(a, b)}`);
  else if (cmd === 'table' && a) for (const f of writeFindings(a, b ?? 'README.md')) console.log(`${f.verdict.padEnd(14)} ${f.claim.claim}`);
  else {
    console.error('usage: tsx tools/paper-findings.ts pairs RESULTS_DIR OUT_DIR | table DIR [README]');
    process.exitCode = 2;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    if (e instanceof BamError) {
      console.error(`error: ${e.message}`);
      process.exitCode = 2;
    } else throw e;
  }
}
