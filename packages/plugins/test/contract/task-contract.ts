/**
 * The shared plugin contract, run against every built-in task (see `builtin.contract.test.ts`)
 * and usable on any other task: `checkTaskContract(task)` returns every violation it finds (an
 * empty list means the task keeps the contract), `describeTaskContract(task)` turns that into
 * vitest tests. A task keeps the contract when:
 *   - its id is kebab-case and its version is a number or a non-empty string;
 *   - its options schema accepts `{}` (every option has a default) and rejects an unknown key;
 *   - `documents()` yields at least one document, and two runs yield equal documents;
 *   - `requests(doc)` is a non-empty list of well-formed requests, the same on a second call;
 *   - `score()` on a fake model's responses returns exactly the declared metrics, each a finite
 *     number (mean/median) or a finite `[logprob, count]` pair with count > 0
 *     (perplexity/bits_per_byte), or null (not applicable), and every metric aggregates to a
 *     finite value. (`routing_stats` requests need a model with `routingStats`: pass one.)
 */
import { describe, expect, it } from 'vitest';
import {
  aggregateScores,
  fakeLanguageModel,
  silentLogger,
  type LanguageModel,
  type MetricItem,
  type PluginContext,
  type TaskPlugin,
  type TaskRequest,
  type TaskResponse,
} from '@bam/eval';

/** What the contract runs a task with. */
export interface TaskContractOptions {
  /** Raw task options (default `{}`: the defaults must work). */
  options?: unknown;
  /** The job context (default: seed 0, silent logger). */
  ctx?: PluginContext;
  /** The model whose responses are scored (default `fakeLanguageModel()`). */
  model?: LanguageModel;
}

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const UNKNOWN_KEY = '__notAnOption__';

/** The context the contract uses by default. */
export function contractContext(seed = 0): PluginContext {
  return { artifactsDir: '/nonexistent/bam-contract', seed, logger: silentLogger };
}

async function collect(task: TaskPlugin, options: unknown, ctx: PluginContext): Promise<unknown[]> {
  const source = await task.documents(options, ctx);
  const docs: unknown[] = [];
  for await (const d of source as AsyncIterable<unknown>) docs.push(d);
  return docs;
}

/** Problems with one request (empty when it is well-formed). */
export function requestProblems(r: TaskRequest, where: string): string[] {
  const bad = (m: string): string[] => [`${where}: ${m}`];
  if (!r || typeof r !== 'object') return bad('is not an object');
  if (r.type === 'loglikelihood') {
    if (typeof r.context !== 'string' || typeof r.continuation !== 'string') return bad('loglikelihood needs string context and continuation');
    if (r.continuation.length === 0) return bad('loglikelihood continuation is empty (nothing to score)');
    return [];
  }
  if (r.type === 'loglikelihood_rolling') {
    if (typeof r.text !== 'string' || r.text.length === 0) return bad('loglikelihood_rolling needs a non-empty text');
    return [];
  }
  if (r.type === 'routing_stats') {
    if (typeof r.text !== 'string' || r.text.length === 0) return bad('routing_stats needs a non-empty text');
    return [];
  }
  if (r.type === 'generate_until') {
    if (typeof r.context !== 'string') return bad('generate_until needs a string context');
    if (!Number.isInteger(r.maxTokens) || r.maxTokens < 1) return bad(`generate_until maxTokens must be an integer ≥ 1, got ${r.maxTokens}`);
    if (r.until !== undefined && (!Array.isArray(r.until) || !r.until.every((u) => typeof u === 'string' && u.length > 0))) return bad('until must be non-empty strings');
    return [];
  }
  return bad(`unknown request type ${JSON.stringify((r as { type?: unknown }).type)}`);
}

async function respond(model: LanguageModel, reqs: TaskRequest[]): Promise<TaskResponse[]> {
  const out: TaskResponse[] = [];
  for (const r of reqs) {
    if (r.type === 'loglikelihood') out.push((await model.loglikelihood([{ context: r.context, continuation: r.continuation }]))[0]);
    else if (r.type === 'loglikelihood_rolling') out.push((await model.loglikelihoodRolling([{ text: r.text }]))[0]);
    else if (r.type === 'routing_stats') {
      if (!model.routingStats) throw new Error(`the contract model '${model.info.name}' has no routingStats(); pass a mixture model in opts.model`);
      out.push((await model.routingStats([{ text: r.text }]))[0]);
    } else out.push((await model.generate([r.until ? { context: r.context, maxTokens: r.maxTokens, until: r.until } : { context: r.context, maxTokens: r.maxTokens }]))[0]);
  }
  return out;
}

