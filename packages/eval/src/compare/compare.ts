/**
 * Comparisons against a baseline from a sweep's results folder: for every headline metric, every
 * task (and the average over tasks) and every other variant row, the paired statistics of
 * `comparePaired` computed from docs.jsonl, Holm-adjusted across the variants of each (metric,
 * task). Written as compare_<metric>.csv by the sweep and printed by `bam compare`. Everything is
 * seeded by names only, so re-running on the same folder reproduces every number.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { configHash, fnv1a32, writeFileAtomic } from '@bam/utils';
import { ResultsError } from '../errors.ts';
import type { MetricItem, MetricSpec } from '../api/task.ts';
import { SWEEP_CONFIG_FILE } from '../report/load.ts';
import { FILES, readJournal, readJsonl, readPlan, type DocRecord, type JobPlan } from '../results.ts';
import { formatP, roundToError, stars } from './format.ts';
import { checkIters, comparePaired, holm, type PairedSeed, type PairedTask, type PairedTest } from './stats.ts';

/** One row of compare_<metric>.csv. `task` is 'average' for the mean over the metric's tasks. */
export interface CompareRow {
  variant: string;
  baseline: string;
  task: string;
  metric: string;
  value: number;
  baseline_value: number;
  delta: number;
  /** Percent of the baseline value (null when that is 0). */
  rel_delta: number | null;
  ci_low: number | null;
  ci_high: number | null;
  rel_ci_low: number | null;
  rel_ci_high: number | null;
  p_value: number | null;
  /** Holm-adjusted across the variants compared on this (metric, task). */
  p_holm: number | null;
  test: PairedTest;
  n_docs: number;
  n_seeds: number;
  iters: number;
  /** Hash of the job config hashes of both sides, the resample count and the method. */
  config_hash: string;
}

/** Columns of compare_<metric>.csv, in order. */
export const COMPARE_COLUMNS: ReadonlyArray<keyof CompareRow> = [
  'variant', 'baseline', 'task', 'metric', 'value', 'baseline_value', 'delta', 'rel_delta', 'ci_low', 'ci_high',
  'rel_ci_low', 'rel_ci_high', 'p_value', 'p_holm', 'test', 'n_docs', 'n_seeds', 'iters', 'config_hash',
];

/** The comparison table of one metric. */
export interface CompareTable {
  metric: string;
  higherIsBetter: boolean;
  baseline: string;
  rows: CompareRow[];
}

/** Options of compareResults. */
export interface CompareOptions {
  /**
   * A variant label ("btx") or row label ("btx [data-matched]"); default: compare.baseline of the
   * sweep config saved in the folder (sweep-config.json), else defaultBaseline.
   */
  baseline?: string;
  /** Only these metrics (default: every headline metric). */
  metrics?: readonly string[];
  /** Resamples (default: the sweep's bootstrapIters). */
  iters?: number;
}

/** The part of the sweep config that writeComparisons reads. */
export interface CompareConfig {
  compare?: { baseline?: string };
  bootstrapIters: number;
}

/** One row of the wide tables: a variant label and budget, with its jobs. */
interface RowGroup {
  label: string;
  variant: string;
  variantId: string;
  budget: string;
  jobs: JobPlan[];
}

function rowLabel(j: { variant: string; budget: string }): string {
  return j.budget ? `${j.variant} [${j.budget}]` : j.variant;
}

function groupRows(plan: readonly JobPlan[]): RowGroup[] {
  const sorted = [...plan].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2] || a.order[3] - b.order[3]);
  const groups = new Map<string, RowGroup>();
  for (const j of sorted) {
    const label = rowLabel(j);
    const g = groups.get(label) ?? { label, variant: j.variant, variantId: j.variantId, budget: j.budget, jobs: [] };
    g.jobs.push(j);
    groups.set(label, g);
  }
  return [...groups.values()];
}

/**
 * The default baseline of a plan: the first variant (in config order) that is a mixture, known as
 * any variant whose plugin id is not `dense` — bam's one non-mixture built-in; eval cannot ask
 * @bam/core, and the plan records plugin ids — else the first variant. Undefined for no variants.
 */
export function defaultBaseline(plan: readonly JobPlan[]): string | undefined {
  const rows = groupRows(plan);
  return (rows.find((r) => r.variantId !== 'dense') ?? rows[0])?.variant;
}

