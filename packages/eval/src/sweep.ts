/**
 * The sweep runner: validates the config against the plugins, expands it into jobs
 * (variants × budgets × tasks × seeds), runs each variant's `prepare` once per distinct
 * (options, seed, budget), runs the jobs on the worker pool, journals each finished job, and
 * writes results.csv, docs.jsonl and the wide tables. Started again with `resume`, it runs only
 * the jobs that have no ok record and ends with the same results. In queue mode (`queue`: a Redis
 * URL) the same prepares and jobs run on `bam worker`s elsewhere (queue/coordinator.ts) and are
 * recorded here, through the same record path, as they finish (docs/distributed.md).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { checkSweepConfig, readSweepConfigFile, variantSeedsFor, type ResolvedEntry, type SweepConfig } from './config.ts';
import { ResultsError } from './errors.ts';
import { writeComparisons } from './compare/compare.ts';
import { aggregateScores } from './metrics.ts';
import { writeTrainingIndex } from './report/training.ts';
import { WorkerPool, type PoolOptions } from './pool.ts';
import { Progress } from './progress.ts';
import { lockResultsFolder } from './folder-lock.ts';
import { guardResults } from './resume-guard.ts';
import { jobTimeoutOf } from './timeout.ts';
import { mergeShards, splitJobs, workDone } from './shards.ts';
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
import { runOnQueue } from './queue/coordinator.ts';
import { checkReachable, parseQueueUrl } from './queue/connection.ts';
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
  /** When outDir holds another sweep's results (or any, without resume): move them aside and start afresh (see resume-guard.ts). */
  force?: boolean;
  /** When another sweep holds outDir: wait for it instead of refusing (see folder-lock.ts). */
  wait?: boolean;
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
  /** Queue mode: hand the jobs to `bam worker`s through the BullMQ queue at this Redis URL (docs/distributed.md). */
  queue?: string;
  /** Queue mode: attempts per job before it is a failed row (default 3). */
  attempts?: number;
}

/** What a sweep run did. */
export interface SweepSummary {
  outDir: string;
  /** True when every planned job (every row) has a record (ok or failed). */
  complete: boolean;
  /** Planned jobs (distinct configs; a split job counts as its shards). */
  total: number;
  /** Jobs that already had an ok record (skipped by resume). */
  skipped: number;
  /** Jobs run in this call. */
  ran: number;
  /** Planned jobs (rows: a split job once) whose latest record is failed. */
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
    const only = config.variants[vi].budgets;
    const budgets: Array<Budget | undefined> = vp.usesBudget && config.budgets ? (config.budgets as Budget[]).filter((b) => !only || only.includes(b)) : [undefined];
    budgets.forEach((budget) => {
      const bi = budget ? (config.budgets as string[]).indexOf(budget) + 1 : 0;
      tasks.forEach((t, ti) => {
        const only = config.tasks[ti].variants;
        if (only && !only.includes(v.label)) return;
        const tp = registry.task(t.id);
        const limit = config.tasks[ti].limit ?? config.limit;
        const variantSeeds = variantSeedsFor(config.variants[vi].seeds, budget);
        const taskSeeds = config.tasks[ti].seeds;
        config.seeds.forEach((seed, si) => {
          if ((variantSeeds && !variantSeeds.includes(seed)) || (taskSeeds && !taskSeeds.includes(seed))) return;
          const key = configHash({
            variant: { id: v.id, options: v.options },
            task: { id: t.id, version: tp.version, options: t.options },
            seed,
            // Only a mixture seed is hashed, so the keys of pipeline-seeded sweeps are unchanged.
            ...(config.seedKind === 'mixture' ? { seedKind: config.seedKind } : {}),
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
            seedKind: config.seedKind,
          });
        });
      });
    });
  });
  return jobs;
}

function jobLabel(j: JobPlan): string {
  const shard = j.shard ? ` · shard ${j.shard.index + 1}/${j.shard.count}` : '';
  return `${j.variant}${j.budget ? ` [${j.budget}]` : ''} × ${j.task} · seed ${j.seed}${shard}`;
}

/** A sweep's checked inputs: plugins, config, folders and the job plan. */
interface SweepSetup {
  raw: unknown;
  /** Plugin modules as absolute specs, so workers load exactly the same modules. */
  specs: string[];
  registry: PluginRegistry;
  config: SweepConfig;
  variants: ResolvedEntry[];
  tasks: ResolvedEntry[];
  baseDir: string;
  outDir: string;
  artifactsDir: string;
  files: { plan: string; journal: string; docs: string; results: string };
  /** Every job in row order (a key may repeat when two entries are the same job). */
  plan: JobPlan[];
  /** The distinct jobs to run by key, in plan order, a split job's shards in its place (see shards.ts). */
  distinct: Map<string, JobPlan>;
}

