/**
 * `writeReport(resultsDir)`: one self-contained report.html for a sweep's results folder — the
 * Table 1-shaped perplexity table, the Table 3-shaped downstream table, the other metrics, the
 * figures of REPORT_FIGURES drawn to inline SVG (vega-lite → vega, at report time), failed jobs,
 * and the configuration the sweep came from. No script runs in the page and nothing is fetched:
 * the file opens offline.
 */
import { basename, join, resolve } from 'node:path';
import { readSweepConfigFile } from '../config.ts';
import { writeFileAtomic } from '@bam/utils';
import { REPORT_FIGURES, type ReportFigure } from './figures.ts';
import { SWEEP_CONFIG_FILE, planJobsOf, readResultsFolder, type ResultsFolder } from './load.ts';
import type { EntropyPoint, JobCounts, ReportComparison, ReportModel, RoutingCell } from './model.ts';
import { compareResults, type CompareRow, type CompareTable } from '../compare/compare.ts';
import { formatP, roundToError, stars } from '../compare/format.ts';
import { chartLibraryVersions, renderSvg } from './render.ts';
import { parseEntropyRatioMetric, parseRoutingMetric } from './routing.ts';
import {
  DOWNSTREAM_METRICS,
  RowIndex,
  downstreamTable,
  failedJobs,
  otherMetricTables,
  perplexityTable,
  rowKeys,
  rowLabel,
  taskDomain,
  type Domain,
  type ReportTable,
  type TableCell,
} from './tables.ts';
import { findTrainingLogs } from './training.ts';

/** The report's default file name inside the results folder. */
export const REPORT_FILE = 'report.html';

/** Options of buildReport / writeReport. */
export interface ReportOptions {
  /** Where to write the HTML (default: `<resultsDir>/report.html`). */
  out?: string;
  /**
   * The sweep config as written (JSON value). writeReport also saves it as sweep-config.json in
   * the results folder, so a later `bam report DIR` shows it too.
   */
  config?: unknown;
  /** A sweep config file to show (instead of `config` / the saved sweep-config.json). */
  configPath?: string;
  /** The sweep's artifacts folder: also searched for training logs (after the results folder). */
  artifactsDir?: string;
  /** The perplexity metric of Table 1 (default: the first of token_, word_, byte_perplexity present). */
  perplexityMetric?: string;
  /** Domain of a task label, where its name does not say (see `taskDomain`). */
  domains?: Readonly<Record<string, Domain>>;
  /** The time printed as "generated at" (default: now). */
  now?: Date;
}

function routingCells(folder: ResultsFolder): RoutingCell[] {
  const index = new RowIndex(folder);
  const out: RoutingCell[] = [];
  const seen = new Set<string>();
  const keys = rowKeys(folder);
  const labelOf = (variant: string, budget: string): string => keys.find((k) => k.variant === variant && k.budget === budget)?.label ?? variant;
  for (const r of folder.rows) {
    const m = parseRoutingMetric(r.metric);
    if (!m) continue;
    const k = [r.variant, r.budget, r.task, r.metric].join('\u0000');
    if (seen.has(k)) continue;
    seen.add(k);
    const cell = index.cell(r.variant, r.budget, r.task, r.metric);
    if (cell.status !== 'ok' || cell.value === null) continue;
    out.push({ row: labelOf(r.variant, r.budget), variant: r.variant, budget: r.budget, task: r.task, ...m, value: cell.value });
  }
  return out;
}

/** Entropy / ln E per row, router and layer: the mean over the routing tasks whose cell is ok (each a mean over seeds). */
function entropyPoints(folder: ResultsFolder): EntropyPoint[] {
  const index = new RowIndex(folder);
  const sums = new Map<string, EntropyPoint>();
  const seen = new Set<string>();
  for (const k of rowKeys(folder)) {
    for (const r of folder.rows) {
      if (r.variant !== k.variant || r.budget !== k.budget) continue;
      const m = parseEntropyRatioMetric(r.metric);
      const key = [k.label, r.task, r.metric].join('\u0000');
      if (!m || seen.has(key)) continue;
      seen.add(key);
      const cell = index.cell(r.variant, r.budget, r.task, r.metric);
      if (cell.status !== 'ok' || cell.value === null) continue;
      const id = [k.label, m.kind, m.layer].join('\u0000');
      const p = sums.get(id) ?? { row: k.label, kind: m.kind, layer: m.layer, value: 0, tasks: 0 };
      p.value += cell.value;
      p.tasks++;
      sums.set(id, p);
    }
  }
  return [...sums.values()].map((p) => ({ ...p, value: p.value / p.tasks }));
}

