/**
 * The results folder of a sweep:
 *   sweep.json    the plan: every job (labels, seed, budget, config hash, metric specs), in order
 *   jobs.jsonl    the journal: one line appended (fsynced) as each job finishes, ok or failed
 *   docs.jsonl    per-document metric values of every ok job (enough to re-aggregate)
 *   results.csv   long table: one row per variant × task × metric × seed (× budget)
 *   table_<metric>.csv   wide table per headline metric: variants × tasks (+ average), each cell
 *                        followed by its standard error (<task>_stderr)
 *   compare_<metric>.csv paired comparisons against the baseline (see compare/compare.ts)
 * Rows are sorted by the plan's order, so a resumed sweep ends with the same files as an
 * uninterrupted one (except the measured duration_s).
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { ResultsError } from './errors.ts';
import { aggregateScores, type Aggregate } from './metrics.ts';
import type { MetricSpec } from './api/task.ts';
import type { SeedKind } from './api/context.ts';
import type { DocScores } from './evaluate.ts';
import { writeFileAtomic } from '@bam/utils';
import { withError } from './compare/format.ts';

/** One job of the plan, as written to sweep.json. */
export interface JobPlan {
  /** The job's config hash (variant id + parsed options, task id + version + parsed options, seed, budget, limit). */
  key: string;
  variant: string;
  variantId: string;
  task: string;
  taskId: string;
  taskVersion: string;
  seed: number;
  /** '' when the variant does not use budgets. */
  budget: string;
  /** [variant index, budget index (0 = none), task index, seed index]: the sort order of rows. */
  order: [number, number, number, number];
  metrics: Record<string, MetricSpec>;
  bootstrapIters: number;
  /** What `seed` varies (the sweep config's seedKind); absent in plans written before it existed (= pipeline). */
  seedKind?: SeedKind;
  /** Set on a shard job: which documents of which job it scores (see shards.ts); absent on a whole job. */
  shard?: ShardRange;
}

/**
 * The documents one shard job scores: `[start, end)` of the `total` documents of the job `of`
 * (the unsplit job's key, under which the merged scores are recorded).
 */
export interface ShardRange {
  of: string;
  /** 0-based shard index, of `count`. */
  index: number;
  count: number;
  start: number;
  end: number;
  total: number;
}

/** The plan file. */
export interface SweepPlanFile {
  name: string;
  /** The sweep config's seedKind. */
  seedKind?: SeedKind;
  jobs: JobPlan[];
  /** The shard jobs that run in place of split jobs (`jobs` keeps the rows; absent when nothing is split). */
  shards?: JobPlan[];
}

/** One journal line: how a job ended. */
export interface JobRecord {
  key: string;
  status: 'ok' | 'failed';
  error: string;
  variant: string;
  task: string;
  seed: number;
  budget: string;
  backend: string;
  /** The model's own name and config/checkpoint hash (ModelInfo), for tracing a row to its weights. */
  model: string;
  modelHash: string;
  n: number | null;
  values: Record<string, Aggregate>;
  durationS: number | null;
  threadId: number;
  packageVersion: string;
  finishedAt: string;
  /** The model's training logs (ModelInfo.trainingLogs: stage label → JSONL path), for training_logs.json. */
  trainingLogs?: Record<string, string>;
  /** On a shard's record: the job it is part of (no `values`; the merged record of `of` has them). */
  shard?: Pick<ShardRange, 'of' | 'index' | 'count'>;
}

/** One line of docs.jsonl. */
export interface DocRecord {
  key: string;
  doc: number;
  /**
   * The document's fingerprint (`documentId`: a hash of the requests it sent), written by the
   * sweep; when both sides of a paired comparison have one, they must agree. Older folders lack it.
   */
  id?: string;
  scores: DocScores;
}

/** One row of results.csv. */
export interface ResultRow {
  variant: string;
  task: string;
  metric: string;
  value: number | null;
  stderr: number | null;
  n: number | null;
  seed: number;
  budget: string;
  task_version: string;
  config_hash: string;
  backend: string;
  package_version: string;
  status: 'ok' | 'failed';
  error: string;
  duration_s: number | null;
}

/** Columns of results.csv, in order. */
export const RESULT_COLUMNS: ReadonlyArray<keyof ResultRow> = [
  'variant', 'task', 'metric', 'value', 'stderr', 'n', 'seed', 'budget', 'task_version',
  'config_hash', 'backend', 'package_version', 'status', 'error', 'duration_s',
];

/** File names inside a results folder. */
export const FILES = {
  plan: 'sweep.json',
  journal: 'jobs.jsonl',
  docs: 'docs.jsonl',
  results: 'results.csv',
} as const;

/** Reads a JSON-lines file; skips a torn (unparseable) last line, reports how many lines were bad. */
export function readJsonl<T>(path: string): { items: T[]; bad: number } {
  if (!existsSync(path)) return { items: [], bad: 0 };
  const items: T[] = [];
  let bad = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      items.push(JSON.parse(line) as T);
    } catch {
      bad++;
    }
  }
  return { items, bad };
}