/** What earlier runs left in the results folder: the journal's records and which jobs are done. */
interface SweepProgressState {
  records: Map<string, JobRecord>;
  /** Keys of jobs done before this call (an ok record and all its documents on disk). */
  alreadyOk: string[];
  /** Jobs this call runs, in plan order (at most `maxJobs`). */
  pending: JobPlan[];
}

/** Where progress lines or tables go (false: nowhere). */
type Sink = { write(s: string): unknown } | false;

/** A finished job's reply, or a failure decided before the worker (a failed prepare). */
type JobReply = WorkerReply | { ok: false; threadId: number; error: { message: string } };

/**
 * Runs a sweep from a raw (unvalidated) config object. Loads `opts.pluginSpecs` and the config's
 * `plugins`, validates everything (one SweepConfigError listing every bad field, before any work),
 * then prepares, runs and records the jobs. Failed jobs become failed rows; the sweep goes on.
 * The steps: plan, resume, schedule (each finished job recorded in the journal), record results.
 */
export async function runSweep(raw: unknown, opts: SweepOptions = {}, what = 'sweep config'): Promise<SweepSummary> {
  const progressOut = opts.progress === undefined ? process.stderr : opts.progress;
  const printOut = opts.print === undefined ? process.stdout : opts.print;
  // A wrong or unreachable queue is reported before any work, within seconds.
  if (opts.queue) await checkReachable(parseQueueUrl(opts.queue));
  const setup = await planSweep(raw, opts, what);
  // The results folder is this sweep's, and its results ours to continue, before anything is read.
  const log = (line: string): unknown => progressOut && progressOut.write(`[sweep ${setup.config.name}] ${line}\n`);
  const folderLock = await lockResultsFolder(setup.outDir, { wait: opts.wait, signal: opts.signal, log });
  try {
    guardResults(setup.outDir, { name: setup.config.name, jobs: setup.plan }, { resume: opts.resume, force: opts.force, log });
    return await sweepInFolder(setup, opts, progressOut, printOut);
  } finally {
    folderLock.release();
  }
}

/** Resume, schedule and record, with the results folder locked. */
async function sweepInFolder(setup: SweepSetup, opts: SweepOptions, progressOut: Sink, printOut: Sink): Promise<SweepSummary> {
  const state = resumeSweep(setup, opts);
  const total = setup.distinct.size;
  const progress = new Progress(progressOut, setup.config.name, total, state.alreadyOk.length);
  if (state.alreadyOk.length > 0) progress.note(`resuming: ${state.alreadyOk.length}/${total} jobs already done`);
  const ran = opts.queue ? await scheduleOnQueue(setup, state, opts, progress, opts.queue) : await scheduleJobs(setup, state, opts, progress);
  const { rows, written } = await recordResults(setup, state.records, progress);

  const done = [...setup.distinct.values()].filter((j) => state.records.has(j.key) || workDone(j, (k) => state.records.get(k)?.status === 'ok')).length;
  const rowKeys = new Set(setup.plan.map((j) => j.key));
  const failed = [...rowKeys].filter((k) => state.records.get(k)?.status === 'failed').length;
  const complete = [...rowKeys].every((k) => state.records.has(k));
  progress.note(`${complete ? 'done' : 'stopped'}: ${done}/${total} jobs recorded, ${failed} failed; ${written.results}`);
  if (printOut && written.wide.length > 0) printOut.write(`${renderTables(written.wide)}\n`);
  return {
    outDir: setup.outDir,
    complete,
    total,
    skipped: state.alreadyOk.length,
    ran,
    failed,
    rows,
    files: { ...setup.files, tables: written.tables },
  };
}

/**
 * Plan: loads the plugins (absolute paths, so workers load exactly the same modules), checks the
 * whole config against them, resolves the results and artifacts folders, and expands the jobs.
 */