/** The paired comparisons of Table 1's metric and of acc against the sweep's baseline; a failure is shown, never thrown. */
function comparison(folder: ResultsFolder, perplexityMetric: string | undefined): ReportComparison {
  const jobs = planJobsOf(folder);
  const dense = distinct(jobs.filter((j) => j.variantId === 'dense').map((j) => j.variant));
  const denseRows = rowKeys(folder).filter((k) => dense.includes(k.variant)).map((k) => k.label);
  const headline = new Set(jobs.flatMap((j) => Object.entries(j.metrics).filter(([, s]) => s.headline !== false).map(([m]) => m)));
  const metrics = [perplexityMetric, 'acc'].filter((m): m is string => m !== undefined && headline.has(m));
  if (metrics.length === 0 || !folder.plan) return { tables: [], denseRows };
  try {
    const tables = compareResults(folder.dir, { metrics }).filter((t) => t.rows.length > 0);
    return { baseline: tables[0]?.baseline, tables, denseRows };
  } catch (err) {
    return { tables: [], denseRows, error: (err as Error).message };
  }
}

function jobCounts(folder: ResultsFolder): JobCounts {
  const planned = new Set(planJobsOf(folder).map((j) => j.key));
  const status = new Map<string, string>();
  for (const r of folder.rows) status.set(r.config_hash, r.status);
  if (planned.size === 0) for (const k of status.keys()) planned.add(k);
  let ok = 0;
  let failed = 0;
  for (const k of planned) {
    if (status.get(k) === 'ok') ok++;
    else if (status.get(k) === 'failed') failed++;
  }
  return { planned: planned.size, ok, failed, pending: planned.size - ok - failed };
}

const distinct = (xs: readonly string[]): string[] => [...new Set(xs.filter((x) => x !== ''))];

/** Reads a results folder into the report model (no HTML, no files written). */
export function buildReport(resultsDir: string, opts: ReportOptions = {}): ReportModel {
  const dir = resolve(resultsDir);
  const given = opts.configPath !== undefined ? { config: readSweepConfigFile(resolve(opts.configPath)), configSource: resolve(opts.configPath) } : opts.config !== undefined ? { config: opts.config, configSource: 'the sweep that wrote this folder' } : {};
  const folder = readResultsFolder(dir, given);
  const perplexity = perplexityTable(folder, { metric: opts.perplexityMetric, domains: opts.domains });
  const downstream = downstreamTable(folder);
  const shown = [...(perplexity ? [perplexity.columns[0].metric] : []), ...(downstream ? DOWNSTREAM_METRICS : [])];
  const configName = (folder.config as { name?: unknown } | undefined)?.name;
  return {
    dir,
    name: folder.plan?.name ?? (typeof configName === 'string' ? configName : basename(dir)),
    generatedAt: (opts.now ?? new Date()).toISOString(),
    folder,
    perplexity,
    downstream,
    others: otherMetricTables(folder, shown),
    routing: routingCells(folder),
    entropy: entropyPoints(folder),
    comparison: comparison(folder, perplexity?.columns[0].metric),
    training: findTrainingLogs([dir, ...(opts.artifactsDir ? [resolve(opts.artifactsDir)] : [])]),
    failed: failedJobs(folder),
    jobs: jobCounts(folder),
    packageVersions: distinct(folder.rows.map((r) => r.package_version)),
    backends: distinct(folder.rows.map((r) => r.backend)),
    libraries: chartLibraryVersions(),
  };
}

// ---------------------------------------------------------------------------------------------
// HTML

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** JSON that is safe inside a <script> element (no `</script>`, no HTML comment openers). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/** Numbers from this size on are shown as mantissa × 10^k (an untrained model's word perplexity runs to 1e30). */
const EXPONENT_FROM = 1e6;

