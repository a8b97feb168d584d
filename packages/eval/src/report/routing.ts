/**
 * The naming convention of routing-analysis rows in results.csv, shared by the task that writes
 * them and the report's heatmap that reads them. One row per (variant, task, seed) and metric:
 *
 *   ffn_share.l{layer}.e{expert}     fraction of the task's tokens whose top-1 FFN expert is `expert`
 *                                    in layer `layer` (sums to 1 over experts)
 *   attn_weight.l{layer}.e{expert}   mean soft attention-router weight g_expert(h) over the task's
 *                                    tokens in layer `layer` (sums to 1 over experts)
 *
 * `layer` and `expert` are 0-based decimal integers; the task label (e.g. `routing-code`) names
 * the domain of the text routed. Anything else is not a routing metric.
 */

/** The per-expert routing quantities the report understands. */
export const ROUTING_KINDS = ['ffn_share', 'attn_weight'] as const;
/** One routing quantity: FFN top-1 share or attention-router weight. */
export type RoutingKind = (typeof ROUTING_KINDS)[number];

/** What a routing metric name says. */
export interface RoutingMetric {
  kind: RoutingKind;
  layer: number;
  expert: number;
}

/** The exact pattern of a routing metric name: `{kind}.l{layer}.e{expert}`. */
export const ROUTING_METRIC_PATTERN = /^(ffn_share|attn_weight)\.l(0|[1-9]\d*)\.e(0|[1-9]\d*)$/;

/** The results.csv metric name of one routing quantity, e.g. `routingMetricName('ffn_share', 2, 3)` = `ffn_share.l2.e3`. */
export function routingMetricName(kind: RoutingKind, layer: number, expert: number): string {
  if (!ROUTING_KINDS.includes(kind)) throw new RangeError(`unknown routing kind '${kind}'; known: ${ROUTING_KINDS.join(', ')}`);
  for (const [what, v] of [['layer', layer], ['expert', expert]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`routing metric ${what} must be a non-negative integer, got ${v}`);
  }
  return `${kind}.l${layer}.e${expert}`;
}

/** Parses a metric name written by `routingMetricName`; undefined for any other metric. */
export function parseRoutingMetric(name: string): RoutingMetric | undefined {
  const m = ROUTING_METRIC_PATTERN.exec(name);
  if (!m) return undefined;
  return { kind: m[1] as RoutingKind, layer: Number(m[2]), expert: Number(m[3]) };
}

/** The routers whose entropy a routing-analysis task reports per layer. */
export const ROUTER_KINDS = ['ffn', 'attn'] as const;
/** The FFN router or the attention router. */
export type RouterKind = (typeof ROUTER_KINDS)[number];

/**
 * The exact pattern of a per-layer entropy-ratio metric: `{ffn|attn}_entropy_ratio.l{layer}`, the
 * mean over tokens of the router's entropy divided by ln E (1 = uniform, 0 = one expert per token).
 */
export const ENTROPY_RATIO_PATTERN = /^(ffn|attn)_entropy_ratio\.l(0|[1-9]\d*)$/;

/** The results.csv metric name of a router's entropy / ln E in one layer, e.g. `ffn_entropy_ratio.l2`. */
export function entropyRatioMetricName(kind: RouterKind, layer: number): string {
  if (!ROUTER_KINDS.includes(kind)) throw new RangeError(`unknown router kind '${kind}'; known: ${ROUTER_KINDS.join(', ')}`);
  if (!Number.isInteger(layer) || layer < 0) throw new RangeError(`layer must be a non-negative integer, got ${layer}`);
  return `${kind}_entropy_ratio.l${layer}`;
}

/** Parses a metric name written by `entropyRatioMetricName`; undefined for any other metric. */
export function parseEntropyRatioMetric(name: string): { kind: RouterKind; layer: number } | undefined {
  const m = ENTROPY_RATIO_PATTERN.exec(name);
  return m ? { kind: m[1] as RouterKind, layer: Number(m[2]) } : undefined;
}
