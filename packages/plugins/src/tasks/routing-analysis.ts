/**
 * The routing analysis (issue 7 part 1): for each evaluation domain, what the routers of a mixture
 * decide on that domain's held-out text, per layer — the mean soft attention-router weight of each
 * expert, the FFN top-1 token share of each expert, both routers' entropy and its ratio to the
 * uniform maximum ln E, and how often the attention and FFN routers agree on the top expert.
 * Open questions of the BAM paper (Zhang et al. 2024, arXiv:2408.08274): is soft attention routing
 * different from averaging (entropy ratio near 1 = averaging), and do the routers specialise by
 * domain?
 *
 * One task per domain (`routing-general`, `routing-code`, `routing-law`, `routing-math`,
 * `routing-ood`), on the same documents as `ppl-<domain>` (same options). One `routing_stats`
 * request per document (the model's optional `routingStats`): a dense model has none, and its job
 * fails saying the task needs routers. Metrics, each the mean over documents of the document's
 * value over its routed tokens (0-based layers and experts):
 *
 *   ffn_share.l{L}.e{E}      fraction of tokens whose top-1 FFN expert is E       (report heatmap)
 *   attn_weight.l{L}.e{E}    mean attention-router weight of expert E             (report heatmap)
 *   ffn_entropy.l{L}, ffn_entropy_ratio.l{L}, attn_entropy.l{L}, attn_entropy_ratio.l{L}
 *   agreement.l{L}           fraction of tokens whose top attention and FFN experts agree
 *   ffn_entropy_ratio, attn_entropy_ratio, agreement   means over layers (headline tables)
 *
 * Metrics are declared up front for a grid of `maxLayers` × `maxExperts` (default 8 × 8); a part
 * the model does not have (layers or experts beyond its own, the attention router of BTX, the
 * agreement without both routers) is `null`, so it gets no result row. A model with more layers or
 * experts than the grid fails with a message naming `routingAnalysisTask({ maxLayers, maxExperts })`.
 */
import { z } from 'zod';
import { BamError, type Domain } from '@bam/core';
import {
  defineTask,
  routingMetricName,
  routingStatsRequest,
  type MetricItem,
  type MetricSpec,
  type RoutingStatsResult,
  type TaskPlugin,
} from '@bam/eval';
import { PERPLEXITY_DOMAINS, PerplexityOptionsSchema, perplexityDocs, type PerplexityDoc, type PerplexityOptions } from './perplexity.ts';

/** The domains that get a routing task (those of the perplexity tasks: general, code, law, math, ood). */
export const ROUTING_DOMAINS = PERPLEXITY_DOMAINS;

/** Options of a routing task: those of `ppl-<domain>` (limit, maxChars, split, seed), so both see the same documents. */
export const RoutingAnalysisOptionsSchema = PerplexityOptionsSchema;
/** Parsed options of a routing task. */
export type RoutingAnalysisOptions = PerplexityOptions;
/** One routed document: its id and text. */
export type RoutingDoc = PerplexityDoc;

/** The grid a routing task declares metrics for when not told otherwise. */
export const DEFAULT_ROUTING_GRID = { maxLayers: 8, maxExperts: 8 } as const;

/** What `routingAnalysisTask` builds. */
export interface RoutingAnalysisDefinition {
  /** The domain whose held-out text is routed (also names the task: `routing-<domain>`). */
  domain: Domain;
  /** Registry id (default `routing-<domain>`). */
  id?: string;
  /** Layers the metrics are declared for (default 8). */
  maxLayers?: number;
  /** Experts per router the metrics are declared for (default 8). */
  maxExperts?: number;
  /** Route these documents instead of the domain's (e.g. your own texts); default: `perplexityDocs(domain, options)`. */
  documents?: (options: RoutingAnalysisOptions) => RoutingDoc[];
}

const DESCRIPTIVE = 'descriptive: no better direction';

/** The metric names of one layer that are not per expert. */
const LAYER_METRICS = ['ffn_entropy', 'ffn_entropy_ratio', 'attn_entropy', 'attn_entropy_ratio', 'agreement'] as const;

function layerMetric(name: (typeof LAYER_METRICS)[number], layer: number): string {
  return `${name}.l${layer}`;
}

function declareMetrics(maxLayers: number, maxExperts: number): Record<string, MetricSpec> {
  const m: Record<string, MetricSpec> = {
    ffn_entropy_ratio: { aggregation: 'mean', higherIsBetter: false, description: `FFN router entropy / ln E, mean over layers (1 = uniform, 0 = hard; ${DESCRIPTIVE})` },
    attn_entropy_ratio: { aggregation: 'mean', higherIsBetter: false, description: `attention router entropy / ln E, mean over layers (1 = averaging; ${DESCRIPTIVE})` },
    agreement: { aggregation: 'mean', higherIsBetter: false, description: `fraction of tokens whose top attention and FFN experts agree, mean over layers (${DESCRIPTIVE})` },
  };
  const quiet = (description: string): MetricSpec => ({ aggregation: 'mean', higherIsBetter: false, headline: false, description });
  for (let l = 0; l < maxLayers; l++) {
    for (let e = 0; e < maxExperts; e++) {
      m[routingMetricName('ffn_share', l, e)] = quiet(`layer ${l}: fraction of tokens whose top-1 FFN expert is ${e}`);
      m[routingMetricName('attn_weight', l, e)] = quiet(`layer ${l}: mean attention-router weight of expert ${e}`);
    }
    m[layerMetric('ffn_entropy', l)] = quiet(`layer ${l}: mean FFN router entropy (nats)`);
    m[layerMetric('ffn_entropy_ratio', l)] = quiet(`layer ${l}: FFN router entropy / ln E`);
    m[layerMetric('attn_entropy', l)] = quiet(`layer ${l}: mean attention router entropy (nats)`);
    m[layerMetric('attn_entropy_ratio', l)] = quiet(`layer ${l}: attention router entropy / ln E`);
    m[layerMetric('agreement', l)] = quiet(`layer ${l}: fraction of tokens whose top attention and FFN experts agree`);
  }
  return m;
}

