/**
 * What a newcomer reads when a sweep ends (`bam sweep` prints it under the tables): where the
 * report is, the comparison that matters, where the CSVs are, and how to rerun one variant.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { compareFileName, defaultBaseline } from './compare/compare.ts';
import { formatP } from './compare/format.ts';
import { parseCsv } from './report/load.ts';
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
 * (token perplexity first; else the first table's first task), the baseline row (by variant or
 * row label, its first budget; the table's first row when absent) against the best row. '' when nothing finished.
 */
export function averageHeadline(tables: readonly WideTable[], baselineLabel?: string): string {
  const table = tables.find((t) => t.hasAverage && t.metric === 'token_perplexity') ?? tables.find((t) => t.hasAverage) ?? tables[0];
  if (!table) return '';
  const col = table.hasAverage ? table.columns.length - 1 : 0;
  const what = table.hasAverage ? `average ${table.metric} over ${table.columns.length - 1} tasks` : `${table.metric} on ${table.columns[0]}`;
  const done = table.rows.filter((r) => r.cells[col] !== null);
  const baseline = table.rows.find((r) => r.label === baselineLabel || r.label.startsWith(`${baselineLabel} [`)) ?? table.rows[0];
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

/** Percent with one decimal and its sign ('−0.8%', '+2.0%'). */
function pct(x: number): string {
  return `${x > 0 ? '+' : x < 0 ? '−' : ''}${Math.abs(x).toFixed(1)}%`;
}

/**
 * COMPARISON HEADLINE — the one place the closing lines get their comparison from: the paired
 * comparison the sweep wrote (compare_<metric>.csv; token perplexity first, its average over
 * tasks when there is one), the best variant against the baseline with Δ%, its 95% CI and the
 * Holm p-value. A sweep with one variant row writes no comparison: then the wide table's value.
 */
export function comparisonHeadline(outDir: string, tables: readonly WideTable[], plan: readonly JobPlan[] = [], compareCommand = `npx bam compare ${outDir}`): string {
  const files = existsSync(outDir) ? readdirSync(outDir).filter((f) => /^compare_.+\.csv$/.test(f)).sort() : [];
  const file = files.find((f) => f === compareFileName('token_perplexity')) ?? files[0];
  if (!file) return averageHeadline(tables, defaultBaseline(plan)) || 'no finished baseline yet (see results.csv)';
  const [head, ...body] = parseCsv(readFileSync(join(outDir, file), 'utf8'));
  const rows = body.map((cells) => Object.fromEntries(head.map((h, i) => [h, cells[i] ?? ''])));
  const averages = rows.filter((r) => r.task === 'average');
  const pool = (averages.length > 0 ? averages : rows.filter((r) => r.task === rows[0]?.task)).filter((r) => r.value !== '');
  if (pool.length === 0) return `no paired comparison finished yet (${file})`;
  const metric = pool[0].metric;
  const higher = tables.find((t) => t.metric === metric)?.higherIsBetter ?? false;
  const best = pool.reduce((x, y) => ((higher ? Number(y.value) > Number(x.value) : Number(y.value) < Number(x.value)) ? y : x));
  const where = best.task === 'average' ? 'average over tasks' : `on ${best.task}`;
  const rel = best.rel_delta === '' ? '' : ` ${pct(Number(best.rel_delta))}`;
  const ci = best.rel_ci_low === '' || best.rel_ci_high === '' ? '' : ` (95% CI ${pct(Number(best.rel_ci_low))} … ${pct(Number(best.rel_ci_high))})`;
  const p = best.p_holm === '' ? '' : `, Holm p ${formatP(Number(best.p_holm))}`;
  return `${metric}, ${where} (${higher ? 'higher' : 'lower'} is better): best ${best.variant} ${num(Number(best.value))} vs baseline ${best.baseline} ${num(Number(best.baseline_value))},${rel}${ci}${p} — every variant: ${compareCommand}`;
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
  const csvs = [FILES.results, ...tables.flatMap((t) => [tableFileName(t.metric), compareFileName(t.metric)])].filter((f) => existsSync(join(input.outDir, f)));
  const command = `${input.bam ?? 'npx bam'} sweep --config ${rel(input.configPath)} --out ${rel(input.outDir)} --resume`;
  return [
    `report:     ${existsSync(report) ? report : `${report} was not written (see the warning above)`}  (open it in a browser)`,
    `comparison: ${comparisonHeadline(input.outDir, tables, plan, `${input.bam ?? 'npx bam'} compare ${rel(input.outDir)}`)}`,
    `CSVs:       ${rel(input.outDir)}/ ${csvs.join(', ')} (per-document scores in ${FILES.docs})`,
    `rerun one variant: edit its entry in ${rel(input.configPath)} (a failed one needs no edit), then ${command} — only failed jobs and jobs whose config changed run again`,
  ].join('\n');
}