/** The latest journal record of each job key. */
export function readJournal(dir: string): { records: Map<string, JobRecord>; bad: number } {
  const { items, bad } = readJsonl<JobRecord>(join(dir, FILES.journal));
  const records = new Map<string, JobRecord>();
  for (const r of items) if (r && typeof r.key === 'string') records.set(r.key, r);
  return { records, bad };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' | ').slice(0, 1000);
}

/**
 * Rows of results.csv for every planned job that has a record, sorted by plan order, metric, seed.
 * An ok job has no row for a metric that applied to none of its documents (see `aggregateScores`).
 */
export function buildRows(plan: readonly JobPlan[], records: ReadonlyMap<string, JobRecord>): ResultRow[] {
  const keyed: Array<{ sort: number[]; row: ResultRow }> = [];
  for (const job of plan) {
    const rec = records.get(job.key);
    if (!rec) continue;
    Object.keys(job.metrics).forEach((metric, mi) => {
      const v = rec.status === 'ok' ? rec.values[metric] : undefined;
      if (rec.status === 'ok' && !v) return; // the metric applied to none of the job's documents: no row
      keyed.push({
        sort: [job.order[0], job.order[1], job.order[2], mi, job.order[3]],
        row: {
          variant: job.variant,
          task: job.task,
          metric,
          value: v ? v.value : null,
          stderr: v ? v.stderr : null,
          n: v ? v.n : null,
          seed: job.seed,
          budget: job.budget,
          task_version: job.taskVersion,
          config_hash: job.key,
          backend: rec.backend,
          package_version: rec.packageVersion,
          status: rec.status,
          error: oneLine(rec.error ?? ''),
          duration_s: rec.durationS,
        },
      });
    });
  }
  keyed.sort((a, b) => {
    for (let i = 0; i < a.sort.length; i++) if (a.sort[i] !== b.sort[i]) return a.sort[i] - b.sort[i];
    return 0;
  });
  return keyed.map((k) => k.row);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'number' ? String(v) : String(v);
}

/** results.csv text for `rows` (numbers at full precision, empty cells for missing values). */
export function resultsCsv(rows: readonly ResultRow[]): string {
  return stringify([[...RESULT_COLUMNS], ...rows.map((r) => RESULT_COLUMNS.map((c) => cell(r[c])))]);
}

/** A wide table of one metric: one row per variant (and budget), one column per task, plus an average. */
export interface WideTable {
  metric: string;
  higherIsBetter: boolean;
  columns: string[];
  /**
   * Per row, each cell's value and standard error. A cell's error propagates each seed's own
   * stderr through the mean over k seeds, √(Σ seᵢ²) / k, and the average's through the mean over
   * tasks the same way (null when any part has none).
   */
  rows: Array<{ label: string; cells: Array<number | null>; errors: Array<number | null> }>;
  /** Whether the last column is the row average (only when the metric has two or more tasks). */
  hasAverage: boolean;
}

/**
 * Wide tables for every headline metric. A cell is the mean over seeds, and empty unless every
 * seed of that variant × task is ok; the average (mean over the row's tasks) needs every cell.
 */
export function buildTables(plan: readonly JobPlan[], rows: readonly ResultRow[]): WideTable[] {
  const metricSpecs = new Map<string, MetricSpec>();
  const tasksOf = new Map<string, string[]>();
  const rowLabels: string[] = [];
  const labelOf = (j: { variant: string; budget: string }): string => (j.budget ? `${j.variant} [${j.budget}]` : j.variant);
  const sortedPlan = [...plan].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2] || a.order[3] - b.order[3]);
  for (const j of sortedPlan) {
    if (!rowLabels.includes(labelOf(j))) rowLabels.push(labelOf(j));
    for (const [m, spec] of Object.entries(j.metrics)) {
      if (spec.headline === false) continue;
      if (!metricSpecs.has(m)) metricSpecs.set(m, spec);
      const ts = tasksOf.get(m) ?? [];
      if (!ts.includes(j.task)) ts.push(j.task);
      tasksOf.set(m, ts);
    }
  }
  const expected = new Map<string, number>(); // seeds planned per (row, task)
  for (const j of plan) expected.set(`${labelOf(j)}\u0000${j.task}`, (expected.get(`${labelOf(j)}\u0000${j.task}`) ?? 0) + 1);
  const tables: WideTable[] = [];
  for (const [metric, spec] of metricSpecs) {
    const columns = tasksOf.get(metric) ?? [];
    const hasAverage = columns.length >= 2;
    const out = rowLabels
      .map((label) => {
        const errors: Array<number | null> = [];
        const cells = columns.map((task) => {
          const ok = rows.filter((r) => r.metric === metric && r.task === task && labelOf(r) === label && r.status === 'ok' && r.value !== null);
          const want = expected.get(`${label}\u0000${task}`) ?? 0;
          const full = want > 0 && ok.length === want;
          errors.push(full ? meanError(ok.map((r) => r.stderr)) : null);
          return full ? ok.reduce((s, r) => s + (r.value as number), 0) / ok.length : null;
        });
        const planned = columns.some((task) => (expected.get(`${label}\u0000${task}`) ?? 0) > 0);
        if (hasAverage) {
          const whole = cells.every((c) => c !== null);
          errors.push(whole ? meanError(errors) : null);
          cells.push(whole ? (cells as number[]).reduce((s, x) => s + x, 0) / cells.length : null);
        }
        return planned ? { label, cells, errors } : undefined;
      })
      .filter((r): r is WideTable['rows'][number] => r !== undefined);
    tables.push({ metric, higherIsBetter: spec.higherIsBetter, columns: hasAverage ? [...columns, 'average'] : columns, rows: out, hasAverage });
  }
  return tables;
}

