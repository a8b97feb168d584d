/**
 * The report as data (everything the HTML shows, before rendering): built from a results folder
 * by `buildReport`, rendered by `renderReportHtml`. Tests read it to check the HTML against it.
 */
import type { ResultsFolder } from './load.ts';
import type { RoutingKind } from './routing.ts';
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
  training: { logs: TrainingLog[]; searched: string[] };
  failed: FailedJob[];
  jobs: JobCounts;
  packageVersions: string[];
  backends: string[];
  /** Versions of the chart libraries that drew the figures. */
  libraries: Record<string, string>;
}
