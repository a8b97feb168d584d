/**
 * The report's figures, each declared once in REPORT_FIGURES: an id, a title, and a builder from
 * the report model to a vega-lite spec (with its data inline) — or to the sentence shown instead
 * when the sweep has no data for it. `render.ts` compiles each spec with vega-lite and draws it
 * to SVG with vega when the report is written, so the HTML needs no script and no network.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReportModel } from './model.ts';
import type { ReportTable } from './tables.ts';

/** What a figure builder returns: a spec and the rows it plots, or why there is nothing to plot. */
export type FigureBuild = { spec: TopLevelSpec; values: Array<Record<string, unknown>> } | { empty: string };

/** One declared figure. */
export interface ReportFigure {
  id: string;
  title: string;
  /** One sentence under the figure. */
  caption: string;
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

/** Grouped bars (x: group, offset and colour: variant) with ± stderr rules; optionally one row per metric. */
function groupedBars(table: ReportTable, values: Array<Record<string, unknown>>, yTitle: string, facetByMetric: boolean): TopLevelSpec {
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
        y: { field: 'value', type: 'quantitative' as const, title: yTitle },
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
    id: 'perplexity-bars',
    title: 'Perplexity per domain',
    caption: 'Table 1 as bars: mean over seeds per variant and domain; the whiskers are ± one standard error.',
    build(model) {
      const t = model.perplexity;
      const values = t ? barValues(t, 1) : [];
      if (!t || values.length === 0) return { empty: 'no perplexity rows in this sweep (a task with a token_perplexity, word_perplexity or byte_perplexity metric)' };
      return { spec: groupedBars(t, values, t.columns[0].metric.replace(/_/g, ' '), false), values };
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
    caption: 'Training loss (mean over each log interval) and validation loss against the step, one panel per stage.',
    build(model) {
      const values = model.training.logs.flatMap((l) => l.points.map((p) => ({ ...p })));
      if (values.length === 0) {
        return { empty: `no training logs found (looked for ${model.training.searched.join(', ') || 'nothing: no folder to search'})` };
      }
      const stages = model.training.logs.filter((l) => l.points.length > 0).map((l) => l.stage);
      const spec = {
        data: { values },
        facet: { field: 'stage', type: 'nominal', sort: stages, title: null },
        columns: Math.min(3, stages.length),
        spec: {
          width: 260,
          height: 170,
          mark: { type: 'line', point: { size: 12 }, strokeWidth: 1.5 },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step' },
            y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
            color: { field: 'series', type: 'nominal', title: null, sort: ['train', 'validation'], scale: { range: ['#4c78a8', '#e45756'] } },
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
];