/** Standard error of a mean of independent estimates with standard errors `ses`: √(Σ seᵢ²) / k; null when any is missing. */
function meanError(ses: ReadonlyArray<number | null>): number | null {
  if (ses.length === 0 || ses.some((x) => x === null || !Number.isFinite(x))) return null;
  return Math.sqrt((ses as number[]).reduce((s, x) => s + x * x, 0)) / ses.length;
}

/** File name of a metric's wide table. */
export function tableFileName(metric: string): string {
  return `table_${metric.replace(/[^A-Za-z0-9_.-]/g, '_')}.csv`;
}

/** Writes results.csv and the wide tables (atomically), removing stale table files; returns the paths written. */
export function writeResultFiles(dir: string, plan: readonly JobPlan[], rows: readonly ResultRow[]): { results: string; tables: string[]; wide: WideTable[] } {
  const results = join(dir, FILES.results);
  writeFileAtomic(results, resultsCsv(rows));
  const wide = buildTables(plan, rows);
  const names = wide.map((t) => tableFileName(t.metric));
  for (const f of readdirSync(dir)) if (/^table_.*\.csv$/.test(f) && !names.includes(f)) rmSync(join(dir, f), { force: true });
  const tables = wide.map((t) => {
    const path = join(dir, tableFileName(t.metric));
    const head = ['variant', ...t.columns.flatMap((c) => [c, `${c}_stderr`])];
    writeFileAtomic(path, stringify([head, ...t.rows.map((r) => [r.label, ...r.cells.flatMap((c, i) => [cell(c), cell(r.errors[i])])])]));
    return path;
  });
  return { results, tables, wide };
}

/** The wide tables as aligned text for the terminal: each cell `value ± stderr`, rounded to what the stderr supports. */
export function renderTables(tables: readonly WideTable[]): string {
  const blocks: string[] = [];
  for (const t of tables) {
    const head = ['variant', ...t.columns];
    const body = t.rows.map((r) => [r.label, ...r.cells.map((c, i) => withError(c, r.errors[i]))]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    blocks.push(
      [`${t.metric} (${t.higherIsBetter ? 'higher' : 'lower'} is better)`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n'),
    );
  }
  return blocks.join('\n\n');
}

/** Reads sweep.json of a results folder. */
export function readPlan(dir: string): SweepPlanFile {
  const path = join(dir, FILES.plan);
  if (!existsSync(path)) throw new ResultsError(`${dir} is not a sweep results folder: ${FILES.plan} is missing`);
  return JSON.parse(readFileSync(path, 'utf8')) as SweepPlanFile;
}

/** Per-document scores of each job key, each list in document order. */
export function readDocs(dir: string): Map<string, DocScores[]> {
  const byKey = new Map<string, DocRecord[]>();
  for (const d of readJsonl<DocRecord>(join(dir, FILES.docs)).items) {
    const list = byKey.get(d.key) ?? [];
    list.push(d);
    byKey.set(d.key, list);
  }
  const out = new Map<string, DocScores[]>();
  for (const [k, list] of byKey) out.set(k, list.sort((a, b) => a.doc - b.doc).map((d) => d.scores));
  return out;
}

/**
 * Recomputes every ok job's metrics from docs.jsonl (no model runs) with the same aggregation
 * code and bootstrap seeds as the sweep, and returns the rows of results.csv. With `write`, also
 * rewrites results.csv and the wide tables.
 */
export function reaggregate(dir: string, opts: { write?: boolean } = {}): ResultRow[] {
  const plan = readPlan(dir);
  const { records } = readJournal(dir);
  const docs = readDocs(dir);
  const recomputed = new Map<string, JobRecord>();
  for (const job of plan.jobs) {
    const rec = records.get(job.key);
    if (!rec) continue;
    if (rec.status !== 'ok') {
      recomputed.set(job.key, rec);
      continue;
    }
    const d = docs.get(job.key);
    if (!d || d.length !== rec.n) {
      throw new ResultsError(`${dir}: ${FILES.docs} has ${d?.length ?? 0} documents for job ${job.key} (${job.variant} × ${job.task}, seed ${job.seed}); the journal says ${rec.n}`);
    }
    recomputed.set(job.key, { ...rec, values: aggregateScores(job.metrics, d, { seed: job.seed, bootstrapIters: job.bootstrapIters }) });
  }
  const rows = buildRows(plan.jobs, recomputed);
  if (opts.write) writeResultFiles(dir, plan.jobs, rows);
  return rows;
}
