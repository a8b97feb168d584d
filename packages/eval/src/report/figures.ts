/**
 * The report's figures, each declared once in REPORT_FIGURES: an id, a title, and a builder from
 * the report model to a vega-lite spec (with its data inline) — or to the sentence shown instead
 * when the sweep has no data for it. `render.ts` compiles each spec with vega-lite and draws it
 * to SVG with vega when the report is written, so the HTML needs no script and no network.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReportModel } from './model.ts';
import { rowLabel, taskDomain, type ReportTable } from './tables.ts';

/** What a figure builder returns: a spec and the rows it plots, or why there is nothing to plot. */
export type FigureBuild = { spec: TopLevelSpec; values: Array<Record<string, unknown>> } | { empty: string };

/** One declared figure. */
export interface ReportFigure {
  id: string;
  title: string;
  /** One sentence under the figure. */
  caption: string;
  /** The page section it is drawn in (default `figures`). */
  section?: 'baseline' | 'figures';
  build(model: ReportModel): FigureBuild;
}

const FONT = { font: 'sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12 }, header: { labelFontSize: 12, titleFontSize: 12 } };

/** Bars with ± stderr from a table's ok, non-average cells; `scale` multiplies values (100 for %). */
function barValues(table: ReportTable, scale: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const row of table.rows) {
    table.columns.forEach((col, ci) => {
      const c = row.cells[ci];
      if (col.averageOf || c.status !== 'ok' || c.value === null || !Number.isFinite(c.value)) return;
      const se = c.stderr !== null && Number.isFinite(c.stderr) ? c.stderr : 0;
      out.push({
        variant: row.label,
        group: col.header,
        metric: col.metric,
        value: c.value * scale,
        stderr: se * scale,
        lo: (c.value - se) * scale,
        hi: (c.value + se) * scale,
      });
    });
  }
  return out;
}

/**
 * Grouped bars (x: group, offset and colour: variant) with ± stderr rules; optionally one row per
 * metric. `log`: a log y axis (perplexities span orders of magnitude: a dense model's thousands
 * next to the mixtures' hundreds), the whiskers' lower ends kept above zero.
 */
function groupedBars(table: ReportTable, values: Array<Record<string, unknown>>, yTitle: string, facetByMetric: boolean, log = false): TopLevelSpec {
  if (log) for (const v of values) v.lo = Math.max(v.lo as number, (v.value as number) / 2);
  // A log axis has no zero for the bars to start from: they start at the power of ten below the lowest whisker.
  const floor = log ? 10 ** Math.floor(Math.log10(Math.min(...values.map((v) => v.lo as number)))) : 0;
  const groups = [...new Set(values.map((v) => v.group as string))];
  const variants = table.rows.map((r) => r.label).filter((l) => values.some((v) => v.variant === l));
  const width = Math.min(1000, Math.max(320, groups.length * (variants.length * 16 + 24)));
  const x = { field: 'group', type: 'nominal' as const, sort: groups, title: null, axis: { labelAngle: 0 } };
  const xOffset = { field: 'variant', type: 'nominal' as const, sort: variants };
  const layer = [
    {
      mark: { type: 'bar' as const },
      encoding: {
        x,
        xOffset,
        y: { field: 'value', type: 'quantitative' as const, title: log ? `${yTitle} (log scale)` : yTitle, ...(log ? { scale: { type: 'log' as const, domainMin: floor } } : {}) },
        // On a log axis a bar needs an explicit base: the axis floor.
        ...(log ? { y2: { datum: floor } } : {}),
        color: { field: 'variant', type: 'nominal' as const, sort: variants, title: 'variant', scale: { scheme: 'tableau10' } },
        tooltip: [
          { field: 'variant', type: 'nominal' as const },
          { field: 'group', type: 'nominal' as const, title: 'column' },
          { field: 'value', type: 'quantitative' as const, format: '.4~f' },
          { field: 'stderr', type: 'quantitative' as const, format: '.4~f' },
        ],
      },
    },
    {
      mark: { type: 'rule' as const, color: '#222', strokeWidth: 1.2 },
      encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } },
    },
    {
      mark: { type: 'tick' as const, color: '#222', thickness: 1.2, size: 6, orient: 'horizontal' as const },
      encoding: { x, xOffset, y: { field: 'hi', type: 'quantitative' as const } },
    },
    {
      mark: { type: 'tick' as const, color: '#222', thickness: 1.2, size: 6, orient: 'horizontal' as const },
      encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' as const } },
    },
  ];
  if (facetByMetric) {
    return {
      data: { values },
      facet: { row: { field: 'metric', type: 'nominal', title: null } },
      spec: { width, height: 200, layer },
      resolve: { scale: { y: 'independent' } },
      config: FONT,
    } as TopLevelSpec;
  }
  return { data: { values }, width, height: 260, layer, config: FONT } as TopLevelSpec;
}