async function planSweep(raw: unknown, opts: SweepOptions, what: string): Promise<SweepSetup> {
  const cwd = process.cwd();
  const baseDir = resolve(opts.baseDir ?? cwd);
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
  const plan = planJobs(config, variants, tasks, registry);
  const rows = new Map<string, JobPlan>();
  for (const j of plan) if (!rows.has(j.key)) rows.set(j.key, j);
  const distinct = new Map((await splitJobs(rows.values(), config, tasks, registry, artifactsDir)).map((j) => [j.key, j]));
  return { raw, specs, registry, config, variants, tasks, baseDir, outDir, artifactsDir, files, plan, distinct };
}

/**
 * Resume: reads what earlier runs journaled (guardResults has checked the folder may be
 * continued), repairs the journal and the documents file, writes the plan file, and picks the
 * jobs still to run. A job counts as done when its ok journal line and all its documents are on
 * disk; documents of jobs that never committed (killed between the two appends) are dropped, and
 * such jobs rerun.
 */
function resumeSweep(setup: SweepSetup, opts: SweepOptions): SweepProgressState {
  const { files, outDir } = setup;
  const journalExists = existsSync(files.journal) && statSync(files.journal).size > 0;
  const { records, bad } = journalExists ? readJournal(outDir) : { records: new Map<string, JobRecord>(), bad: 0 };
  if (bad > 0) writeFileAtomic(files.journal, [...records.values()].map((r) => `${JSON.stringify(r)}\n`).join(''));
  const docsOnDisk = readJsonl<DocRecord>(files.docs).items;
  const docCount = new Map<string, number>();
  for (const d of docsOnDisk) docCount.set(d.key, (docCount.get(d.key) ?? 0) + 1);
  const okKeys = new Set([...records.values()].filter((r) => r.status === 'ok' && docCount.get(r.key) === r.n).map((r) => r.key));
  for (const [k, r] of records) if (r.status === 'ok' && !okKeys.has(k)) records.delete(k);
  if (existsSync(files.docs)) {
    writeFileAtomic(files.docs, docsOnDisk.filter((d) => okKeys.has(d.key)).map((d) => `${JSON.stringify(d)}\n`).join(''));
  }
  const shards = [...setup.distinct.values()].filter((j) => j.shard);
  const planFile: SweepPlanFile = { name: setup.config.name, seedKind: setup.config.seedKind, jobs: setup.plan, ...(shards.length > 0 ? { shards } : {}) };
  writeFileAtomic(files.plan, `${JSON.stringify(planFile, null, 2)}\n`);

  const isOk = (k: string): boolean => okKeys.has(k);
  const alreadyOk = [...setup.distinct.values()].filter((j) => workDone(j, isOk)).map((j) => j.key);
  let pending = [...setup.distinct.values()].filter((j) => !workDone(j, isOk));
  if (opts.maxJobs !== undefined) pending = pending.slice(0, Math.max(0, opts.maxJobs));
  return { records, alreadyOk, pending };
}

/**
 * Schedule: runs the variants' `prepare`s and the pending jobs on the worker pool, each job as
 * soon as its own prepare has finished (so evaluations fill the cores a build leaves idle: the
 * seed stage, the tail of a pipeline's parallel stages), recording each finished job in the
 * journal as it ends (so a killed sweep loses only running jobs). Returns the number of jobs run.
 */
async function scheduleJobs(setup: SweepSetup, state: SweepProgressState, opts: SweepOptions, progress: Progress): Promise<number> {
  const { pending } = state;
  if (pending.length === 0 || opts.signal?.aborted) return 0;
  const { config, variants, artifactsDir } = setup;
  const wanted = opts.workers ?? config.workers ?? defaultWorkers();
  const pool = new WorkerPool({ workers: Math.min(wanted, pending.length), pluginSpecs: setup.specs, baseDir: setup.baseDir, quiet: opts.quiet, workerResources: opts.workerResources });
  progress.note(`${pending.length} job(s) to run on ${pool.size} worker(s); results in ${setup.outDir}`);
  let ran = 0;
  try {
    const prepares = startPrepares(pending, setup.registry, variants, config, pool, artifactsDir, opts.signal, progress);
    progress.startJobs();
    const taken = new Uint8Array(pending.length);
    let left = pending.length;
    let inFlight = 0;
    // Every job before `firstUntaken` is taken, so a search starts there (jobs are taken mostly in plan order).
    let firstUntaken = 0;
    /** The first job not yet taken whose prepare has ended (or that has none); else null. */
    const nextReady = (): number | null => {
      while (firstUntaken < pending.length && taken[firstUntaken]) firstUntaken++;
      for (let i = firstUntaken; i < pending.length; i++) if (!taken[i] && prepares.ended(prepareKey(pending[i], variants))) return i;
      return null;
    };
    const runOne = async (): Promise<void> => {
      while (left > 0 && !opts.signal?.aborted) {
        const i = nextReady();
        if (i === null) {
          await prepares.anyEnds();
          continue;
        }
        taken[i] = 1;
        left--;
        const j = pending[i];
        const t0 = performance.now();
        let reply: JobReply;
        const failedPrep = prepares.failed.get(prepareKey(j, variants));
        if (failedPrep !== undefined) {
          reply = { ok: false, threadId: -1, error: { message: `prepare failed: ${failedPrep}` } };
        } else {
          inFlight++;
          try {
            reply = await pool.run(evaluateJob(setup, j), opts.signal, jobTimeoutOf(setup.config, j.order[0], j.order[2]));
          } catch (err) {
            if (opts.signal?.aborted) return;
            throw err;
          } finally {
            inFlight--;
          }
        }
        const seconds = (performance.now() - t0) / 1000;
        const rec = recordJob(setup, state.records, j, reply, seconds);
        ran++;
        progress.job(jobLabel(j), rec.status === 'ok', seconds, left + inFlight);
      }
    };
    await Promise.all([prepares.all, ...Array.from({ length: pool.size }, runOne)]);
  } finally {
    await pool.destroy();
  }
  return ran;
}