/** compare.baseline of the sweep config saved in the results folder (sweep-config.json), if any. */
function savedBaseline(dir: string): string | undefined {
  const path = join(dir, SWEEP_CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const b = (JSON.parse(readFileSync(path, 'utf8')) as { compare?: { baseline?: unknown } } | null)?.compare?.baseline;
    return typeof b === 'string' && b !== '' ? b : undefined;
  } catch {
    return undefined; // the report owns that file and says when it is broken
  }
}

/** The baseline row each row is compared with: the same budget when the baseline has it, else its first row. */
function baselineFor(row: RowGroup, name: string, rows: readonly RowGroup[]): RowGroup | undefined {
  const exact = rows.find((r) => r.label === name);
  if (exact) return exact;
  const ofVariant = rows.filter((r) => r.variant === name);
  return ofVariant.find((r) => r.budget === row.budget) ?? ofVariant[0];
}

/** Documents of each job key, sorted by index. */
function readDocRecords(dir: string): Map<string, DocRecord[]> {
  const byKey = new Map<string, DocRecord[]>();
  for (const d of readJsonl<DocRecord>(join(dir, FILES.docs)).items) {
    const list = byKey.get(d.key) ?? [];
    list.push(d);
    byKey.set(d.key, list);
  }
  for (const list of byKey.values()) list.sort((a, b) => a.doc - b.doc);
  return byKey;
}

/**
 * Checks that two jobs scored the same documents in the same order (same count, same indices and,
 * when docs.jsonl records them, the same document ids); throws a ResultsError naming the task, the
 * variant and the first differing document otherwise.
 */
export function checkSameDocuments(variantDocs: readonly DocRecord[], baselineDocs: readonly DocRecord[], where: { variant: string; baseline: string; task: string; seed: number }): void {
  const n = Math.max(variantDocs.length, baselineDocs.length);
  for (let i = 0; i < n; i++) {
    const v = variantDocs[i];
    const b = baselineDocs[i];
    const differs = !v || !b || v.doc !== b.doc || (v.id !== undefined && b.id !== undefined && v.id !== b.id);
    if (!differs) continue;
    const what = !v
      ? `the variant has ${variantDocs.length} documents, the baseline ${baselineDocs.length}`
      : !b
        ? `the baseline has ${baselineDocs.length} documents, the variant ${variantDocs.length}`
        : v.doc !== b.doc
          ? `document indices ${v.doc} (variant) and ${b.doc} (baseline)`
          : `document ids ${JSON.stringify(v.id)} (variant) and ${JSON.stringify(b.id)} (baseline)`;
    throw new ResultsError(
      `cannot pair variant '${where.variant}' with baseline '${where.baseline}' on task '${where.task}' (seed ${where.seed}): the documents differ from document ${i} on (${what})`,
      'a paired comparison needs both models scored on the same documents in the same order: give both the same task options and limit, and rerun the job that differs',
    );
  }
}

/** Paired items of one metric: documents where both models have a value. */
function pairItems(metric: string, v: readonly DocRecord[], b: readonly DocRecord[]): { variant: MetricItem[]; baseline: MetricItem[] } {
  const variant: MetricItem[] = [];
  const baseline: MetricItem[] = [];
  for (let i = 0; i < v.length; i++) {
    const x = v[i].scores[metric] ?? null;
    const y = b[i].scores[metric] ?? null;
    if (x === null || y === null) continue;
    variant.push(x);
    baseline.push(y);
  }
  return { variant, baseline };
}

/**
 * Every comparison of a results folder against its baseline, one table per headline metric (in
 * plan order). Uses the ok jobs of seeds that both sides finished; a variant with no such seed on
 * a task has no row there, and the average row needs every task with the same seeds.
 */