function itemProblem(item: MetricItem | null | undefined, aggregation: string): string | undefined {
  if (item === null) return undefined; // not applicable to this document and model
  if (aggregation === 'mean' || aggregation === 'median') {
    return typeof item === 'number' && Number.isFinite(item) ? undefined : `expected a finite number, got ${JSON.stringify(item)}`;
  }
  const ok = Array.isArray(item) && item.length === 2 && Number.isFinite(item[0]) && Number.isFinite(item[1]) && item[1] > 0;
  return ok ? undefined : `expected a finite [logprob, count] pair with count > 0, got ${JSON.stringify(item)}`;
}

/** Every contract violation of `task` (empty when it keeps the contract). */
export async function checkTaskContract(task: TaskPlugin, opts: TaskContractOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const ctx = opts.ctx ?? contractContext();
  if (typeof task.id !== 'string' || !KEBAB.test(task.id)) problems.push(`id ${JSON.stringify(task.id)} is not kebab-case`);
  const v = task.version;
  if (!((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length > 0))) problems.push(`version ${JSON.stringify(v)} is missing or empty`);

  const defaults = task.options.safeParse({});
  if (!defaults.success) problems.push(`options schema rejects {}: ${defaults.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (task.options.safeParse({ [UNKNOWN_KEY]: 1 }).success) problems.push(`options schema accepts the unknown key '${UNKNOWN_KEY}' (use z.object({...}).strict())`);
  const parsed = task.options.safeParse(opts.options ?? {});
  if (!parsed.success) return [...problems, 'the contract options do not parse'];
  const options = parsed.data;

  const first = await collect(task, options, ctx);
  const second = await collect(task, options, ctx);
  if (first.length === 0) return [...problems, 'documents() yielded no documents'];
  if (JSON.stringify(first) !== JSON.stringify(second)) problems.push('documents() differ between two runs with the same options and context');

  const model = opts.model ?? fakeLanguageModel();
  const scores: Record<string, MetricItem | null>[] = [];
  const declared = Object.keys(task.metrics).sort();
  for (const [i, doc] of first.entries()) {
    const reqs = task.requests(doc, options);
    if (!Array.isArray(reqs) || reqs.length === 0) {
      problems.push(`document ${i}: requests() returned no requests`);
      continue;
    }
    const p = reqs.flatMap((r, j) => requestProblems(r, `document ${i} request ${j}`));
    if (p.length > 0) {
      problems.push(...p);
      continue;
    }
    if (JSON.stringify(task.requests(doc, options)) !== JSON.stringify(reqs)) problems.push(`document ${i}: requests() differ between two calls`);
    const s = task.score(doc, await respond(model, reqs), options);
    const keys = Object.keys(s ?? {}).sort();
    if (JSON.stringify(keys) !== JSON.stringify(declared)) {
      problems.push(`document ${i}: score() returned [${keys.join(', ')}], declared [${declared.join(', ')}]`);
      continue;
    }
    for (const name of declared) {
      const bad = itemProblem(s[name], task.metrics[name].aggregation);
      if (bad) problems.push(`document ${i} metric '${name}': ${bad}`);
    }
    scores.push(s);
  }
  if (problems.length === 0) {
    const agg = aggregateScores(task.metrics, scores, { seed: ctx.seed, bootstrapIters: 0 });
    for (const [name, a] of Object.entries(agg)) if (!Number.isFinite(a.value)) problems.push(`metric '${name}' aggregates to ${a.value}`);
  }
  return problems;
}

/** Ids that occur more than once among `plugins` of the same kind. */
export function duplicateIds(plugins: ReadonlyArray<{ kind: string; id: string }>): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const p of plugins) {
    const k = `${p.kind}:${p.id}`;
    if (seen.has(k)) dup.add(k);
    seen.add(k);
  }
  return [...dup];
}

/** Registers one vitest test per task: it keeps the plugin contract. */
export function describeTaskContract(tasks: readonly TaskPlugin[], opts: (task: TaskPlugin) => TaskContractOptions = () => ({})): void {
  describe('task plugin contract', () => {
    for (const task of tasks) {
      it(`${task.id} keeps the task contract (options, deterministic documents, well-formed requests, declared finite metrics)`, async () => {
        expect(await checkTaskContract(task, opts(task))).toEqual([]);
      });
    }
  });
}