/**
 * Schedule (queue mode): the same prepares and evaluations as `scheduleJobs`, run by `bam worker`s
 * through the queue at `url`; each result is recorded here, as it arrives, exactly as in local mode.
 */
async function scheduleOnQueue(setup: SweepSetup, state: SweepProgressState, opts: SweepOptions, progress: Progress, url: string): Promise<number> {
  const { pending } = state;
  if (pending.length === 0 || opts.signal?.aborted) return 0;
  const { config, variants, artifactsDir } = setup;
  // A prepare's queue key adds the artifacts folder: a build into another store is another build.
  const prepareOf = (pk: string): string => configHash({ prepare: pk, artifactsDir });
  const prepares = [...distinctPrepares(pending, setup.registry, variants)].map(([pk, j]) => ({
    key: prepareOf(pk),
    label: `prepare ${j.variant}${j.budget ? ` [${j.budget}]` : ''} seed ${j.seed}`,
    job: prepareJob(j, variants, config.seedKind, artifactsDir),
  }));
  const evaluations = pending.map((j) => ({
    key: j.key,
    label: jobLabel(j),
    job: evaluateJob(setup, j),
    timeoutS: jobTimeoutOf(config, j.order[0], j.order[2]),
    prepare: setup.registry.variant(j.variantId).prepare ? prepareOf(prepareKey(j, variants)) : undefined,
  }));
  const byKey = new Map(pending.map((j) => [j.key, j]));
  progress.note(`${pending.length} job(s) to run on the queue; results in ${setup.outDir}`);
  progress.startJobs();
  return runOnQueue({
    url,
    sweep: config.name,
    pluginSpecs: setup.specs,
    builtinCount: opts.pluginSpecs?.length ?? 0,
    baseDir: setup.baseDir,
    prepares,
    evaluations,
    attempts: opts.attempts ?? 3,
    signal: opts.signal,
    note: (line) => progress.note(line),
    onPrepared: (p, ok, seconds, error) => progress.note(`${p.label} ${ok ? 'ok' : `FAILED: ${error}`} (${seconds.toFixed(1)}s)`),
    onResult: (e, reply, seconds, worker, remaining) => {
      const rec = recordJob(setup, state.records, byKey.get(e.key) as JobPlan, reply, seconds);
      progress.job(`${e.label}${worker ? ` on ${worker}` : ''}`, rec.status === 'ok', seconds, remaining);
    },
  });
}

/** The worker message that evaluates job `j`. */
function evaluateJob(setup: SweepSetup, j: JobPlan): WorkerJob {
  const variant = setup.variants[j.order[0]];
  const task = setup.tasks[j.order[2]];
  return {
    kind: 'evaluate',
    variant: { id: variant.id, options: variant.rawOptions },
    task: { id: task.id, options: task.rawOptions },
    seed: j.seed,
    seedKind: setup.config.seedKind,
    budget: (j.budget || undefined) as Budget | undefined,
    artifactsDir: setup.artifactsDir,
    limit: setup.config.tasks[j.order[2]].limit ?? setup.config.limit,
    chunkSize: setup.config.chunkSize,
    ...(j.shard ? { range: { start: j.shard.start, end: j.shard.end, total: j.shard.total } } : {}),
  };
}

