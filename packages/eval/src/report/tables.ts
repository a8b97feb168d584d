/**
 * The report's tables, as data: Table 1 of the paper (perplexity per domain: general, code, law,
 * math, their average, then out-of-domain), Table 3 (downstream acc / acc_norm per task), and one
 * table per remaining metric. A row is a variant (× budget: `bam-full DM`, `bam-full CM`); a cell
 * is the mean over the planned seeds, and stays empty unless every planned seed is ok (as in
 * the sweep's wide tables), saying why: failed (with the error), pending (not run yet) or missing
 * (not part of the sweep).
 */
import type { ResultRow } from '../results.ts';
import { parseEntropyRatioMetric, parseRoutingMetric } from './routing.ts';
import { planJobsOf, type ResultsFolder } from './load.ts';

/** The paper's four training domains, in Table 1's column order. */
export const DOMAINS = ['general', 'code', 'law', 'math'] as const;
/** A training domain, or `ood` (held-out text never trained on). */
export type Domain = (typeof DOMAINS)[number] | 'ood';

/** How budgets are abbreviated in row labels, as in the paper (`BAM DM`, `BAM CM`). */
export const BUDGET_ABBREVIATIONS: Readonly<Record<string, string>> = { 'data-matched': 'DM', 'compute-matched': 'CM' };

/** Perplexity metrics Table 1 uses, in order of preference (the first one present wins). */
export const PERPLEXITY_METRICS = ['token_perplexity', 'word_perplexity', 'byte_perplexity', 'perplexity'] as const;

/** Metrics of Table 3 (multiple-choice downstream tasks), in column order. */
export const DOWNSTREAM_METRICS = ['acc', 'acc_norm'] as const;

const OOD_WORDS = new Set(['ood', 'heldout', 'held-out', 'moby', 'mobydick', 'out-of-domain']);

/**
 * The domain a task label names: one of its words (split at any non-alphanumeric character) is
 * `general`, `code`, `law` or `math`, or `ood` / `heldout` / `moby` for out-of-domain text
 * (`ppl-code` → code, `ppl_ood` → ood, `held-out` → ood); undefined when it names none.
 */
export function taskDomain(task: string): Domain | undefined {
  const lower = task.toLowerCase();
  if (/(^|[^a-z0-9])(held-out|out-of-domain)([^a-z0-9]|$)/.test(lower)) return 'ood';
  const words = lower.split(/[^a-z0-9]+/).filter((w) => w !== '');
  for (const w of words) if ((DOMAINS as readonly string[]).includes(w)) return w as Domain;
  for (const w of words) if (OOD_WORDS.has(w)) return 'ood';
  return undefined;
}

/** A row label: the variant, plus `DM`/`CM` (or the budget itself) when the row has a budget. */
export function rowLabel(variant: string, budget: string): string {
  return budget ? `${variant} ${BUDGET_ABBREVIATIONS[budget] ?? budget}` : variant;
}

/** Why a cell is empty, or `ok`. */
export type CellStatus = 'ok' | 'failed' | 'pending' | 'missing';

/** One table cell: the mean over seeds and its standard error. */
export interface TableCell {
  status: CellStatus;
  /** Mean over the planned seeds (null unless status is ok). */
  value: number | null;
  /**
   * Standard error of that mean, propagating each seed's own stderr: √(Σ seᵢ²) / k over k seeds
   * (one seed: its stderr). Null when a seed has none.
   */
  stderr: number | null;
  /** Seeds with an ok value / seeds planned. */
  seeds: number;
  planned: number;
  /** The first failed seed's error. */
  error?: string;
  /** The best ok value of its column (of two or more). */
  best?: boolean;
}

/** A table column: one (task, metric), or the average of other columns. */
export interface TableColumn {
  /** Header text: the domain for Table 1's domain columns, else the task label (or `average`). */
  header: string;
  /** A second header line (Table 3's metric). */
  subheader?: string;
  task?: string;
  metric: string;
  domain?: Domain;
  /** For an average column: the indices of the columns it averages. */
  averageOf?: number[];
}

/** A table row: one variant × budget. */
export interface TableRow {
  label: string;
  variant: string;
  budget: string;
  cells: TableCell[];
}