/** Every figure of the report, in page order. Tests assert one drawn chart per entry. */
export const REPORT_FIGURES: readonly ReportFigure[] = [
  {
    id: 'forest',
    title: 'Against the baseline',
    section: 'baseline',
    caption:
      'Paired difference to the baseline in % of its value, per mixture and domain, with its 95% CI (paired bootstrap over documents, hierarchical over seeds); left of the dashed zero line is lower perplexity. The dense models are in the table below.',
    build(model) {
      const t = model.comparison.tables[0];
      const label = (compareLabel: string): string => {
        const m = /^(.*) \[(.+)\]$/.exec(compareLabel);
        return m ? rowLabel(m[1], m[2]) : compareLabel;
      };
      const rows = (t?.rows ?? []).filter((r) => r.rel_delta !== null && r.rel_ci_low !== null && r.rel_ci_high !== null && !model.comparison.denseRows.includes(label(r.variant)));
      if (!t || rows.length === 0) return { empty: model.comparison.error ? `no comparison: ${model.comparison.error}` : 'no paired comparison against a baseline in this sweep (a perplexity task and two variant rows)' };
      const panel = (task: string): string => (task === 'average' ? 'average' : (taskDomain(task) === 'ood' ? 'out-of-domain' : taskDomain(task)) ?? task);
      const values = rows.map((r) => ({
        variant: label(r.variant),
        panel: panel(r.task),
        task: r.task,
        delta: r.rel_delta as number,
        lo: r.rel_ci_low as number,
        hi: r.rel_ci_high as number,
        p_holm: r.p_holm,
        verdict: (r.rel_ci_low as number) > 0 || (r.rel_ci_high as number) < 0 ? ((r.delta < 0) !== t.higherIsBetter ? 'better' : 'worse') : 'CI covers 0',
      }));
      const panels = [...new Set(values.map((v) => v.panel))];
      const variants = [...new Set(values.map((v) => v.variant))];
      const x = { field: 'delta', type: 'quantitative' as const, title: `Δ% vs ${label(t.baseline)}` };
      const spec = {
        data: { values },
        facet: { column: { field: 'panel', type: 'nominal', sort: panels, title: null } },
        spec: {
          width: 150,
          height: { step: 22 },
          encoding: { y: { field: 'variant', type: 'nominal', sort: variants, title: null, axis: { labelLimit: 300 } } },
          layer: [
            { mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x: { datum: 0, type: 'quantitative' } } },
            { mark: { type: 'rule', strokeWidth: 1.6 }, encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, color: { field: 'verdict', type: 'nominal', title: null, scale: { domain: ['better', 'worse', 'CI covers 0'], range: ['#2a7d3f', '#b8321f', '#777'] } } } },
            {
              mark: { type: 'point', filled: true, size: 40 },
              encoding: {
                x,
                color: { field: 'verdict', type: 'nominal' },
                tooltip: [
                  { field: 'variant', type: 'nominal' },
                  { field: 'task', type: 'nominal' },
                  { field: 'delta', type: 'quantitative', format: '.2f', title: 'Δ%' },
                  { field: 'lo', type: 'quantitative', format: '.2f', title: 'CI low' },
                  { field: 'hi', type: 'quantitative', format: '.2f', title: 'CI high' },
                  { field: 'p_holm', type: 'quantitative', format: '.3g', title: 'p (Holm)' },
                ],
              },
            },
          ],
        },
        resolve: { scale: { x: 'independent' } },
        config: FONT,
      } as TopLevelSpec;
      return { spec, values };
    },
  },
  {
    id: 'perplexity-bars',
    title: 'Perplexity per domain',
    caption: 'Table 1 as bars on a log scale (equal ratios look equal): mean over seeds per variant and domain; the whiskers are ± one standard error.',
    build(model) {
      const t = model.perplexity;
      const values = t ? barValues(t, 1) : [];
      if (!t || values.length === 0) return { empty: 'no perplexity rows in this sweep (a task with a token_perplexity, word_perplexity or byte_perplexity metric)' };
      return { spec: groupedBars(t, values, t.columns[0].metric.replace(/_/g, ' '), false, true), values };
    },
  },
  {
    id: 'downstream-bars',
    title: 'Downstream accuracy per task',
    caption: 'Table 3 as bars: accuracy in % per variant and task (one panel per metric); the whiskers are ± one standard error.',
    build(model) {
      const t = model.downstream;
      const values = t ? barValues(t, 100) : [];
      if (!t || values.length === 0) return { empty: 'no downstream rows (acc / acc_norm) in this sweep' };
      return { spec: groupedBars(t, values, 'accuracy (%)', true), values };
    },
  },
  {
    id: 'routing-heatmap',
    title: 'Expert usage per domain and layer',
    caption:
      'Routing analysis, one panel per routed domain: for each variant, quantity and layer (rows) and expert (columns), the share of tokens whose top-1 FFN expert it is (ffn_share) or the mean soft attention-router weight (attn_weight).',
    build(model) {
      if (model.routing.length === 0) return { empty: 'no routing-analysis rows in this sweep' };
      const values = model.routing.map((c) => ({ ...c, panel: `${c.row} · ${c.kind} · layer ${c.layer}` }));
      const panels = [...new Set(values.map((v) => v.panel))];
      const tasks = [...new Set(values.map((v) => v.task))];
      const experts = Math.max(...values.map((v) => v.expert)) + 1;
      const spec = {
        data: { values },
        facet: { column: { field: 'task', type: 'nominal', sort: tasks, title: null } },
        spec: {
          width: Math.max(80, experts * 34),
          height: { step: 20 },
          encoding: {
            x: { field: 'expert', type: 'ordinal', title: 'expert', axis: { labelAngle: 0, orient: 'top' } },
            y: { field: 'panel', type: 'nominal', sort: panels, title: null, axis: { labelLimit: 400 } },
          },
          layer: [
            {
              mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
              encoding: {
                color: { field: 'value', type: 'quantitative', title: 'share', scale: { scheme: 'blues', domainMin: 0 } },
                tooltip: [
                  { field: 'row', type: 'nominal', title: 'variant' },
                  { field: 'task', type: 'nominal' },
                  { field: 'kind', type: 'nominal' },
                  { field: 'layer', type: 'ordinal' },
                  { field: 'expert', type: 'ordinal' },
                  { field: 'value', type: 'quantitative', format: '.3f' },
                ],
              },
            },
            {
              mark: { type: 'text', fontSize: 9 },
              encoding: {
                text: { field: 'value', type: 'quantitative', format: '.2f' },
                color: { condition: { test: 'datum.value > 0.5', value: 'white' }, value: 'black' },
              },
            },
          ],
        },
        config: FONT,
      } as TopLevelSpec;
      return { spec, values };
    },
  },
  {
    id: 'training-loss',
    title: 'Training loss per stage',
    caption:
      'Training loss (mean over each log interval) and validation loss against the step, one panel per stage; runs of one stage under several seeds (`<stage> · seed <s>`) share its panel.',
    build(model) {
      const values = model.training.logs.flatMap((l) => {
        const [panel, ...run] = l.stage.split(' · ');
        return l.points.map((p) => ({ ...p, panel, line: run.length > 0 ? `${p.series} · ${run.join(' · ')}` : p.series }));
      });
      if (values.length === 0) {
        return { empty: `no training logs found (looked for ${model.training.searched.join(', ') || 'nothing: no folder to search'})` };
      }
      const panels = [...new Set(values.map((v) => v.panel))];
      const lines = [...new Set(values.map((v) => v.line))].sort();
      const twoColours = lines.length <= 2 && lines.every((l) => l === 'train' || l === 'validation');
      const spec = {
        data: { values },
        facet: { field: 'panel', type: 'nominal', sort: panels, title: null },
        columns: Math.min(3, panels.length),
        spec: {
          width: 260,
          height: 170,
          mark: { type: 'line', point: { size: 12 }, strokeWidth: 1.5 },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step' },
            y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
            color: { field: 'line', type: 'nominal', title: null, sort: lines, scale: twoColours ? { domain: ['train', 'validation'], range: ['#4c78a8', '#e45756'] } : { scheme: 'tableau20' } },
            tooltip: [
              { field: 'stage', type: 'nominal' },
              { field: 'series', type: 'nominal' },
              { field: 'step', type: 'quantitative' },
              { field: 'loss', type: 'quantitative', format: '.4f' },
            ],
          },
        },
        resolve: { scale: { x: 'independent', y: 'independent' } },
        config: FONT,
      } as TopLevelSpec;
      return { spec, values };
    },
  },
  {
    id: 'router-entropy',
    title: 'Router entropy per layer',
    caption:
      'Entropy of each router divided by ln E (E experts), mean over the routed tokens, the routing tasks’ domains and the seeds: 1 (dashed) is a uniform router — soft attention routing that merely averages —, lower means the router picks experts.',
    build(model) {
      if (model.entropy.length === 0) return { empty: 'no per-layer router entropies in this sweep (the routing-analysis tasks’ ffn_entropy_ratio.l{L} / attn_entropy_ratio.l{L})' };
      const values = model.entropy.map((p) => ({ ...p, router: p.kind === 'ffn' ? 'FFN router' : 'attention router' }));
      const rows = [...new Set(values.map((v) => v.row))];
      const spec = {
        data: { values },
        facet: { column: { field: 'router', type: 'nominal', sort: ['FFN router', 'attention router'], title: null } },
        spec: {
          width: 260,
          height: 200,
          layer: [
            {
              mark: { type: 'line', point: true },
              encoding: {
                x: { field: 'layer', type: 'ordinal', title: 'layer', axis: { labelAngle: 0 } },
                y: { field: 'value', type: 'quantitative', title: 'entropy / ln E', scale: { domain: [0, 1.05] } },
                color: { field: 'row', type: 'nominal', sort: rows, title: 'variant', scale: { scheme: 'tableau10' } },
                tooltip: [
                  { field: 'row', type: 'nominal', title: 'variant' },
                  { field: 'router', type: 'nominal' },
                  { field: 'layer', type: 'ordinal' },
                  { field: 'value', type: 'quantitative', format: '.3f', title: 'entropy / ln E' },
                  { field: 'tasks', type: 'quantitative', title: 'routing tasks' },
                ],
              },
            },
            { mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { y: { datum: 1, type: 'quantitative' } } },
          ],
        },
        config: FONT,
      } as TopLevelSpec;
      return { spec, values };
    },
  },
];
