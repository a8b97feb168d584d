/**
 * The report as data (everything the HTML shows, before rendering): built from a results folder
 * by `buildReport`, rendered by `renderReportHtml`. Tests read it to check the HTML against it.
 */
import type { CompareTable } from '../compare/compare.ts';
import type { ResultsFolder } from './load.ts';
import type { RouterKind, RoutingKind } from './routing.ts';
import type { FailedJob, ReportTable } from './tables.ts';
import type { TrainingLog } from './training.ts';

/** One heatmap cell: a routing metric's mean over seeds for one row, task, layer and expert. */
export interface RoutingCell {
  /** The row label (variant, plus DM/CM). */
  row: string;
  variant: string;
  budget: string;
  /** The task label (the routed text's domain). */
  task: string;
  kind: RoutingKind;
  layer: number;
  expert: number;
  value: number;
}

/** One router's entropy / ln E in one layer for one row: the mean over the routing tasks and seeds. */
export interface EntropyPoint {
  row: string;
  kind: RouterKind;
  layer: number;
  value: number;
  /** Routing tasks (domains) averaged. */
  tasks: number;
}

/** The paired comparisons against the baseline (compare_<metric>.csv's numbers) the report shows. */
export interface ReportComparison {
  /** The baseline's label, when the folder has comparisons. */
  baseline?: string;
  /** Table 1's metric and then acc, when compared. */
  tables: CompareTable[];
  /** Rows of dense models (plugin id `dense`), left out of the forest plot: their Δ% would flatten the mixtures'. */
  denseRows: string[];
  /** Why there are no comparisons (e.g. documents that differ), when compareResults failed. */
  error?: string;
}

/** Counts of the sweep's jobs (distinct config hashes). */
export interface JobCounts {
  planned: number;
  ok: number;
  failed: number;
  pending: number;
}

/** Everything the report shows. */
export interface ReportModel {
  /** The results folder (absolute). */
  dir: string;
  /** The sweep's name (sweep.json), or the folder name. */
  name: string;
  generatedAt: string;
  folder: ResultsFolder;
  perplexity?: ReportTable;
  downstream?: ReportTable;
  others: ReportTable[];
  routing: RoutingCell[];
  /** Router entropy / ln E per row, router and layer (the routing tasks' `{ffn|attn}_entropy_ratio.l{L}`). */
  entropy: EntropyPoint[];
  comparison: ReportComparison;
  training: { logs: TrainingLog[]; searched: string[] };
  failed: FailedJob[];
  jobs: JobCounts;
  packageVersions: string[];
  backends: string[];
  /** Versions of the chart libraries that drew the figures. */
  libraries: Record<string, string>;
}
