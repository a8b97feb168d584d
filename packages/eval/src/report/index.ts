/**
 * The HTML report of a sweep (`bam report`, and the last step of every sweep): tables shaped
 * like the paper's Table 1 and Table 3, vega-lite figures drawn to inline SVG, failures and the
 * sweep's configuration, in one self-contained report.html.
 */
export { REPORT_FILE, buildReport, escapeHtml, formatStderr, formatValue, renderReportHtml, writeReport, type ReportOptions } from './report.ts';
export { REPORT_FIGURES, type FigureBuild, type ReportFigure } from './figures.ts';
export type { EntropyPoint, JobCounts, ReportComparison, ReportModel, RoutingCell } from './model.ts';
export { SWEEP_CONFIG_FILE, parseCsv, parseResultsCsv, readResultsFolder, type ResultsFolder } from './load.ts';
export {
  ENTROPY_RATIO_PATTERN,
  ROUTER_KINDS,
  ROUTING_KINDS,
  ROUTING_METRIC_PATTERN,
  entropyRatioMetricName,
  parseEntropyRatioMetric,
  parseRoutingMetric,
  routingMetricName,
  type RouterKind,
  type RoutingKind,
  type RoutingMetric,
} from './routing.ts';
export {
  BUDGET_ABBREVIATIONS,
  DOMAINS,
  DOWNSTREAM_METRICS,
  PERPLEXITY_METRICS,
  averageCell,
  rowLabel,
  taskDomain,
  type CellStatus,
  type Domain,
  type FailedJob,
  type ReportTable,
  type TableCell,
  type TableColumn,
  type TableRow,
} from './tables.ts';
export { MAX_POINTS_PER_SERIES, TRAINING_DIR, TRAINING_INDEX_FILE, findTrainingLogs, readTrainingLog, type LossPoint, type TrainingLog } from './training.ts';
export { renderSvg } from './render.ts';