export function compareResults(dir: string, opts: CompareOptions = {}): CompareTable[] {
  const plan = readPlan(dir).jobs;
  const rows = groupRows(plan);
  const name = opts.baseline ?? savedBaseline(dir) ?? defaultBaseline(plan);
  if (name === undefined) return [];
  if (!rows.some((r) => r.label === name || r.variant === name)) {
    throw new ResultsError(`baseline '${name}' is not a variant of this sweep; variants: ${[...new Set(rows.map((r) => r.variant))].join(', ')}`, 'name one of them (compare.baseline in the sweep config, or --baseline)');
  }
  const iters = opts.iters ?? plan[0]?.bootstrapIters ?? 0;
  checkIters(iters, 'compare iterations');
  const { records } = readJournal(dir);
  const docs = readDocRecords(dir);

  const specs = new Map<string, MetricSpec>();
  for (const j of plan) for (const [m, s] of Object.entries(j.metrics)) if (s.headline !== false && !specs.has(m)) specs.set(m, s);
  if (opts.metrics) {
    const unknown = opts.metrics.filter((m) => !specs.has(m));
    if (unknown.length > 0) throw new ResultsError(`no headline metric ${unknown.map((m) => `'${m}'`).join(', ')} in this sweep; metrics: ${[...specs.keys()].join(', ')}`);
  }

  const okDocs = (j: JobPlan): DocRecord[] | undefined => {
    if (records.get(j.key)?.status !== 'ok') return undefined;
    const d = docs.get(j.key);
    if (!d || d.length === 0) throw new ResultsError(`${dir}: ${FILES.docs} has no documents for the ok job ${j.key} (${rowLabel(j)} × ${j.task}, seed ${j.seed})`, 'rerun the sweep with --resume');
    return d;
  };

  const tables: CompareTable[] = [];
  for (const [metric, spec] of specs) {
    if (opts.metrics && !opts.metrics.includes(metric)) continue;
    const tasks = [...new Set(plan.filter((j) => metric in j.metrics).sort((a, b) => a.order[2] - b.order[2]).map((j) => j.task))];
    const out: CompareRow[] = [];
    for (const row of rows) {
      const base = baselineFor(row, name, rows);
      if (!base || base.label === row.label) continue;
      const perTask: Array<{ paired: PairedTask; keys: string[] }> = [];
      for (const task of tasks) {
        const seeds: PairedSeed[] = [];
        const keys: string[] = [];
        for (const vj of row.jobs.filter((j) => j.task === task)) {
          const bj = base.jobs.find((j) => j.task === task && j.seed === vj.seed);
          if (!bj) continue;
          const vd = okDocs(vj);
          const bd = okDocs(bj);
          if (!vd || !bd) continue;
          checkSameDocuments(vd, bd, { variant: row.label, baseline: base.label, task, seed: vj.seed });
          const items = pairItems(metric, vd, bd);
          if (items.variant.length === 0) continue;
          seeds.push({ seed: vj.seed, ...items });
          keys.push(vj.key, bj.key);
        }
        if (seeds.length > 0) perTask.push({ paired: { task, aggregation: spec.aggregation, seeds }, keys });
      }
      const emit = (task: string, group: typeof perTask): void => {
        const c = comparePaired(group.map((g) => g.paired), { iters, seed: fnv1a32(`compare:${metric}:${task}:${row.label}:${base.label}`) });
        out.push({
          variant: row.label,
          baseline: base.label,
          task,
          metric,
          value: c.value,
          baseline_value: c.baselineValue,
          delta: c.delta,
          rel_delta: c.relDelta,
          ci_low: c.ciLow,
          ci_high: c.ciHigh,
          rel_ci_low: c.relCiLow,
          rel_ci_high: c.relCiHigh,
          p_value: c.pValue,
          p_holm: null,
          test: c.test,
          n_docs: c.nDocs,
          n_seeds: c.nSeeds,
          iters,
          config_hash: configHash({ jobs: group.flatMap((g) => g.keys), iters, method: 'paired-bootstrap-v1' }),
        });
      };
      for (const g of perTask) emit(g.paired.task, [g]);
      const sameSeeds = perTask.every((g) => g.paired.seeds.map((s) => s.seed).join(',') === perTask[0].paired.seeds.map((s) => s.seed).join(','));
      if (tasks.length >= 2 && perTask.length === tasks.length && sameSeeds) emit('average', perTask);
    }
    // Holm across the variants of each (metric, task).
    for (const task of [...tasks, 'average']) {
      const fam = out.filter((r) => r.task === task);
      holm(fam.map((r) => r.p_value)).forEach((p, i) => (fam[i].p_holm = p));
    }
    const taskOrder = [...tasks, 'average'];
    out.sort((a, b) => taskOrder.indexOf(a.task) - taskOrder.indexOf(b.task));
    tables.push({ metric, higherIsBetter: spec.higherIsBetter, baseline: name, rows: out });
  }
  return tables;
}

/** File name of a metric's comparison table. */
export function compareFileName(metric: string): string {
  return `compare_${metric.replace(/[^A-Za-z0-9_.-]/g, '_')}.csv`;
}

