/**
 * Task plugins, after lm-evaluation-harness's `api/task.py`: a task yields documents, turns each
 * into requests of the three lm-eval request types, and scores a document from the model's
 * responses. The harness batches the requests of all documents, calls the model, and aggregates
 * the per-document scores with each metric's aggregation.
 */
import { z } from 'zod';
import type { Aggregation } from '../metrics.ts';
import type {
  GenerateRequest,
  LoglikelihoodRequest,
  LoglikelihoodResult,
  RollingRequest,
  RollingResult,
  RoutingStatsRequest,
  RoutingStatsResult,
} from './model.ts';
import type { PluginContext } from './context.ts';
import { validateTask } from './validate.ts';

/**
 * One request to the model; `type` is the lm-eval request type, or `routing_stats` (bam's own:
 * needs a model with `routingStats`, i.e. a mixture; on any other model the job fails saying so).
 */
export type TaskRequest =
  | ({ type: 'loglikelihood' } & LoglikelihoodRequest)
  | ({ type: 'loglikelihood_rolling' } & RollingRequest)
  | ({ type: 'generate_until' } & GenerateRequest)
  | ({ type: 'routing_stats' } & RoutingStatsRequest);

/** The model's answer to one TaskRequest: a LoglikelihoodResult, a RollingResult, generated text or a RoutingStatsResult. */
export type TaskResponse = LoglikelihoodResult | RollingResult | string | RoutingStatsResult;

/**
 * One document's value for one metric. A number for `mean` and `median`; a pair
 * `[logprob, count]` for the corpus-level `perplexity` and `bits_per_byte`, where count is the
 * number of units (tokens, words or bytes) the logprob covers (lm-eval's weighted items).
 */
export type MetricItem = number | readonly [number, number];

/** How a metric is aggregated over documents and which direction is better. */
export interface MetricSpec {
  aggregation: Aggregation;
  higherIsBetter: boolean;
  /** One line for reports. */
  description?: string;
  /** Whether the metric gets a wide `table_<metric>.csv` and a terminal table (default true). */
  headline?: boolean;
}

/** What a task author writes; `defineTask` checks it and returns the plugin. */
export interface TaskDefinition<O = any, D = any> {
  /** Registry id, as named in sweep configs (kebab-case). */
  id: string;
  /** Bump when documents, prompts or scoring change; goes into every result row. */
  version: number | string;
  description: string;
  /** zod schema of the task's options (strict object); omitted = no options. */
  options?: z.ZodType<O>;
  /** Every metric that `score` returns, by name. */
  metrics: Record<string, MetricSpec>;
  /** The evaluation documents, in a deterministic order (use `ctx.seed` for any randomness). */
  documents(options: O, ctx: PluginContext): Iterable<D> | AsyncIterable<D> | Promise<Iterable<D> | AsyncIterable<D>>;
  /** The requests for one document. */
  requests(doc: D, options: O): TaskRequest[];
  /**
   * Per-document metric values from the responses (same order as `requests(doc)`). Every declared
   * metric must be present; `null` says it does not apply to this document and model (e.g. the
   * attention-router metrics of a model whose attention is not routed): such items are left out of
   * the aggregate, and a metric no document applies to gets no result row.
   */
  score(doc: D, responses: TaskResponse[], options: O): Record<string, MetricItem | null>;
}

/** A checked task plugin: a plain object with `kind: 'task'` and an options schema. */
export interface TaskPlugin<O = any, D = any> extends TaskDefinition<O, D> {
  readonly kind: 'task';
  options: z.ZodType<O>;
}

/**
 * Makes a task plugin from its definition. Checks every field now and throws a PluginError that
 * names the bad field; the registry checks again (naming the file) when it loads a plugin module.
 */
export function defineTask<O = Record<string, never>, D = unknown>(def: TaskDefinition<O, D>): TaskPlugin<O, D> {
  return validateTask({ ...def, kind: 'task' }, `defineTask({ id: ${JSON.stringify((def as { id?: unknown })?.id)} })`) as TaskPlugin<O, D>;
}

/** A `loglikelihood` request: log p(continuation | context). */
export function loglikelihood(context: string, continuation: string): TaskRequest {
  return { type: 'loglikelihood', context, continuation };
}

/** A `loglikelihood_rolling` request: log p(text) with no context. */
export function loglikelihoodRolling(text: string): TaskRequest {
  return { type: 'loglikelihood_rolling', text };
}

/** A `routing_stats` request: what the model's routers decide for `text` (mixture models only). */
export function routingStatsRequest(text: string): TaskRequest {
  return { type: 'routing_stats', text };
}

/** A `generate_until` request: greedy text after `context`. */
export function generateUntil(context: string, maxTokens: number, until?: string[]): TaskRequest {
  return until ? { type: 'generate_until', context, maxTokens, until } : { type: 'generate_until', context, maxTokens };
}