/**
 * Record (one job): aggregates a finished job's document scores, appends its documents and then
 * its journal line (the commit point), and remembers the record in `records`. A job without
 * documents, or whose scores fail to aggregate, is recorded as failed.
 */
function recordJob(setup: SweepSetup, records: Map<string, JobRecord>, j: JobPlan, reply: JobReply, seconds: number): JobRecord {
  const rec = jobRecord(setup, j, reply, seconds);
  appendDurable(setup.files.journal, `${JSON.stringify(rec)}\n`);
  records.set(rec.key, rec);
  return rec;
}

/** The journal record of job `j` (appending its documents when it succeeded). */
function jobRecord(setup: SweepSetup, j: JobPlan, reply: JobReply, seconds: number): JobRecord {
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
    ...(j.shard ? { shard: { of: j.shard.of, index: j.shard.index, count: j.shard.count } } : {}),
  };
  if (reply.ok && reply.docs) {
    try {
      // A shard's documents are aggregated only when merged with the other shards (shards.ts).
      const values = j.shard ? {} : aggregateScores(j.metrics, reply.docs, { seed: j.seed, bootstrapIters: j.bootstrapIters });
      const first = j.shard?.start ?? 0;
      appendDurable(setup.files.docs, reply.docs.map((scores, doc) => `${JSON.stringify({ key: j.key, doc: first + doc, id: reply.ids?.[doc], scores })}\n`).join(''));
      const logs = reply.model?.trainingLogs ? { trainingLogs: reply.model.trainingLogs } : {};
      return { ...base, status: 'ok', error: '', backend: reply.model?.backend ?? '', model: reply.model?.name ?? '', modelHash: reply.model?.configHash ?? '', n: reply.docs.length, values, ...logs };
    } catch (err) {
      const model = { backend: reply.model?.backend ?? '', model: reply.model?.name ?? '', modelHash: reply.model?.configHash ?? '' };
      return { ...base, status: 'failed', error: (err as Error).message, ...model, n: null, values: {} };
    }
  }
  const error = reply.ok ? 'worker returned no documents' : reply.error.message;
  return { ...base, status: 'failed', error, backend: '', model: '', modelHash: '', n: null, values: {} };
}

/**
 * Record (results): rows for every planned job with a record, sorted by plan order, written as
 * results.csv and the wide tables; docs.jsonl rewritten in plan order with only committed jobs;
 * then the HTML report. Files derived from the records (e.g. comparisons) are written here too.
 */
async function recordResults(setup: SweepSetup, records: Map<string, JobRecord>, progress: Progress): Promise<{ rows: ResultRow[]; written: ReturnType<typeof writeResultFiles> }> {
  const { plan, outDir, files } = setup;
  mergeShards([...setup.distinct.values()], records, files);
  const rows = buildRows(plan, records);
  const written = writeResultFiles(outDir, plan, rows);
  writeDocsInPlanOrder(plan, records, files.docs);
  // The training logs of the models the jobs evaluated (training_logs.json, the report's loss curves).
  writeTrainingIndex(outDir, plan, records);
  // Paired comparisons against the baseline (compare_<metric>.csv); like the report, a failure only warns.
  try {
    writeComparisons(outDir, setup.config);
  } catch (err) {
    progress.note(`warning: compare_<metric>.csv not written: ${(err as Error).message}`);
  }
  // The HTML report (./report): failing to write it is a warning, never a failed sweep.
  try {
    const { writeReport } = await import('./report/index.ts');
    progress.note(`report: ${await writeReport(outDir, { config: setup.raw, artifactsDir: setup.artifactsDir })}`);
  } catch (err) {
    progress.note(`warning: report.html not written: ${(err as Error).message}`);
  }
  return { rows, written };
}

/**
 * Rewrites docs.jsonl with the documents of ok jobs only, in plan order, then by document index.
 * A shard's documents go once its job is merged (they are then the job's own); until then they
 * stay, after the rest, so a resume reruns only the shards still missing.
 */