/** `roundToError(x, err)`, as `<mantissa>e<k>` (both scaled by 10^k) from EXPONENT_FROM on. */
function rounded(x: number, err: number | null): string {
  if (!Number.isFinite(x) || Math.abs(x) < EXPONENT_FROM) return roundToError(x, err);
  const k = Math.floor(Math.log10(Math.abs(x)));
  return `${roundToError(x / 10 ** k, err === null ? null : err / 10 ** k)}e${k}`;
}

/**
 * The number as shown in a table cell, rounded to what its standard error supports (compare's
 * `roundToError`: the error keeps two significant digits, the value stops at the same decimal);
 * without an error, four significant digits. `percent` shows fractions as percentages.
 */
export function formatValue(v: number, percent = false, stderr: number | null = null): string {
  const k = percent ? 100 : 1;
  return rounded(v * k, stderr === null ? null : stderr * k);
}

/** A standard error as shown beside its value: two significant digits (in percentage points with `percent`). */
export function formatStderr(v: number, percent = false): string {
  const k = percent ? 100 : 1;
  return rounded(v * k, v * k);
}

function cellHtml(c: TableCell, percent: boolean): string {
  if (c.status === 'ok' && c.value !== null) {
    const se = c.stderr !== null ? `<span class="se">±${escapeHtml(formatStderr(c.stderr, percent))}</span>` : '';
    const title = `mean of ${c.seeds} seed${c.seeds === 1 ? '' : 's'}: ${c.value}${c.stderr !== null ? ` ± ${c.stderr}` : ''}`;
    return `<td class="ok${c.best ? ' best' : ''}" data-status="ok" data-value="${c.value}" data-stderr="${c.stderr ?? ''}" title="${escapeHtml(title)}">${escapeHtml(formatValue(c.value, percent, c.stderr))}${se}</td>`;
  }
  if (c.status === 'failed') return `<td class="failed" data-status="failed" title="${escapeHtml(c.error ?? '')}">failed</td>`;
  if (c.status === 'pending') {
    return `<td class="pending" data-status="pending" title="${c.seeds} of ${c.planned} seeds done">pending${c.planned > 1 ? ` (${c.seeds}/${c.planned})` : ''}</td>`;
  }
  return '<td class="missing" data-status="missing" title="not part of this sweep">—</td>';
}

/** A compare label (`bam-full [data-matched]`) as the report's row label (`bam-full DM`). */
function compareRowLabel(label: string): string {
  const m = /^(.*) \[(.+)\]$/.exec(label);
  return m ? rowLabel(m[1], m[2]) : label;
}

/**
 * One paired table per compared metric: a row per variant row, a column per task (its domain for
 * perplexity tasks) and the average; a cell is Δ% [95% CI] rounded to the CI, with the Holm
 * significance mark, coloured by direction when significant.
 */
