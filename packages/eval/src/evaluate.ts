/**
 * Runs one task against one LanguageModel, the way lm-evaluation-harness's evaluator does: collect
 * the documents, build every document's requests, send them to the model grouped by request type
 * (in chunks), hand each document its responses in order, and return the per-document scores.
 * Aggregation happens in `aggregateScores`, on the main thread, so a results folder can be
 * re-aggregated from its per-document scores without running a model.
 */
import type { z } from 'zod';
import { configHash } from '@bam/utils';
import { ContractError, SweepConfigError, issuesFromZod } from './errors.ts';
import type { LanguageModel, RoutingStatsResult } from './api/model.ts';
import type { PluginContext } from './api/context.ts';
import type { MetricItem, TaskPlugin, TaskRequest, TaskResponse } from './api/task.ts';

/** Per-document metric values, one record per document in document order (`null`: the metric does not apply). */
export type DocScores = Record<string, MetricItem | null>;

/**
 * The fingerprint of one document: a hash of the requests it sends the model (their texts,
 * contexts and continuations), so two jobs that scored different content under the same document
 * index are told apart (docs.jsonl's `id`; a paired comparison checks both sides agree).
 */
export function documentId(requests: readonly TaskRequest[]): string {
  return configHash(requests);
}

/** What `evaluateDocuments` returns: per-document scores and fingerprints, both in document order. */
export interface EvaluatedDocuments {
  scores: DocScores[];
  /** `documentId` of each document's requests. */
  ids: string[];
}

/** Options of `evaluateTask`. */
export interface EvaluateOptions {
  /** Use only the first `limit` documents (lm-eval `--limit`). */
  limit?: number;
  /** Requests per model call (default 256); the model batches inside a call as it likes. */
  chunkSize?: number;
  /**
   * Score only documents `[start, end)` of the (limited) documents, which must number `total`
   * (a shard job; see shards.ts). Indices in errors stay those of the whole set.
   */
  range?: { start: number; end: number; total: number };
}

/** The task's first `limit` documents (all without a limit), in the task's order. */
export async function collectDocuments<O>(task: TaskPlugin<O>, taskOpts: O, ctx: PluginContext, limit = Infinity): Promise<unknown[]> {
  const docs: unknown[] = [];
  if (limit <= 0) return docs;
  const source = await task.documents(taskOpts, ctx);
  for await (const d of source as AsyncIterable<unknown>) {
    docs.push(d);
    if (docs.length >= limit) break;
  }
  return docs;
}

/** Parses plugin options with the plugin's zod schema; a failure lists every bad field under `prefix`. */
export function parseOptions<O>(schema: z.ZodType<O>, raw: unknown, what: string, prefix = 'options'): O {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw new SweepConfigError(what, issuesFromZod(r.error.issues, prefix));
  return r.data;
}

const REQUEST_TYPES = ['loglikelihood', 'loglikelihood_rolling', 'generate_until', 'routing_stats'] as const;

function checkRequest(r: TaskRequest, where: string): void {
  const bad = (m: string): never => {
    throw new ContractError(`${where}: ${m}`, 'requests(doc) must return loglikelihood(), loglikelihoodRolling(), generateUntil() or routingStatsRequest() requests');
  };
  if (!r || typeof r !== 'object' || !REQUEST_TYPES.includes(r.type)) bad(`request type must be one of ${REQUEST_TYPES.join(', ')}, got ${JSON.stringify((r as { type?: unknown })?.type)}`);
  if (r.type === 'loglikelihood' && (typeof r.context !== 'string' || typeof r.continuation !== 'string')) bad('a loglikelihood request needs string context and continuation');
  if (r.type === 'loglikelihood_rolling' && typeof r.text !== 'string') bad('a loglikelihood_rolling request needs a string text');
  if (r.type === 'routing_stats' && typeof r.text !== 'string') bad('a routing_stats request needs a string text');
  if (r.type === 'generate_until') {
    if (typeof r.context !== 'string') bad('a generate_until request needs a string context');
    if (!Number.isInteger(r.maxTokens) || r.maxTokens < 1) bad(`a generate_until request needs maxTokens ≥ 1, got ${r.maxTokens}`);
    if (r.until !== undefined && (!Array.isArray(r.until) || !r.until.every((u) => typeof u === 'string'))) bad('until must be an array of strings');
  }
}