function writeDocsInPlanOrder(plan: readonly JobPlan[], records: ReadonlyMap<string, JobRecord>, docsPath: string): void {
  const planIndex = new Map<string, number>();
  plan.forEach((j, i) => planIndex.has(j.key) || planIndex.set(j.key, i));
  const merged = (r: JobRecord): boolean => r.shard !== undefined && records.get(r.shard.of)?.status === 'ok';
  const finalOk = new Set([...records.values()].filter((r) => r.status === 'ok' && !merged(r)).map((r) => r.key));
  const docs = readJsonl<DocRecord>(docsPath).items.filter((d) => finalOk.has(d.key));
  docs.sort((a, b) => (planIndex.get(a.key) ?? Infinity) - (planIndex.get(b.key) ?? Infinity) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.doc - b.doc);
  writeFileAtomic(docsPath, docs.map((d) => `${JSON.stringify(d)}\n`).join(''));
}

function prepareKey(j: JobPlan, variants: readonly ResolvedEntry[]): string {
  const v = variants[j.order[0]];
  return configHash({ id: v.id, options: v.options, seed: j.seed, budget: j.budget });
}

/** One job per distinct (variant config, seed, budget) among `pending` whose variant has a `prepare`, by prepare key. */
function distinctPrepares(pending: readonly JobPlan[], registry: PluginRegistry, variants: readonly ResolvedEntry[]): Map<string, JobPlan> {
  const todo = new Map<string, JobPlan>();
  for (const j of pending) {
    if (!registry.variant(j.variantId).prepare) continue;
    const k = prepareKey(j, variants);
    if (!todo.has(k)) todo.set(k, j);
  }
  return todo;
}

/** The worker message that runs the `prepare` job `j` needs. */
function prepareJob(j: JobPlan, variants: readonly ResolvedEntry[], seedKind: SweepConfig['seedKind'], artifactsDir: string): WorkerJob {
  const v = variants[j.order[0]];
  return { kind: 'prepare', variant: { id: v.id, options: v.rawOptions }, seed: j.seed, seedKind, budget: (j.budget || undefined) as Budget | undefined, artifactsDir };
}

/** The prepares of a sweep, running: which have ended, the failures by prepare key, and when all are done. */
interface RunningPrepares {
  /** True when the prepare `key` has ended (ok or failed), or when no prepare has that key (the variant has none). */
  ended(key: string): boolean;
  /** Resolves when the next prepare ends (at once when none is left running). */
  anyEnds(): Promise<void>;
  /** The failed prepares' messages by prepare key. */
  failed: Map<string, string>;
  /** Resolves when every prepare has ended (or the sweep was interrupted). */
  all: Promise<void>;
}

/**
 * Starts `prepare` once per distinct (variant config, seed, budget) among `pending`,
 * `prepareConcurrency` at a time on `pool`, in plan order; the jobs of a prepare may run as soon
 * as it has ended.
 */
function startPrepares(
  pending: readonly JobPlan[],
  registry: PluginRegistry,
  variants: readonly ResolvedEntry[],
  config: Pick<SweepConfig, 'prepareConcurrency' | 'seedKind'>,
  pool: WorkerPool,
  artifactsDir: string,
  signal: AbortSignal | undefined,
  progress: Progress,
): RunningPrepares {
  const todo = distinctPrepares(pending, registry, variants);
  const failed = new Map<string, string>();
  const ended = new Set<string>();
  let waiters: Array<() => void> = [];
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const list = [...todo.entries()];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length && !signal?.aborted) {
      const [k, j] = list[next++];
      const t0 = performance.now();
      let reply: WorkerReply;
      try {
        reply = await pool.run(prepareJob(j, variants, config.seedKind, artifactsDir), signal);
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
      done++;
      if (!reply.ok) failed.set(k, reply.error.message);
      ended.add(k);
      wake();
      progress.note(
        `prepare ${done}/${list.length}: ${j.variant}${j.budget ? ` [${j.budget}]` : ''} seed ${j.seed} ${reply.ok ? 'ok' : `FAILED: ${reply.error.message}`} (${((performance.now() - t0) / 1000).toFixed(1)}s)`,
      );
    }
  };
  if (list.length > 0) progress.note(`prepare: ${list.length} variant build(s)`);
  const all = Promise.all(Array.from({ length: Math.min(config.prepareConcurrency, pool.size, Math.max(1, list.length)) }, worker)).then(
    () => undefined,
  ).finally(() => {
    // Finished, interrupted or failed: no job waits on a prepare any longer.
    for (const [k] of list) ended.add(k);
    wake();
  });
  return {
    ended: (key) => !todo.has(key) || ended.has(key),
    anyEnds: () => (ended.size >= list.length ? Promise.resolve() : new Promise<void>((res) => waiters.push(res))),
    failed,
    all,
  };
}