/** One table of the report. */
export interface ReportTable {
  id: string;
  title: string;
  /** One sentence under the title (what the numbers are). */
  note: string;
  higherIsBetter: boolean;
  /** Show values as percentages (Table 3). */
  percent: boolean;
  columns: TableColumn[];
  rows: TableRow[];
}

/** A variant × budget row, in plan order. */
export interface RowKey {
  label: string;
  variant: string;
  budget: string;
}

/** The sweep's rows in plan order (then any row only results.csv has, in its order). */
export function rowKeys(folder: ResultsFolder): RowKey[] {
  const out: RowKey[] = [];
  const seen = new Set<string>();
  const add = (variant: string, budget: string): void => {
    const k = `${variant}\u0000${budget}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ label: rowLabel(variant, budget), variant, budget });
  };
  const jobs = [...planJobsOf(folder)].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
  for (const j of jobs) add(j.variant, j.budget);
  for (const r of folder.rows) add(r.variant, r.budget);
  return out;
}

/** Tasks (plan order, then results.csv order) that have `metric` in the plan or in a row. */
export function tasksWithMetric(folder: ResultsFolder, metric: string): string[] {
  const out: string[] = [];
  const jobs = [...planJobsOf(folder)].sort((a, b) => a.order[2] - b.order[2]);
  for (const j of jobs) if (metric in j.metrics && !out.includes(j.task)) out.push(j.task);
  for (const r of folder.rows) if (r.metric === metric && !out.includes(r.task)) out.push(r.task);
  return out;
}

/** Every metric in the plan or results.csv, in first-seen order. */
export function allMetrics(folder: ResultsFolder): string[] {
  const out: string[] = [];
  const jobs = [...planJobsOf(folder)].sort((a, b) => a.order[2] - b.order[2]);
  for (const j of jobs) for (const m of Object.keys(j.metrics)) if (!out.includes(m)) out.push(m);
  for (const r of folder.rows) if (!out.includes(r.metric)) out.push(r.metric);
  return out;
}

function higherIsBetter(folder: ResultsFolder, metric: string): boolean {
  for (const j of planJobsOf(folder)) if (j.metrics[metric]) return j.metrics[metric].higherIsBetter;
  return !/perplexity|bits_per_byte|loss/.test(metric);
}

/** Groups result rows by (variant, budget, task, metric) for cell lookups. */
export class RowIndex {
  private readonly byCell = new Map<string, ResultRow[]>();
  private readonly planned = new Map<string, Set<number>>();

  constructor(folder: ResultsFolder) {
    for (const r of folder.rows) {
      const k = RowIndex.key(r.variant, r.budget, r.task, r.metric);
      const list = this.byCell.get(k) ?? [];
      list.push(r);
      this.byCell.set(k, list);
    }
    for (const j of planJobsOf(folder)) {
      for (const m of Object.keys(j.metrics)) {
        const k = RowIndex.key(j.variant, j.budget, j.task, m);
        const s = this.planned.get(k) ?? new Set<number>();
        s.add(j.seed);
        this.planned.set(k, s);
      }
    }
  }

  private static key(variant: string, budget: string, task: string, metric: string): string {
    return [variant, budget, task, metric].join('\u0000');
  }

  /** The rows of one cell (every seed). */
  rows(variant: string, budget: string, task: string, metric: string): ResultRow[] {
    return this.byCell.get(RowIndex.key(variant, budget, task, metric)) ?? [];
  }

  /** One cell: mean over the planned seeds (the seeds in results.csv when there is no plan). */
  cell(variant: string, budget: string, task: string, metric: string): TableCell {
    const rows = this.rows(variant, budget, task, metric);
    const plannedSeeds = this.planned.get(RowIndex.key(variant, budget, task, metric)) ?? new Set(rows.map((r) => r.seed));
    const ok = rows.filter((r) => r.status === 'ok' && r.value !== null && plannedSeeds.has(r.seed));
    const failed = rows.find((r) => r.status === 'failed');
    const planned = plannedSeeds.size;
    const okSeeds = new Set(ok.map((r) => r.seed)).size;
    if (planned > 0 && okSeeds === planned && ok.length === planned) {
      const value = ok.reduce((s, r) => s + (r.value as number), 0) / ok.length;
      const ses = ok.map((r) => r.stderr);
      const stderr = ses.every((x) => x !== null && Number.isFinite(x)) ? Math.sqrt(ses.reduce((acc: number, x) => acc + (x as number) ** 2, 0)) / ok.length : null;
      return { status: 'ok', value, stderr, seeds: okSeeds, planned };
    }
    const status: CellStatus = failed ? 'failed' : planned > 0 ? 'pending' : 'missing';
    return { status, value: null, stderr: null, seeds: okSeeds, planned, ...(failed ? { error: failed.error || 'failed (no message)' } : {}) };
  }
}

/** The average of some cells: ok only when all are ok; otherwise the first non-ok status (failed first). */
export function averageCell(cells: readonly TableCell[]): TableCell {
  const planned = Math.min(...cells.map((c) => c.planned));
  if (cells.length > 0 && cells.every((c) => c.status === 'ok')) {
    const value = cells.reduce((s, c) => s + (c.value as number), 0) / cells.length;
    const stderr = cells.every((c) => c.stderr !== null) ? Math.sqrt(cells.reduce((s, c) => s + (c.stderr as number) ** 2, 0)) / cells.length : null;
    return { status: 'ok', value, stderr, seeds: Math.min(...cells.map((c) => c.seeds)), planned };
  }
  const order: CellStatus[] = ['failed', 'pending', 'missing'];
  const status = order.find((s) => cells.some((c) => c.status === s)) ?? 'missing';
  const error = cells.find((c) => c.status === 'failed')?.error;
  return { status, value: null, stderr: null, seeds: 0, planned: Number.isFinite(planned) ? planned : 0, ...(error ? { error } : {}) };
}

function markBest(table: ReportTable): void {
  table.columns.forEach((_, ci) => {
    const ok = table.rows.map((r) => r.cells[ci]).filter((c) => c.status === 'ok' && c.value !== null && Number.isFinite(c.value));
    if (ok.length < 2) return;
    const best = table.higherIsBetter ? Math.max(...ok.map((c) => c.value as number)) : Math.min(...ok.map((c) => c.value as number));
    for (const c of ok) if (c.value === best) c.best = true;
  });
}

function fillRows(folder: ResultsFolder, index: RowIndex, columns: TableColumn[]): TableRow[] {
  return rowKeys(folder)
    .map((k) => {
      const cells: TableCell[] = [];
      for (const col of columns) {
        cells.push(col.averageOf ? averageCell(col.averageOf.map((i) => cells[i])) : index.cell(k.variant, k.budget, col.task as string, col.metric));
      }
      return { ...k, cells };
    })
    .filter((r) => r.cells.some((c) => c.status !== 'missing'));
}

/** The perplexity metric Table 1 shows: `preferred` if given, else the first of PERPLEXITY_METRICS in the sweep. */
export function choosePerplexityMetric(folder: ResultsFolder, preferred?: string): string | undefined {
  const metrics = allMetrics(folder);
  if (preferred) return preferred;
  return PERPLEXITY_METRICS.find((m) => metrics.includes(m));
}

/**
 * Table 1: perplexity per domain. Columns: the tasks naming general, code, law and math (the
 * first task per domain, in that order), their average (when two or more), then out-of-domain
 * tasks, then any other task with the metric. `domains` overrides `taskDomain` per task label.
 */
export function perplexityTable(folder: ResultsFolder, opts: { metric?: string; domains?: Readonly<Record<string, Domain>> } = {}): ReportTable | undefined {
  const metric = choosePerplexityMetric(folder, opts.metric);
  if (!metric) return undefined;
  const tasks = tasksWithMetric(folder, metric);
  if (tasks.length === 0) return undefined;
  const domainOf = (t: string): Domain | undefined => opts.domains?.[t] ?? taskDomain(t);
  const inDomain: TableColumn[] = [];
  const ood: TableColumn[] = [];
  const other: TableColumn[] = [];
  for (const d of DOMAINS) {
    const t = tasks.find((x) => domainOf(x) === d);
    if (t) inDomain.push({ header: d, task: t, metric, domain: d });
  }
  for (const t of tasks) {
    if (inDomain.some((c) => c.task === t)) continue;
    if (domainOf(t) === 'ood') ood.push({ header: 'out-of-domain', task: t, metric, domain: 'ood' });
    else other.push({ header: t, task: t, metric });
  }
  if (ood.length > 1) for (const c of ood) c.header = `out-of-domain (${c.task})`;
  const columns = [...inDomain];
  if (inDomain.length >= 2) columns.push({ header: 'average', metric, averageOf: inDomain.map((_, i) => i) });
  columns.push(...ood, ...other);
  const index = new RowIndex(folder);
  const table: ReportTable = {
    id: 'perplexity',
    title: `Table 1 — ${metric.replace(/_/g, ' ')} per domain`,
    note:
      `Mean over seeds (± standard error) of ${metric}, lower is better; the average is the mean of the ` +
      `${inDomain.length} in-domain columns. DM = data-matched, CM = compute-matched. Bold: best in its column.`,
    higherIsBetter: higherIsBetter(folder, metric),
    percent: false,
    columns,
    rows: fillRows(folder, index, columns),
  };
  markBest(table);
  return table;
}

/**
 * Table 3: downstream multiple-choice tasks, acc and acc_norm (as percentages) per task, and
 * the average per metric over the tasks when there are two or more.
 */
export function downstreamTable(folder: ResultsFolder): ReportTable | undefined {
  const metrics = DOWNSTREAM_METRICS.filter((m) => allMetrics(folder).includes(m));
  const tasks: string[] = [];
  for (const m of metrics) for (const t of tasksWithMetric(folder, m)) if (!tasks.includes(t)) tasks.push(t);
  if (tasks.length === 0) return undefined;
  const taskMetrics = (t: string): string[] => metrics.filter((m) => tasksWithMetric(folder, m).includes(t));
  const columns: TableColumn[] = [];
  for (const t of tasks) for (const m of taskMetrics(t)) columns.push({ header: t, subheader: m, task: t, metric: m });
  if (tasks.length >= 2) {
    for (const m of metrics) {
      const idx = columns.map((c, i) => (c.metric === m ? i : -1)).filter((i) => i >= 0);
      if (idx.length >= 2) columns.push({ header: 'average', subheader: m, metric: m, averageOf: idx });
    }
  }
  const table: ReportTable = {
    id: 'downstream',
    title: 'Table 3 — downstream tasks',
    note: 'Accuracy in % (mean over seeds ± standard error), higher is better; acc_norm divides each choice’s loglikelihood by its length in bytes.',
    higherIsBetter: true,
    percent: true,
    columns,
    rows: fillRows(folder, new RowIndex(folder), columns),
  };
  markBest(table);
  return table;
}

function notHeadline(folder: ResultsFolder, metric: string): boolean {
  return planJobsOf(folder).some((j) => j.metrics[metric]?.headline === false);
}

/** One variant × task table for every metric not in Table 1, Table 3 or the routing analysis. */
export function otherMetricTables(folder: ResultsFolder, shown: readonly string[]): ReportTable[] {
  const index = new RowIndex(folder);
  return allMetrics(folder)
    // Per-layer routing numbers are figures (heatmap, entropy per layer), and metrics a task marks
    // `headline: false` stay out of the tables, as in the sweep's table_<metric>.csv.
    .filter((m) => !shown.includes(m) && !parseRoutingMetric(m) && !parseEntropyRatioMetric(m) && !notHeadline(folder, m))
    .map((metric) => {
      const hib = higherIsBetter(folder, metric);
      const columns: TableColumn[] = tasksWithMetric(folder, metric).map((t) => ({ header: t, task: t, metric }));
      const table: ReportTable = {
        id: `metric-${metric}`,
        title: metric,
        note: `Mean over seeds ± standard error; ${hib ? 'higher' : 'lower'} is better.`,
        higherIsBetter: hib,
        percent: false,
        columns,
        rows: fillRows(folder, index, columns),
      };
      markBest(table);
      return table;
    });
}

/** One failed job (distinct config hash), for the report's list of failures. */
export interface FailedJob {
  label: string;
  task: string;
  seed: number;
  error: string;
}

/** Every failed job in results.csv, once each. */
export function failedJobs(folder: ResultsFolder): FailedJob[] {
  const seen = new Set<string>();
  const out: FailedJob[] = [];
  for (const r of folder.rows) {
    if (r.status !== 'failed' || seen.has(r.config_hash)) continue;
    seen.add(r.config_hash);
    out.push({ label: rowLabel(r.variant, r.budget), task: r.task, seed: r.seed, error: r.error });
  }
  return out;
}