function checkResponse(type: TaskRequest['type'], r: unknown, model: string, i: number): TaskResponse {
  const where = `model '${model}' ${type} result ${i}`;
  // Finite numbers only: JSON (the journal, docs.jsonl) cannot carry ±Infinity or NaN.
  const num = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  if (type === 'generate_until') {
    if (typeof r !== 'string') throw new ContractError(`${where}: expected a string, got ${typeof r}`);
    return r;
  }
  if (type === 'routing_stats') return checkRoutingStats(r, where);
  const o = r as { logprob?: unknown; tokens?: unknown; isGreedy?: unknown };
  if (!o || typeof o !== 'object' || !num(o.logprob) || !num(o.tokens)) {
    throw new ContractError(`${where}: expected { logprob: finite number, tokens: finite number${type === 'loglikelihood' ? ', isGreedy: boolean' : ''} }, got ${String(JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)))}`);
  }
  if (type === 'loglikelihood') {
    if (typeof o.isGreedy !== 'boolean') throw new ContractError(`${where}: isGreedy must be a boolean`);
    return { logprob: o.logprob as number, tokens: o.tokens as number, isGreedy: o.isGreedy };
  }
  return { logprob: o.logprob as number, tokens: o.tokens as number };
}

/** A routing_stats result: finite numbers only, and the shape of RoutingStatsResult. */
function checkRoutingStats(r: unknown, where: string): RoutingStatsResult {
  const bad = (m: string): never => {
    throw new ContractError(`${where}: ${m}`, 'routingStats() must return { tokens, layers: [{ layer, ffn?, attn?, agreement? }] } of finite numbers');
  };
  const o = r as RoutingStatsResult | undefined;
  if (!o || typeof o !== 'object' || !Number.isFinite(o.tokens) || !Array.isArray(o.layers)) bad('expected { tokens: finite number, layers: array }');
  const finite = (x: unknown, what: string): void => {
    if (Array.isArray(x) ? !x.every((v) => typeof v === 'number' && Number.isFinite(v)) : !(typeof x === 'number' && Number.isFinite(x))) bad(`${what} must be finite numbers`);
  };
  o!.layers.forEach((l, i) => {
    if (!l || typeof l !== 'object' || !Number.isInteger(l.layer)) bad(`layers[${i}] needs an integer layer`);
    if (l.ffn) for (const k of ['topShare', 'load', 'meanGate', 'entropy', 'entropyRatio', 'topExpert'] as const) finite(l.ffn[k], `layers[${i}].ffn.${k}`);
    if (l.attn) for (const k of ['meanWeight', 'entropy', 'entropyRatio', 'topExpert'] as const) finite(l.attn[k], `layers[${i}].attn.${k}`);
    if (l.agreement !== undefined) finite(l.agreement, `layers[${i}].agreement`);
  });
  return o!;
}

async function callModel(model: LanguageModel, type: TaskRequest['type'], reqs: TaskRequest[]): Promise<unknown[]> {
  if (type === 'routing_stats') return model.routingStats!(reqs.map((r) => ({ text: (r as { text: string }).text })));
  if (type === 'loglikelihood') {
    return model.loglikelihood(reqs.map((r) => ({ context: (r as { context: string }).context, continuation: (r as { continuation: string }).continuation })));
  }
  if (type === 'loglikelihood_rolling') return model.loglikelihoodRolling(reqs.map((r) => ({ text: (r as { text: string }).text })));
  return model.generate(
    reqs.map((r) => {
      const g = r as Extract<TaskRequest, { type: 'generate_until' }>;
      return g.until ? { context: g.context, maxTokens: g.maxTokens, until: g.until } : { context: g.context, maxTokens: g.maxTokens };
    }),
  );
}

/**
 * Evaluates `task` (with raw `options`, parsed here) on `model`; returns one DocScores per
 * document, in document order. Throws ContractError when the task or model breaks the contract
 * (bad request, wrong number of results, undeclared or missing metric).
 */
