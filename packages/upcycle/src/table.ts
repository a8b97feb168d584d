/**
 * The pipeline's final table: one row per checkpoint (the seed, each expert, each recipe ×
 * budget) with parameters, tokens, FLOPs and per-domain validation loss.
 */
import { TRAINING_DOMAINS } from '@bam/core';
import type { UpcycleResult } from './pipeline.ts';

/** One row of the table, as plain values (for `--json` and CSV writers). */
export interface CheckpointRow {
  model: string;
  budget: string;
  totalParams: number;
  activeParams: number;
  tokens: number;
  flops: number;
  /** Validation NLL per training domain and their mean (null when not measured). */
  val: Record<string, number | null>;
  reused: boolean;
  checkpoint: string;
}

/** The rows: the seed, the experts (their CPT stage's tokens and FLOPs), then every trained mixture. */
export function checkpointRows(r: UpcycleResult): CheckpointRow[] {
  const val = (m: Record<string, number | null>) => Object.fromEntries([...TRAINING_DOMAINS, 'mean'].map((d) => [d, m[`val.${d}`] ?? null]));
  const rows: CheckpointRow[] = [];
  for (const d of [r.seed, ...Object.values(r.experts)]) {
    if (!d) continue;
    rows.push({
      model: d.role === 'seed' ? 'seed' : `expert ${d.domain}`,
      budget: '-',
      totalParams: d.params.total,
      activeParams: d.params.active,
      tokens: d.tokensSeen,
      flops: d.flopsSpent,
      val: val(d.metrics),
      reused: d.reused,
      checkpoint: d.checkpoint,
    });
  }
  for (const m of r.mixtures) {
    rows.push({
      model: m.recipe,
      budget: m.budget,
      totalParams: m.params.total,
      activeParams: m.params.active,
      tokens: m.tokensSeen,
      flops: m.flopsSpent,
      val: val(m.metrics),
      reused: m.reused,
      checkpoint: m.checkpoint,
    });
  }
  return rows;
}

const si = (x: number): string => {
  if (x === 0) return '0';
  const units: Array<[number, string]> = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, u] of units) if (Math.abs(x) >= v) return `${(x / v).toFixed(2)}${u}`;
  return String(x);
};

/** The rows as an aligned text table (validation losses in nats/token). */
export function formatCheckpointTable(r: UpcycleResult): string {
  const head = ['model', 'budget', 'params', 'active', 'tokens', 'FLOPs', ...TRAINING_DOMAINS.map((d) => `val ${d}`), 'val mean', ''];
  const body = checkpointRows(r).map((row) => [
    row.model,
    row.budget,
    si(row.totalParams),
    si(row.activeParams),
    si(row.tokens),
    si(row.flops),
    ...[...TRAINING_DOMAINS, 'mean'].map((d) => (row.val[d] === null ? '-' : row.val[d]!.toFixed(3))),
    row.reused ? 'reused' : 'built',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
