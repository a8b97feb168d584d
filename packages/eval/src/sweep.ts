/**
 * The sweep runner: validates the config against the plugins, expands it into jobs
 * (variants × budgets × tasks × seeds), runs each variant's `prepare` once per distinct
 * (options, seed, budget), runs the jobs on the worker pool, journals each finished job, and
 * writes results.csv, docs.jsonl and the wide tables. Started again with `resume`, it runs only
 * the jobs that have no ok record and ends with the same results.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { checkSweepConfig, readSweepConfigFile, type ResolvedEntry, type SweepConfig } from './config.ts';
import { ResultsError } from './errors.ts';
import { writeComparisons } from './compare/compare.ts';
import { aggregateScores } from './metrics.ts';
import { WorkerPool, type PoolOptions } from './pool.ts';
import { Progress } from './progress.ts';
import { PluginRegistry, resolvePluginSpec } from './registry.ts';
import {
  FILES,
  buildRows,
  readJournal,
  readJsonl,
  renderTables,
  writeResultFiles,
  type DocRecord,
  type JobPlan,
  type JobRecord,
  type ResultRow,
  type SweepPlanFile,
} from './results.ts';
import type { Budget } from './api/context.ts';
import type { WorkerJob, WorkerReply } from './worker.ts';
import { appendDurable, configHash, defaultWorkers, writeFileAtomic } from '@bam/utils';

/** The version of @bam/eval, written into every result row. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Options of runSweep (the CLI's flags map onto these). */
export interface SweepOptions {
  /** Folder that relative paths in the config are resolved against (default: the config file's folder, or cwd). */
  baseDir?: string;
  /** Results folder (wins over the config's outDir). */
  outDir?: string;
  /** Worker threads (wins over the config's workers). */
  workers?: number;
  /** Continue the sweep already in outDir: run only jobs with no ok record. */
  resume?: boolean;
  /** Plugin modules loaded before the config's `plugins` (e.g. the built-ins), absolute or package names. */
  pluginSpecs?: readonly string[];
  /** Start at most this many jobs in this run, then stop (the rest stay pending for a resume). */
  maxJobs?: number;
  /** Aborting stops the sweep: running jobs are cancelled, finished ones stay journaled. */
  signal?: AbortSignal;
  /** Where progress lines go (default process.stderr); false for none. */
  progress?: { write(s: string): unknown } | false;
  /** Where the final tables are printed (default process.stdout); false for none. */
  print?: { write(s: string): unknown } | false;
  /** Silence plugin loggers. */
  quiet?: boolean;
  /** Per-worker resources for the pool (e.g. one GPU per worker; see PoolOptions.workerResources). */
  workerResources?: PoolOptions['workerResources'];
}

/** What a sweep run did. */
export interface SweepSummary {
  outDir: string;
  /** True when every planned job has a record (ok or failed). */
  complete: boolean;
  /** Planned jobs (distinct configs). */
  total: number;
  /** Jobs that already had an ok record (skipped by resume). */
  skipped: number;
  /** Jobs run in this call. */
  ran: number;
  /** Planned jobs whose latest record is failed. */
  failed: number;
  rows: ResultRow[];
  files: { results: string; docs: string; journal: string; plan: string; tables: string[] };
}

/** Runs the sweep described by the JSON file at `configPath` (relative paths resolve against its folder). */
export async function runSweepFile(configPath: string, opts: SweepOptions = {}): Promise<SweepSummary> {
  const abs = resolve(configPath);
  return runSweep(readSweepConfigFile(abs), { baseDir: dirname(abs), ...opts }, `sweep config ${abs}`);
}

/** Expands a checked config into the job plan, in row order. */
export function planJobs(
  config: SweepConfig,
  variants: readonly ResolvedEntry[],
  tasks: readonly ResolvedEntry[],
  registry: PluginRegistry,
): JobPlan[] {
  const jobs: JobPlan[] = [];
  variants.forEach((v, vi) => {
    const vp = registry.variant(v.id);
    const budgets: Array<Budget | undefined> = vp.usesBudget && config.budgets ? (config.budgets as Budget[]) : [undefined];
    budgets.forEach((budget) => {
      const bi = budget ? (config.budgets as string[]).indexOf(budget) + 1 : 0;
      tasks.forEach((t, ti) => {
        const tp = registry.task(t.id);
        const limit = config.tasks[ti].limit ?? config.limit;
        config.seeds.forEach((seed, si) => {
          const key = configHash({
            variant: { id: v.id, options: v.options },
            task: { id: t.id, version: tp.version, options: t.options },
            seed,
            budget: budget ?? null,
            limit: limit ?? null,
            bootstrapIters: config.bootstrapIters,
          });
          jobs.push({
            key,
            variant: v.label,
            variantId: v.id,
            task: t.label,
            taskId: t.id,
            taskVersion: String(tp.version),
            seed,
            budget: budget ?? '',
            order: [vi, bi, ti, si],
            metrics: tp.metrics,
            bootstrapIters: config.bootstrapIters,
          });
        });
      });
    });
  });
  return jobs;
}

