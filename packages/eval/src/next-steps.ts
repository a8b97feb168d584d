/**
 * What a newcomer reads when a sweep ends (`bam sweep` prints it under the tables): where the
 * report is, the comparison that matters, where the CSVs are, and how to rerun one variant.
 */
import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { FILES, buildTables, readPlan, tableFileName, type JobPlan, type ResultRow, type WideTable } from './results.ts';

/** What `sweepNextSteps` needs to know about the finished sweep. */
export interface NextStepsInput {
  /** The results folder. */
  outDir: string;
  /** The sweep config file. */
  configPath: string;
  /** The rows the sweep wrote (results.csv). */
  rows: readonly ResultRow[];
  /** Paths are printed relative to this folder (default: the current one). */
  cwd?: string;
  /** How the user calls bam (default 'npx bam'). */
  bam?: string;
}

/** '1643.4' for perplexities, '0.3125' for values below 10. */
function num(v: number): string {
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(4);
}

/**
 * The headline comparison from the wide tables: the row average of the first table that has one
 * (token perplexity first; else the first table's first task), the baseline row (by label; the
 * table's first row when absent) against the best row. '' when nothing finished.
 */
export function averageHeadline(tables: readonly WideTable[], baselineLabel?: string): string {
  const table = tables.find((t) => t.hasAverage && t.metric === 'token_perplexity') ?? tables.find((t) => t.hasAverage) ?? tables[0];
  if (!table) return '';
  const col = table.hasAverage ? table.columns.length - 1 : 0;
  const what = table.hasAverage ? `average ${table.metric} over ${table.columns.length - 1} tasks` : `${table.metric} on ${table.columns[0]}`;
  const done = table.rows.filter((r) => r.cells[col] !== null);
  const baseline = table.rows.find((r) => r.label === baselineLabel) ?? table.rows[0];
  const b = baseline?.cells[col];
  if (done.length === 0 || b === null || b === undefined) return '';
  const better = (x: number, y: number): boolean => (table.higherIsBetter ? x > y : x < y);
  const best = done.reduce((x, y) => (better(y.cells[col]!, x.cells[col]!) ? y : x));
  const v = best.cells[col]!;
  const head = `${what} (${table.higherIsBetter ? 'higher' : 'lower'} is better):`;
  if (best === baseline) return `${head} baseline ${baseline.label} ${num(b)} is the best of ${done.length} row(s)${done.length === 1 ? ' (add variants to compare)' : ''}`;
  const change = b === 0 ? '' : ` (${v >= b ? '+' : '−'}${Math.abs(((v - b) / b) * 100).toFixed(1)}%)`;
  return `${head} best ${best.label} ${num(v)} vs baseline ${baseline.label} ${num(b)}${change}`;
}

/**
 * The row `bam compare` compares with by default: the first variant that is not a dense model
 * (the first mixture), its first budget's row. Undefined when every variant is dense.
 */
export function defaultBaseline(plan: readonly JobPlan[]): string | undefined {
  const j = [...plan].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]).find((p) => p.variantId !== 'dense');
  return j && (j.budget ? `${j.variant} [${j.budget}]` : j.variant);
}

/**
 * COMPARISON HEADLINE — the one place the closing lines get their comparison from. Today: the
 * average of the wide table (averageHeadline) against bam compare's default baseline, plus the
 * paired-comparison files (compare_<metric>.csv) when the sweep wrote any. Point this at the paired comparison's own headline once it exists.
 */
export function comparisonHeadline(outDir: string, tables: readonly WideTable[], plan: readonly JobPlan[] = []): string {
  const paired = existsSync(outDir) ? readdirSync(outDir).filter((f) => /^compare_.+\.csv$/.test(f)).sort() : [];
  const parts = [averageHeadline(tables, defaultBaseline(plan)) || 'no finished baseline yet (see results.csv)'];
  if (paired.length > 0) parts.push(`paired comparisons in ${paired.join(', ')}`);
  return parts.join('; ');
}

/** The closing lines of a sweep: report path, comparison headline, the CSVs, how to rerun one variant. */
export function sweepNextSteps(input: NextStepsInput): string {
  const cwd = input.cwd ?? process.cwd();
  // Relative to where the user stands, absolute when that would climb out of it.
  const rel = (p: string): string => {
    const r = relative(cwd, p);
    return r === '' ? '.' : r.startsWith('..') || isAbsolute(r) ? p : r;
  };
  const plan = readPlan(input.outDir).jobs;
  const tables = buildTables(plan, input.rows);
  const report = join(input.outDir, 'report.html');
  const csvs = [FILES.results, ...tables.map((t) => tableFileName(t.metric))].filter((f) => existsSync(join(input.outDir, f)));
  const command = `${input.bam ?? 'npx bam'} sweep --config ${rel(input.configPath)} --out ${rel(input.outDir)} --resume`;
  return [
    `report:     ${existsSync(report) ? report : `${report} was not written (see the warning above)`}  (open it in a browser)`,
    `comparison: ${comparisonHeadline(input.outDir, tables, plan)}`,
    `CSVs:       ${rel(input.outDir)}/ ${csvs.join(', ')} (per-document scores in ${FILES.docs})`,
    `rerun one variant: edit its entry in ${rel(input.configPath)} (a failed one needs no edit), then ${command} — only failed jobs and jobs whose config changed run again`,
  ].join('\n');
}
