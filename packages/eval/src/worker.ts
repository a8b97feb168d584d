/**
 * What runs inside a worker thread (and, for `workers: 0`-style inline runs, on the main thread):
 * loads the plugins named by the pool's specs once per worker, runs each variant's `setup()` once
 * per worker, and executes one job — `prepare` a variant, or `evaluate` a task on a variant's
 * model — returning plain numbers. Errors become `{ ok: false, error }` replies; a worker that
 * dies is turned into the same reply by the pool.
 */
import { threadId, workerData } from 'node:worker_threads';
import { PluginRegistry } from './registry.ts';
import { evaluateDocuments, parseOptions, type DocScores } from './evaluate.ts';
import { silentLogger, stderrLogger, type Budget, type Logger, type PluginContext, type SeedKind } from './api/context.ts';
import type { LanguageModel } from './api/model.ts';
import { ContractError } from './errors.ts';
import { claimWorkerSlot } from './pool.ts';
import { sharePackagesWithPlugins } from './plugin-imports.ts';

/** A plugin named by id with its raw options (as written in the sweep config). */
export interface PluginRef {
  id: string;
  options?: unknown;
}

/** One unit of work for a worker. */
export type WorkerJob =
  | {
      kind: 'evaluate';
      variant: PluginRef;
      task: PluginRef;
      seed: number;
      seedKind?: SeedKind;
      budget?: Budget;
      artifactsDir: string;
      limit?: number;
      chunkSize?: number;
      /** A shard job's documents (EvaluateOptions.range); absent: all of them. */
      range?: { start: number; end: number; total: number };
    }
  | { kind: 'prepare'; variant: PluginRef; seed: number; seedKind?: SeedKind; budget?: Budget; artifactsDir: string };

/** A job's error as plain data (it crosses a worker message). */
export interface JobError {
  message: string;
  name: string;
  code?: string;
  stack?: string;
}

/** A worker's answer: per-document scores and fingerprints (`documentId`) and the model's self-description, or an error. */
export type WorkerReply =
  | {
      ok: true;
      threadId: number;
      docs?: DocScores[];
      ids?: string[];
      model?: { name: string; backend: string; configHash: string; trainingLogs?: Record<string, string> };
    }
  | { ok: false; threadId: number; error: JobError };

/** What the pool hands every worker at start. */
export interface WorkerSetup {
  pluginSpecs: string[];
  baseDir: string;
  quiet?: boolean;
  /** Packages the main thread shares with plugin files (name → URL they resolve from; see plugin-imports.ts). */
  sharedPackages?: Record<string, string>;
}

/** Per-process (per-worker) state: the registry and which variants have run `setup()`. */
export interface WorkerState {
  registry: Promise<PluginRegistry>;
  setups: Map<string, Promise<void>>;
  logger: Logger;
}

/** Creates worker state that loads `setup.pluginSpecs` into a fresh registry. */
export function createWorkerState(setup: WorkerSetup): WorkerState {
  const registry = (async () => {
    for (const [name, from] of Object.entries(setup.sharedPackages ?? {})) sharePackagesWithPlugins([name], from);
    const r = new PluginRegistry();
    await r.loadAll(setup.pluginSpecs, setup.baseDir);
    return r;
  })();
  registry.catch(() => {}); // surfaced by the first job that awaits it
  return { registry, setups: new Map(), logger: setup.quiet ? silentLogger : stderrLogger(`[worker ${threadId}]`) };
}

/** Turns anything thrown into a plain JobError. */
export function toJobError(err: unknown): JobError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { message: err.message, name: err.name, code: typeof code === 'string' ? code : undefined, stack: err.stack };
  }
  return { message: String(err), name: 'Error' };
}

/** Runs one job with the given state; never throws (errors become `{ ok: false }`). */
export async function runJob(job: WorkerJob, state: WorkerState): Promise<WorkerReply> {
  try {
    const registry = await state.registry;
    const variant = registry.variant(job.variant.id);
    const vOpts = parseOptions(variant.options, job.variant.options, `options of variant '${variant.id}'`);
    if (variant.setup) {
      let done = state.setups.get(variant.id);
      if (!done) {
        done = Promise.resolve(variant.setup({ artifactsDir: job.artifactsDir, logger: state.logger, threadId }));
        state.setups.set(variant.id, done);
      }
      await done;
    }
    const ctx: PluginContext = { artifactsDir: job.artifactsDir, seed: job.seed, ...(job.seedKind ? { seedKind: job.seedKind } : {}), budget: job.budget, logger: state.logger };
    if (job.kind === 'prepare') {
      await variant.prepare?.(vOpts, ctx);
      return { ok: true, threadId };
    }
    const task = registry.task(job.task.id);
    ctx.task = { id: task.id, options: parseOptions(task.options, job.task.options, `options of task '${task.id}'`) };
    const model = await variant.create(vOpts, ctx);
    checkCreated(model, variant.id, registry.sourceOf('variant', variant.id));
    try {
      const { scores: docs, ids } = await evaluateDocuments(task, job.task.options, model, ctx, { limit: job.limit, chunkSize: job.chunkSize, ...(job.range ? { range: job.range } : {}) });
      const info = model.info ?? { name: variant.id };
      const trainingLogs = trainingLogsOf(info.trainingLogs);
      return {
        ok: true,
        threadId,
        docs,
        ids,
        model: {
          name: String(info.name ?? variant.id),
          backend: String(info.backend ?? ''),
          configHash: String(info.configHash ?? ''),
          ...(trainingLogs ? { trainingLogs } : {}),
        },
      };
    } finally {
      await model.dispose();
    }
  } catch (err) {
    return { ok: false, threadId, error: toJobError(err) };
  }
}

const MODEL_METHODS = ['loglikelihood', 'loglikelihoodRolling', 'generate', 'dispose'] as const;

/** What a variant's `create()` gave must be a LanguageModel; otherwise say which plugin broke the contract. */
function checkCreated(model: unknown, id: string, source: string | undefined): asserts model is LanguageModel {
  const m = model as Record<string, unknown> | null | undefined;
  const missing = m && typeof m === 'object' ? MODEL_METHODS.filter((k) => typeof m[k] !== 'function') : [];
  if (m && typeof m === 'object' && missing.length === 0) return;
  const got = m === null ? 'null' : m === undefined ? 'undefined' : typeof m !== 'object' ? typeof m : `an object without ${missing.map((k) => `${k}()`).join(', ')}`;
  // The failed row shows only the message, so it says what create() must return.
  throw new ContractError(
    `variant '${id}'${source ? ` (${source})` : ''}: create() returned ${got}; it must return (or resolve to) a LanguageModel: an object with info and ${MODEL_METHODS.map((k) => `${k}()`).join(', ')}`,
  );
}

/** ModelInfo.trainingLogs when it is what it should be (stage label → path strings), else undefined. */
function trainingLogsOf(x: unknown): Record<string, string> | undefined {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return undefined;
  const entries = Object.entries(x as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '');
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

let state: WorkerState | undefined;

/** The worker thread's entry (piscina calls it once per job). */
export default async function handleJob(job: WorkerJob): Promise<WorkerReply> {
  if (!state) claimWorkerSlot(workerData); // per-worker resources (e.g. a GPU) before any plugin loads
  state ??= createWorkerState(workerData as WorkerSetup);
  return runJob(job, state);
}