function jobLabel(j: JobPlan): string {
  return `${j.variant}${j.budget ? ` [${j.budget}]` : ''} × ${j.task} · seed ${j.seed}`;
}

/**
 * Runs a sweep from a raw (unvalidated) config object. Loads `opts.pluginSpecs` and the config's
 * `plugins`, validates everything (one SweepConfigError listing every bad field, before any work),
 * then prepares, runs and records the jobs. Failed jobs become failed rows; the sweep goes on.
 */
export async function runSweep(raw: unknown, opts: SweepOptions = {}, what = 'sweep config'): Promise<SweepSummary> {
  const cwd = process.cwd();
  const baseDir = resolve(opts.baseDir ?? cwd);
  const progressOut = opts.progress === undefined ? process.stderr : opts.progress;
  const printOut = opts.print === undefined ? process.stdout : opts.print;

  // 1. Plugins (absolute paths, so workers load exactly the same modules), then the whole config.
  const specs: string[] = [];
  for (const s of opts.pluginSpecs ?? []) specs.push(resolvePluginSpec(s, cwd));
  const rawPlugins = (raw as { plugins?: unknown } | null)?.plugins;
  if (Array.isArray(rawPlugins)) for (const s of rawPlugins) if (typeof s === 'string' && s !== '') specs.push(resolvePluginSpec(s, baseDir));
  const registry = new PluginRegistry();
  await registry.loadAll(specs, baseDir);
  const { config, variants, tasks } = checkSweepConfig(raw, registry, what);

  const outDir = opts.outDir ? resolve(cwd, opts.outDir) : config.outDir ? resolve(baseDir, config.outDir) : undefined;
  if (!outDir) throw new ResultsError('no results folder', 'pass --out DIR or set "outDir" in the sweep config');
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new ResultsError(`${outDir} exists and is not a folder`);
  const artifactsDir = config.artifactsDir ? resolve(baseDir, config.artifactsDir) : resolve(cwd, 'artifacts');
  const files = {
    plan: join(outDir, FILES.plan),
    journal: join(outDir, FILES.journal),
    docs: join(outDir, FILES.docs),
    results: join(outDir, FILES.results),
  };

  // 2. Plan, and what a previous run already did.
  const plan = planJobs(config, variants, tasks, registry);
  const journalExists = existsSync(files.journal) && statSync(files.journal).size > 0;
  if (journalExists && !opts.resume) {
    throw new ResultsError(`${outDir} already holds a sweep (${FILES.journal})`, 'pass --resume to continue it, or choose another --out');
  }
  const { records, bad } = journalExists ? readJournal(outDir) : { records: new Map<string, JobRecord>(), bad: 0 };
  if (bad > 0) writeFileAtomic(files.journal, [...records.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
  // A job counts as done when its ok journal line and all its documents are on disk; documents of
  // jobs that never committed (killed between the two appends) are dropped, and such jobs rerun.
  const docsOnDisk = readJsonl<DocRecord>(files.docs).items;
  const docCount = new Map<string, number>();
  for (const d of docsOnDisk) docCount.set(d.key, (docCount.get(d.key) ?? 0) + 1);
  const okKeys = new Set([...records.values()].filter((r) => r.status === 'ok' && docCount.get(r.key) === r.n).map((r) => r.key));
  for (const [k, r] of records) if (r.status === 'ok' && !okKeys.has(k)) records.delete(k);
  if (existsSync(files.docs)) {
    writeFileAtomic(files.docs, docsOnDisk.filter((d) => okKeys.has(d.key)).map((d) => `${JSON.stringify(d)}\n`).join(''));
  }
  const planFile: SweepPlanFile = { name: config.name, jobs: plan };
  writeFileAtomic(files.plan, `${JSON.stringify(planFile, null, 2)}\n`);

  const distinct = new Map<string, JobPlan>();
  for (const j of plan) if (!distinct.has(j.key)) distinct.set(j.key, j);
  const total = distinct.size;
  const alreadyOk = [...distinct.keys()].filter((k) => okKeys.has(k));
  let pending = [...distinct.values()].filter((j) => !okKeys.has(j.key));
  if (opts.maxJobs !== undefined) pending = pending.slice(0, Math.max(0, opts.maxJobs));

  const progress = new Progress(progressOut, config.name, total, alreadyOk.length);
  if (alreadyOk.length > 0) progress.note(`resuming: ${alreadyOk.length}/${total} jobs already done`);

  const entryOf = (j: JobPlan): { variant: ResolvedEntry; task: ResolvedEntry; limit?: number } => ({
    variant: variants[j.order[0]],
    task: tasks[j.order[2]],
    limit: config.tasks[j.order[2]].limit ?? config.limit,
  });
  const record = (j: JobPlan, reply: WorkerReply | { ok: false; threadId: number; error: { message: string } }, seconds: number): JobRecord => {
    const base = {
      key: j.key,
      variant: j.variant,
      task: j.task,
      seed: j.seed,
      budget: j.budget,
      durationS: Math.round(seconds * 1000) / 1000,
      threadId: reply.threadId,
      packageVersion: PACKAGE_VERSION,
      finishedAt: new Date().toISOString(),
    };
    if (reply.ok && reply.docs) {
      try {
        const values = aggregateScores(j.metrics, reply.docs, { seed: j.seed, bootstrapIters: j.bootstrapIters });
        appendDurable(files.docs, reply.docs.map((scores, doc) => `${JSON.stringify({ key: j.key, doc, scores })}\n`).join(''));
        return { ...base, status: 'ok', error: '', backend: reply.model?.backend ?? '', model: reply.model?.name ?? '', modelHash: reply.model?.configHash ?? '', n: reply.docs.length, values };
      } catch (err) {
        const model = { backend: reply.model?.backend ?? '', model: reply.model?.name ?? '', modelHash: reply.model?.configHash ?? '' };
        return { ...base, status: 'failed', error: (err as Error).message, ...model, n: null, values: {} };
      }
    }
    const error = reply.ok ? 'worker returned no documents' : reply.error.message;
    return { ...base, status: 'failed', error, backend: '', model: '', modelHash: '', n: null, values: {} };
  };
  const commit = (rec: JobRecord): void => {
    appendDurable(files.journal, `${JSON.stringify(rec)}\n`);
    records.set(rec.key, rec);
  };

  // 3. Prepare and run on the pool.
  let ran = 0;
  if (pending.length > 0 && !opts.signal?.aborted) {
    const wanted = opts.workers ?? config.workers ?? defaultWorkers();
    const pool = new WorkerPool({ workers: Math.min(wanted, pending.length), pluginSpecs: specs, baseDir, quiet: opts.quiet, workerResources: opts.workerResources });
    progress.note(`${pending.length} job(s) to run on ${pool.size} worker(s); results in ${outDir}`);
    try {
      const prepareFailed = await runPrepares(pending, registry, variants, config.prepareConcurrency, pool, artifactsDir, opts.signal, progress);
      progress.startJobs();
      let next = 0;
      let inFlight = 0;
      const runOne = async (): Promise<void> => {
        while (next < pending.length && !opts.signal?.aborted) {
          const j = pending[next++];
          const t0 = performance.now();
          const e = entryOf(j);
          let reply: WorkerReply;
          const failedPrep = prepareFailed.get(prepareKey(j, variants));
          if (failedPrep !== undefined) {
            reply = { ok: false, threadId: -1, error: { message: `prepare failed: ${failedPrep}`, name: 'Error' } };
          } else {
            const job: WorkerJob = {
              kind: 'evaluate',
              variant: { id: e.variant.id, options: e.variant.rawOptions },
              task: { id: e.task.id, options: e.task.rawOptions },
              seed: j.seed,
              budget: (j.budget || undefined) as Budget | undefined,
              artifactsDir,
              limit: e.limit,
              chunkSize: config.chunkSize,
            };
            inFlight++;
            try {
              reply = await pool.run(job, opts.signal);
            } catch (err) {
              if (opts.signal?.aborted) return;
              throw err;
            } finally {
              inFlight--;
            }
          }
          const seconds = (performance.now() - t0) / 1000;
          const rec = record(j, reply, seconds);
          commit(rec);
          ran++;
          progress.job(jobLabel(j), rec.status === 'ok', seconds, pending.length - next + inFlight);
        }
      };
      await Promise.all(Array.from({ length: pool.size }, runOne));
    } finally {
      await pool.destroy();
    }
  }

  // 4. Results: rows for every planned job with a record, sorted by plan order.
  const rows = buildRows(plan, records);
  const written = writeResultFiles(outDir, plan, rows);
  const planIndex = new Map<string, number>();
  plan.forEach((j, i) => planIndex.has(j.key) || planIndex.set(j.key, i));
  const finalOk = new Set([...records.values()].filter((r) => r.status === 'ok').map((r) => r.key));
  const docs = readJsonl<DocRecord>(files.docs).items.filter((d) => finalOk.has(d.key));
  docs.sort((a, b) => (planIndex.get(a.key) ?? Infinity) - (planIndex.get(b.key) ?? Infinity) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.doc - b.doc);
  writeFileAtomic(files.docs, docs.map((d) => `${JSON.stringify(d)}\n`).join(''));
  // Paired comparisons against the baseline (compare_<metric>.csv); like the report, a failure only warns.
  try {
    writeComparisons(outDir, config);
  } catch (err) {
    progress.note(`warning: compare_<metric>.csv not written: ${(err as Error).message}`);
  }
  // The HTML report (./report): failing to write it is a warning, never a failed sweep.
  try {
    const { writeReport } = await import('./report/index.ts');
    progress.note(`report: ${await writeReport(outDir, { config: raw, artifactsDir })}`);
  } catch (err) {
    progress.note(`warning: report.html not written: ${(err as Error).message}`);
  }

  const done = [...distinct.keys()].filter((k) => records.has(k));
  const failed = done.filter((k) => records.get(k)?.status === 'failed').length;
  const complete = done.length === total;
  progress.note(`${complete ? 'done' : 'stopped'}: ${done.length}/${total} jobs recorded, ${failed} failed; ${written.results}`);
  if (printOut && written.wide.length > 0) printOut.write(`${renderTables(written.wide)}\n`);
  return {
    outDir,
    complete,
    total,
    skipped: alreadyOk.length,
    ran,
    failed,
    rows,
    files: { ...files, tables: written.tables },
  };
}

function prepareKey(j: JobPlan, variants: readonly ResolvedEntry[]): string {
  const v = variants[j.order[0]];
  return configHash({ id: v.id, options: v.options, seed: j.seed, budget: j.budget });
}

/** Runs `prepare` once per distinct (variant config, seed, budget) among `pending`; returns the failures by prepare key. */
async function runPrepares(
  pending: readonly JobPlan[],
  registry: PluginRegistry,
  variants: readonly ResolvedEntry[],
  concurrency: number,
  pool: WorkerPool,
  artifactsDir: string,
  signal: AbortSignal | undefined,
  progress: Progress,
): Promise<Map<string, string>> {
  const todo = new Map<string, JobPlan>();
  for (const j of pending) {
    if (!registry.variant(j.variantId).prepare) continue;
    const k = prepareKey(j, variants);
    if (!todo.has(k)) todo.set(k, j);
  }
  const failed = new Map<string, string>();
  const list = [...todo.entries()];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length && !signal?.aborted) {
      const [k, j] = list[next++];
      const v = variants[j.order[0]];
      const t0 = performance.now();
      let reply: WorkerReply;
      try {
        reply = await pool.run(
          { kind: 'prepare', variant: { id: v.id, options: v.rawOptions }, seed: j.seed, budget: (j.budget || undefined) as Budget | undefined, artifactsDir },
          signal,
        );
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      done++;
      if (!reply.ok) failed.set(k, reply.error.message);
      progress.note(
        `prepare ${done}/${list.length}: ${j.variant}${j.budget ? ` [${j.budget}]` : ''} seed ${j.seed} ${reply.ok ? 'ok' : `FAILED: ${reply.error.message}`} (${((performance.now() - t0) / 1000).toFixed(1)}s)`,
      );
    }
  };
  if (list.length > 0) progress.note(`prepare: ${list.length} variant build(s)`);
  await Promise.all(Array.from({ length: Math.min(concurrency, pool.size, Math.max(1, list.length)) }, worker));
  return failed;
}