function comparisonTableHtml(t: CompareTable): string {
  const tasks = [...new Set(t.rows.map((r) => r.task))];
  const rows = [...new Set(t.rows.map((r) => r.variant))];
  const header = (task: string): string => {
    if (task === 'average') return 'average';
    const d = taskDomain(task);
    return t.metric.includes('perplexity') && d ? (d === 'ood' ? 'out-of-domain' : d) : task;
  };
  const cell = (r: CompareRow | undefined): string => {
    if (!r || r.rel_delta === null) return '<td class="missing">—</td>';
    const relSe = r.rel_ci_low !== null && r.rel_ci_high !== null ? (r.rel_ci_high - r.rel_ci_low) / 3.92 : null;
    const sign = (x: number): string => `${x > 0 ? '+' : ''}${roundToError(x, relSe)}`;
    const ci = r.rel_ci_low !== null && r.rel_ci_high !== null ? `<span class="ci">[${roundToError(r.rel_ci_low, relSe)}, ${roundToError(r.rel_ci_high, relSe)}]</span>` : '';
    const mark = stars(r.p_holm);
    const verdict = mark === '' ? 'ns' : (r.delta > 0) === t.higherIsBetter ? 'better' : 'worse';
    const title = `${r.variant}: ${r.value} vs ${r.baseline_value} (Δ ${r.delta}); p ${formatP(r.p_value)}, Holm ${formatP(r.p_holm)}; ${r.n_docs} documents × ${r.n_seeds} seed(s), ${r.test}`;
    return `<td class="delta ${verdict}" data-rel-delta="${r.rel_delta}" data-rel-ci-low="${r.rel_ci_low ?? ''}" data-rel-ci-high="${r.rel_ci_high ?? ''}" data-p-holm="${r.p_holm ?? ''}" title="${escapeHtml(title)}">${escapeHtml(sign(r.rel_delta))}%${mark ? `<sup>${mark}</sup>` : ''}${ci}</td>`;
  };
  const first = t.rows[0];
  const note =
    `Δ% = (variant − ${compareRowLabel(t.baseline)}) / ${compareRowLabel(t.baseline)} of ${t.metric} (${t.higherIsBetter ? 'higher' : 'lower'} is better), with its 95% CI from a paired bootstrap over documents` +
    `${first && first.n_seeds > 1 ? ` and seeds (hierarchical, ${first.n_seeds} seeds)` : ''}, ${first?.iters ?? 0} resamples; * p<0.05, ** p<0.01, *** p<0.001 after Holm's correction across the variants of each column. Green: significantly better, red: significantly worse. All digits: compare_${t.metric}.csv.`;
  return [
    `<section class="table-section"><h3>Paired differences — ${escapeHtml(t.metric.replace(/_/g, ' '))}</h3><p class="note">${escapeHtml(note)}</p>`,
    `<table class="report-table compare-table" id="compare-${escapeHtml(t.metric)}" data-metric="${escapeHtml(t.metric)}" data-baseline="${escapeHtml(t.baseline)}">`,
    `<thead><tr><th>variant</th>${tasks.map((task) => `<th data-task="${escapeHtml(task)}">${escapeHtml(header(task))}</th>`).join('')}</tr></thead>`,
    `<tbody>${rows.map((v) => `<tr data-row="${escapeHtml(compareRowLabel(v))}"><th scope="row">${escapeHtml(compareRowLabel(v))}</th>${tasks.map((task) => cell(t.rows.find((r) => r.variant === v && r.task === task))).join('')}</tr>`).join('\n')}</tbody>`,
    '</table></section>',
  ].join('\n');
}

function baselineHtml(model: ReportModel, figures: readonly string[]): string {
  const c = model.comparison;
  const intro = c.baseline
    ? `<p class="note">Each variant row against <strong>${escapeHtml(compareRowLabel(c.baseline))}</strong> (the sweep config's <code>compare.baseline</code>; a budgeted row against the baseline row of the same budget), on the same documents.</p>`
    : `<p class="note">${escapeHtml(c.error ? `No comparison: ${c.error}` : 'No paired comparison in this sweep.')}</p>`;
  return `${intro}\n${figures.join('\n')}\n${c.tables.map(comparisonTableHtml).join('\n')}`;
}

function tableHtml(t: ReportTable): string {
  const head = t.columns
    .map((c) => {
      const attrs = [`data-metric="${escapeHtml(c.metric)}"`, c.task ? `data-task="${escapeHtml(c.task)}"` : '', c.domain ? `data-domain="${c.domain}"` : '', c.averageOf ? 'data-average="true"' : '']
        .filter((a) => a !== '')
        .join(' ');
      const title = c.task && c.task !== c.header ? ` title="task ${escapeHtml(c.task)}"` : '';
      return `<th ${attrs}${title}>${escapeHtml(c.header)}${c.subheader ? `<br><span class="sub">${escapeHtml(c.subheader)}</span>` : ''}</th>`;
    })
    .join('');
  const body = t.rows
    .map((r) => `<tr data-row="${escapeHtml(r.label)}"><th scope="row">${escapeHtml(r.label)}</th>${r.cells.map((c) => cellHtml(c, t.percent)).join('')}</tr>`)
    .join('\n');
  return [
    `<section class="table-section"><h3>${escapeHtml(t.title)}</h3><p class="note">${escapeHtml(t.note)}</p>`,
    `<table class="report-table" id="table-${escapeHtml(t.id)}"><thead><tr><th>variant</th>${head}</tr></thead><tbody>\n${body}\n</tbody></table></section>`,
  ].join('\n');
}