const namesByGrid = new Map<string, string[]>();
function metricNames(maxLayers: number, maxExperts: number): string[] {
  const key = `${maxLayers}x${maxExperts}`;
  let names = namesByGrid.get(key);
  if (!names) namesByGrid.set(key, (names = Object.keys(declareMetrics(maxLayers, maxExperts))));
  return names;
}

const meanOf = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * One document's metric values from its routing statistics: every declared metric, `null` where
 * the model has no such layer, expert or router. Throws a BamError when the model routes more
 * layers or experts than the task declares.
 */
export function scoreRouting(stats: RoutingStatsResult, taskId: string, maxLayers: number, maxExperts: number): Record<string, MetricItem | null> {
  const out: Record<string, MetricItem | null> = {};
  for (const name of metricNames(maxLayers, maxExperts)) out[name] = null;
  const tooBig = (what: string, n: number, max: number): never => {
    throw new BamError(
      `task '${taskId}' declares routing metrics for ${max} ${what}, but the model routes ${n}`,
      'E_ROUTING_GRID',
      `register a routing task with a larger grid: routingAnalysisTask({ domain, id, maxLayers, maxExperts }) from @bam/plugins, in a plugin file named in the sweep config`,
    );
  };
  if (stats.layers.length > maxLayers) tooBig('layers', stats.layers.length, maxLayers);
  const ffnRatios: number[] = [];
  const attnRatios: number[] = [];
  const agreements: number[] = [];
  for (const layer of stats.layers) {
    const l = layer.layer;
    if (l >= maxLayers) tooBig('layers', l + 1, maxLayers);
    if (layer.ffn) {
      if (layer.ffn.topShare.length > maxExperts) tooBig('experts', layer.ffn.topShare.length, maxExperts);
      layer.ffn.topShare.forEach((v, e) => (out[routingMetricName('ffn_share', l, e)] = v));
      out[layerMetric('ffn_entropy', l)] = layer.ffn.entropy;
      out[layerMetric('ffn_entropy_ratio', l)] = layer.ffn.entropyRatio;
      ffnRatios.push(layer.ffn.entropyRatio);
    }
    if (layer.attn) {
      if (layer.attn.meanWeight.length > maxExperts) tooBig('experts', layer.attn.meanWeight.length, maxExperts);
      layer.attn.meanWeight.forEach((v, e) => (out[routingMetricName('attn_weight', l, e)] = v));
      out[layerMetric('attn_entropy', l)] = layer.attn.entropy;
      out[layerMetric('attn_entropy_ratio', l)] = layer.attn.entropyRatio;
      attnRatios.push(layer.attn.entropyRatio);
    }
    if (layer.agreement !== undefined) {
      out[layerMetric('agreement', l)] = layer.agreement;
      agreements.push(layer.agreement);
    }
  }
  out.ffn_entropy_ratio = meanOf(ffnRatios);
  out.attn_entropy_ratio = meanOf(attnRatios);
  out.agreement = meanOf(agreements);
  return out;
}

/**
 * A routing-analysis task: routes each document of `def.domain` (the `ppl-<domain>` documents, or
 * `def.documents`) through the model's `routingStats` and scores the routing per layer and expert
 * (see the module comment for the metrics).
 */
export function routingAnalysisTask(def: RoutingAnalysisDefinition): TaskPlugin<RoutingAnalysisOptions, RoutingDoc> {
  const id = def.id ?? `routing-${def.domain}`;
  const maxLayers = def.maxLayers ?? DEFAULT_ROUTING_GRID.maxLayers;
  const maxExperts = def.maxExperts ?? DEFAULT_ROUTING_GRID.maxExperts;
  for (const [what, v] of [['maxLayers', maxLayers], ['maxExperts', maxExperts]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new BamError(`routingAnalysisTask '${id}': ${what} must be a positive integer, got ${v}`, 'E_TASK_OPTIONS', 'e.g. 8');
  }
  const docsOf = def.documents ?? ((o: RoutingAnalysisOptions) => perplexityDocs(def.domain, o));
  let memo: { key: string; docs: RoutingDoc[] } | undefined;
  return defineTask<RoutingAnalysisOptions, RoutingDoc>({
    id,
    version: 1,
    description: `Routing analysis on held-out ${def.domain} text: per layer (up to ${maxLayers}) and expert (up to ${maxExperts}), FFN top-1 shares, mean attention-router weights, router entropies (and / ln E), attention–FFN top-expert agreement. Mixture models only.`,
    options: RoutingAnalysisOptionsSchema as unknown as z.ZodType<RoutingAnalysisOptions>,
    metrics: declareMetrics(maxLayers, maxExperts),
    documents: (o) => {
      const key = JSON.stringify(o);
      if (memo?.key !== key) memo = { key, docs: docsOf(o) };
      return memo.docs;
    },
    requests: (doc) => [routingStatsRequest(doc.text)],
    score: (_doc, responses) => scoreRouting(responses[0] as RoutingStatsResult, id, maxLayers, maxExperts),
  });
}

/** `routing-general`, `routing-code`, `routing-law`, `routing-math`, `routing-ood`: the default 8 × 8 grid. */
export const routingTasks: readonly TaskPlugin<RoutingAnalysisOptions, RoutingDoc>[] = Object.freeze(ROUTING_DOMAINS.map((domain) => routingAnalysisTask({ domain })));