export async function evaluateTask(
  task: TaskPlugin,
  options: unknown,
  model: LanguageModel,
  ctx: PluginContext,
  opts: EvaluateOptions = {},
): Promise<DocScores[]> {
  return (await evaluateDocuments(task, options, model, ctx, opts)).scores;
}

/** `evaluateTask`, plus each document's fingerprint (`documentId` of its requests): what the sweep records. */
export async function evaluateDocuments(
  task: TaskPlugin,
  options: unknown,
  model: LanguageModel,
  ctx: PluginContext,
  opts: EvaluateOptions = {},
): Promise<EvaluatedDocuments> {
  const taskOpts = parseOptions(task.options, options, `options of task '${task.id}'`);
  const chunk = Math.max(1, opts.chunkSize ?? 256);
  const all = await collectDocuments(task, taskOpts, ctx, opts.limit);
  if (all.length === 0) throw new ContractError(`task '${task.id}' yielded no documents`, 'check the task options (and the sweep limit)');
  const range = opts.range;
  if (range && (all.length !== range.total || !(range.start >= 0 && range.start < range.end && range.end <= range.total))) {
    throw new ContractError(
      `task '${task.id}' yielded ${all.length} documents, but this shard was planned as documents ${range.start}–${range.end - 1} of ${range.total}`,
      'a sharded task must yield the same documents every time it is asked (deterministic in its options and ctx.seed)',
    );
  }
  // A shard scores only its documents; the task still built all of them, so anything a document
  // draws from the whole set (distractors, few-shot examples) is the same as in the unsplit run.
  const first = range?.start ?? 0;
  const docs = range ? all.slice(range.start, range.end) : all;

  const requests = docs.map((d, di) => {
    const i = first + di;
    const rs = task.requests(d, taskOpts);
    if (!Array.isArray(rs) || rs.length === 0) throw new ContractError(`task '${task.id}' document ${i}: requests(doc) must return a non-empty array`);
    rs.forEach((r, j) => checkRequest(r, `task '${task.id}' document ${i} request ${j}`));
    return rs;
  });
  if (typeof model.routingStats !== 'function' && requests.some((rs) => rs.some((r) => r.type === 'routing_stats'))) {
    throw new ContractError(
      `task '${task.id}' needs routing statistics, but model '${model.info.name}' has no routingStats(): it has no routers (a dense model), so the task does not apply`,
      'run routing tasks on mixture variants only',
    );
  }
  const responses: TaskResponse[][] = requests.map((rs) => new Array(rs.length));
  for (const type of REQUEST_TYPES) {
    const slots: Array<[number, number]> = [];
    requests.forEach((rs, i) => rs.forEach((r, j) => r.type === type && slots.push([i, j])));
    for (let s = 0; s < slots.length; s += chunk) {
      const part = slots.slice(s, s + chunk);
      const out = await callModel(model, type, part.map(([i, j]) => requests[i][j]));
      if (!Array.isArray(out) || out.length !== part.length) {
        throw new ContractError(`model '${model.info.name}' returned ${Array.isArray(out) ? out.length : typeof out} results for ${part.length} ${type} requests`);
      }
      part.forEach(([i, j], k) => (responses[i][j] = checkResponse(type, out[k], model.info.name, s + k)));
    }
  }

  const declared = Object.keys(task.metrics);
  const scores = docs.map((d, di) => {
    const i = first + di;
    const scores = task.score(d, responses[di], taskOpts) as Record<string, MetricItem | null> | undefined;
    if (!scores || typeof scores !== 'object') throw new ContractError(`task '${task.id}' document ${i}: score() must return an object of metric values`);
    const out: DocScores = {};
    for (const name of declared) {
      const v = scores[name];
      if (v === undefined) throw new ContractError(`task '${task.id}' document ${i}: score() did not return metric '${name}'`, `score() must return every metric declared in metrics: ${declared.join(', ')}`);
      out[name] = Array.isArray(v) ? [v[0], v[1]] : v;
    }
    for (const name of Object.keys(scores)) {
      if (!declared.includes(name)) throw new ContractError(`task '${task.id}' document ${i}: score() returned '${name}', which is not declared in metrics (${declared.join(', ')})`);
    }
    return out;
  });
  return { scores, ids: requests.map(documentId) };
}