async function figureHtml(fig: ReportFigure, model: ReportModel): Promise<string> {
  const built = fig.build(model);
  const head = `<figure class="report-figure" id="figure-${fig.id}" data-figure="${fig.id}"><figcaption><strong>${escapeHtml(fig.title)}</strong> — ${escapeHtml(fig.caption)}</figcaption>`;
  if ('empty' in built) return `${head}<p class="figure-empty">${escapeHtml(built.empty)}</p></figure>`;
  const svg = await renderSvg(built.spec);
  return `${head}<div class="chart">${svg}</div><script type="application/json" class="figure-spec" data-figure="${fig.id}">${scriptJson(built.spec)}</script></figure>`;
}

function configHtml(model: ReportModel): string {
  const { folder } = model;
  const parts: string[] = [];
  parts.push(
    '<dl class="facts">',
    `<dt>results folder</dt><dd><code>${escapeHtml(model.dir)}</code></dd>`,
    `<dt>jobs</dt><dd>${model.jobs.planned} planned · ${model.jobs.ok} ok · ${model.jobs.failed} failed · ${model.jobs.pending} pending</dd>`,
    `<dt>@bam/eval version</dt><dd>${escapeHtml(model.packageVersions.join(', ') || 'unknown (no finished job)')}</dd>`,
    `<dt>backends</dt><dd>${escapeHtml(model.backends.join(', ') || 'unknown (no finished job)')}</dd>`,
    `<dt>charts</dt><dd>vega ${escapeHtml(model.libraries.vega)}, vega-lite ${escapeHtml(model.libraries['vega-lite'])} (drawn to SVG when the report was written)</dd>`,
    `<dt>generated</dt><dd>${escapeHtml(model.generatedAt)}</dd>`,
    '</dl>',
  );
  const jobs = planJobsOf(folder);
  if (jobs.length > 0) {
    const tasks = new Map<string, string>();
    for (const j of jobs) tasks.set(j.task, `${j.taskId} v${j.taskVersion}: ${Object.keys(j.metrics).filter((m) => !parseRoutingMetric(m)).join(', ') || 'routing metrics'}`);
    const variants = new Map<string, string>();
    for (const j of jobs) variants.set(j.variant, j.variantId);
    parts.push(
      '<h3>Plan (sweep.json)</h3><dl class="facts">',
      `<dt>seeds</dt><dd>${escapeHtml(distinct(jobs.map((j) => String(j.seed))).join(', '))}</dd>`,
      `<dt>budgets</dt><dd>${escapeHtml(distinct(jobs.map((j) => j.budget)).join(', ') || 'none')}</dd>`,
      `<dt>variants</dt><dd>${[...variants].map(([l, id]) => `${escapeHtml(l)}${l !== id ? ` (${escapeHtml(id)})` : ''}`).join(', ')}</dd>`,
      `<dt>tasks</dt><dd><ul>${[...tasks].map(([l, d]) => `<li>${escapeHtml(l)} — ${escapeHtml(d)}</li>`).join('')}</ul></dd>`,
      '</dl>',
    );
  }
  parts.push('<h3>Sweep config</h3>');
  if (folder.config !== undefined) {
    parts.push(`<p class="note">From ${escapeHtml(folder.configSource)}.</p><pre class="config" id="sweep-config">${escapeHtml(JSON.stringify(folder.config, null, 2))}</pre>`);
  } else {
    parts.push(`<p class="note" id="sweep-config-missing">This folder holds no copy of the sweep config (${SWEEP_CONFIG_FILE}); pass <code>--config FILE</code> to <code>bam report</code> to show it.</p>`);
  }
  return parts.join('\n');
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1d1d1f;line-height:1.4}
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}h3{margin:20px 0 4px}
.note{color:#555;font-size:.9em;margin:2px 0 8px}
table.report-table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.92em;margin-bottom:8px}
.report-table th,.report-table td{border:1px solid #d5d5d8;padding:4px 7px;text-align:right;white-space:nowrap}
.report-table thead th{background:#f0f0f3;text-align:center;white-space:normal;overflow-wrap:anywhere;min-width:4.5em}
#table-downstream td .se,.compare-table td .ci{display:block}.report-table tbody th{text-align:left;background:#fafafa;font-weight:600}
.report-table th[data-average]{background:#e6ecf5}.report-table .sub{font-weight:400;color:#555;font-size:.85em}
td.best{font-weight:700}td .se,td .ci{color:#777;font-size:.8em;margin-left:3px}
td.delta.better{background:#e3f3e6}td.delta.worse{background:#fbe4e1}td.delta sup{font-size:.7em}
td.failed{background:#fde2e1;color:#a0201a;font-weight:600;text-align:center}td.pending{background:#fff6d6;color:#7a5c00;text-align:center}td.missing{color:#aaa;text-align:center}
figure.report-figure{margin:16px 0 28px;padding:12px;border:1px solid #e3e3e6;border-radius:6px;overflow-x:auto}
figure figcaption{font-size:.92em;color:#333;margin-bottom:8px}.figure-empty{color:#777;font-style:italic}
pre.config{background:#f6f6f8;border:1px solid #e3e3e6;padding:10px;overflow-x:auto;font-size:.85em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:.92em}dl.facts dt{font-weight:600}dl.facts dd{margin:0}dl.facts ul{margin:0;padding-left:18px}
table.failures{border-collapse:collapse;font-size:.88em}table.failures td,table.failures th{border:1px solid #e3c4c2;padding:3px 8px;text-align:left;vertical-align:top}table.failures td.error{white-space:pre-wrap;max-width:700px;color:#a0201a}
`;

/** The report page for a model: tables, figures drawn to inline SVG, failures and configuration. */
export async function renderReportHtml(model: ReportModel): Promise<string> {
  const figures: string[] = [];
  const baselineFigures: string[] = [];
  for (const fig of REPORT_FIGURES) (fig.section === 'baseline' ? baselineFigures : figures).push(await figureHtml(fig, model));
  const tables = [model.perplexity, model.downstream].filter((t): t is ReportTable => t !== undefined);
  const failures =
    model.failed.length === 0
      ? '<p class="note">No job failed.</p>'
      : `<table class="failures" id="failed-jobs"><thead><tr><th>variant</th><th>task</th><th>seed</th><th>error</th></tr></thead><tbody>${model.failed
          .map((f) => `<tr><td>${escapeHtml(f.label)}</td><td>${escapeHtml(f.task)}</td><td>${f.seed}</td><td class="error">${escapeHtml(f.error || '(no message)')}</td></tr>`)
          .join('')}</tbody></table>`;
  const badLogs = model.training.logs.filter((l) => l.badLines > 0);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bam report — ${escapeHtml(model.name)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>bam report — ${escapeHtml(model.name)}</h1>
<p class="note">${model.jobs.planned} jobs planned: ${model.jobs.ok} ok, ${model.jobs.failed} failed, ${model.jobs.pending} pending · generated ${escapeHtml(model.generatedAt)}</p></header>
<section id="tables"><h2>Tables</h2>
${tables.length > 0 ? tables.map(tableHtml).join('\n') : '<p class="note">No perplexity or downstream rows in this sweep.</p>'}
</section>
<section id="against-baseline"><h2>Against the baseline</h2>
${baselineHtml(model, baselineFigures)}
</section>
<section id="figures"><h2>Figures</h2>
${figures.join('\n')}
${badLogs.map((l) => `<p class="note">${escapeHtml(l.path)}: ${l.badLines} line(s) were not JSON and were skipped.</p>`).join('\n')}
</section>
${model.others.length > 0 ? `<section id="other-metrics"><h2>Other metrics</h2>\n${model.others.map(tableHtml).join('\n')}\n</section>` : ''}
<section id="failures"><h2>Failed jobs</h2>
${failures}
</section>
<section id="configuration"><h2>Configuration</h2>
${configHtml(model)}
</section>
</body>
</html>
`;
}

/**
 * Writes the report of the sweep in `resultsDir` and returns its absolute path (default
 * `<resultsDir>/report.html`). With `opts.config`, also saves the config as sweep-config.json in
 * the folder. Throws ResultsError when the folder is not a sweep's results folder.
 */
export async function writeReport(resultsDir: string, opts: ReportOptions = {}): Promise<string> {
  const dir = resolve(resultsDir);
  const model = buildReport(dir, opts);
  const html = await renderReportHtml(model);
  if (opts.config !== undefined && opts.configPath === undefined) writeFileAtomic(join(dir, SWEEP_CONFIG_FILE), `${JSON.stringify(opts.config, null, 2)}\n`);
  const out = resolve(opts.out ?? join(dir, REPORT_FILE));
  writeFileAtomic(out, html);
  return out;
}