function cell(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/** compare_<metric>.csv text (full precision, empty cells for missing values). */
export function compareCsv(rows: readonly CompareRow[]): string {
  return stringify([[...COMPARE_COLUMNS], ...rows.map((r) => COMPARE_COLUMNS.map((c) => cell(r[c])))]);
}

/**
 * Writes compare_<metric>.csv for every headline metric of the sweep in `outDir` against
 * `config.compare.baseline` (default: defaultBaseline), removing stale ones; returns the paths.
 * Writes nothing when the sweep has a single variant row.
 */
export function writeComparisons(outDir: string, config: CompareConfig): string[] {
  const tables = compareResults(outDir, { baseline: config.compare?.baseline, iters: config.bootstrapIters }).filter((t) => t.rows.length > 0);
  const names = tables.map((t) => compareFileName(t.metric));
  if (existsSync(outDir)) for (const f of readdirSync(outDir)) if (/^compare_.*\.csv$/.test(f) && !names.includes(f)) rmSync(join(outDir, f), { force: true });
  return tables.map((t) => {
    const path = join(outDir, compareFileName(t.metric));
    writeFileAtomic(path, compareCsv(t.rows));
    return path;
  });
}

/** Output formats of renderComparisons. */
export const COMPARE_FORMATS = ['markdown', 'csv', 'json'] as const;
export type CompareFormat = (typeof COMPARE_FORMATS)[number];

/** A signed number ("+1.2", "−0.85") rounded to its error. */
function pct(x: number | null, err?: number | null): string {
  return x === null ? '—' : `${x > 0 ? '+' : ''}${roundToError(x, err ?? null)}`;
}

/**
 * Markdown tables like lm-eval's printed ones: per metric, one row per variant and task with
 * both values, Δ, Δ% and its 95% CI, the raw and Holm p-values and a significance mark (from
 * the Holm p) that says whether the variant is better or worse. Numbers keep the digits the CI supports.
 */
export function renderMarkdown(tables: readonly CompareTable[]): string {
  return tables
    .map((t) => {
      const first = t.rows[0];
      const head = [
        `### ${t.metric}: against ${t.baseline} (${t.higherIsBetter ? 'higher' : 'lower'} is better)`,
        '',
        first
          ? `Paired bootstrap over documents${first.n_seeds > 1 ? ' and seeds (hierarchical)' : ''}, 95% CI, ${first.iters} resamples; p: ${[...new Set(t.rows.map((r) => r.test))].join(' / ')}; Holm across the variants of each task. * p<0.05, ** p<0.01, *** p<0.001 (Holm).`
          : 'No variant to compare.',
        '',
        `| variant | task | value | ${t.baseline} | Δ | Δ% [95% CI] | p | p (Holm) | n docs × seeds | |`,
        '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
      ];
      const body = t.rows.map((r) => {
        const se = r.ci_low !== null && r.ci_high !== null ? (r.ci_high - r.ci_low) / 3.92 : null;
        const relSe = r.rel_ci_low !== null && r.rel_ci_high !== null ? (r.rel_ci_high - r.rel_ci_low) / 3.92 : null;
        const ci = r.rel_ci_low !== null && r.rel_ci_high !== null ? ` [${roundToError(r.rel_ci_low, relSe)}, ${roundToError(r.rel_ci_high, relSe)}]` : '';
        const mark = stars(r.p_holm);
        const better = r.delta === 0 ? '' : (r.delta > 0) === t.higherIsBetter ? 'better' : 'worse';
        return `| ${r.variant} | ${r.task} | ${roundToError(r.value, se)} | ${roundToError(r.baseline_value, se)} | ${pct(r.delta, se)} | ${r.rel_delta === null ? '—' : `${pct(r.rel_delta, relSe)}%${ci}`} | ${formatP(r.p_value)} | ${formatP(r.p_holm)} | ${r.n_docs} × ${r.n_seeds} | ${mark ? `${mark} ${better}` : ''} |`;
      });
      return [...head, ...body].join('\n');
    })
    .join('\n\n');
}

/** The comparison tables as markdown (default), one CSV (all metrics) or JSON. */
export function renderComparisons(tables: readonly CompareTable[], format: CompareFormat = 'markdown'): string {
  if (format === 'json') return JSON.stringify(tables, null, 2);
  if (format === 'csv') return compareCsv(tables.flatMap((t) => t.rows));
  return renderMarkdown(tables);
}
