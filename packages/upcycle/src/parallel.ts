/**
 * Runs independent pipeline jobs: on a piscina pool of worker threads (one TF.js backend per
 * worker; on 2 cores two workers are ~1.8× one), or in order on the main thread when one worker is
 * asked for. Both paths run the same `runUpcycleJob`. One `JobRunner` serves every parallel stage
 * of a pipeline run, so workers start (tsx, TF.js, token streams) once, and only when two or more
 * jobs have something to build: finished artifacts are looked up on this thread, and a lone job
 * builds here.
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { BamError, BACKEND_NAMES, activeBackend, type BackendName } from '@bam/core';
import { defaultWorkers } from '@bam/utils';
import { jobLabel, runUpcycleJob, type UpcycleJob } from './jobs.ts';
import type { StageOutcome } from './store.ts';
import type { CheckpointStageResult } from './stages/context.ts';
import type { UpcycleReply, UpcycleWorkerData } from './worker.ts';

/** The bam name of the active TF.js backend (for the workers to select the same one), if it is one of bam's. */
function workerBackend(): BackendName | undefined {
  const name = activeBackend();
  return (BACKEND_NAMES as readonly string[]).includes(name) ? (name as BackendName) : undefined;
}

/** A job's planned training FLOPs: what the runner orders the parallel jobs by. */
function jobCost(job: UpcycleJob): number {
  return job.kind === 'train-mixture' ? job.plan.flops : job.preset.stages.experts.steps;
}

/** Options of `JobRunner`. */
export interface JobRunnerOptions {
  /** Worker threads (default: one per core); 1 runs every job in order on this thread. */
  workers?: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** Runs batches of jobs on one lazily started pool (or inline). Call `close()` when done. */
export class JobRunner {
  readonly workers: number;
  private pool: Piscina | undefined;

  constructor(private readonly opts: JobRunnerOptions) {
    this.workers = Math.max(1, Math.floor(opts.workers ?? defaultWorkers()));
  }

  /**
   * Runs `jobs` and returns their outcomes in job order. The first failure is rethrown as a
   * BamError naming the job, after the jobs already running have finished (their checkpoints
   * stay consistent for a resume). The pool starts only for jobs whose artifacts are not built,
   * and only when there are two or more of them (a single one builds on this thread).
   */
  async run(jobs: readonly UpcycleJob[]): Promise<Array<StageOutcome<CheckpointStageResult>>> {
    const { log, signal } = this.opts;
    if (this.workers <= 1 || jobs.length === 0) {
      const out: Array<StageOutcome<CheckpointStageResult>> = [];
      for (const job of jobs) out.push(await runUpcycleJob(job, log, signal));
      return out;
    }
    // Finished artifacts are looked up here: starting a worker (tsx, TF.js) only to read a DONE
    // record costs seconds, and a sweep's prepares mostly reuse.
    const outcomes: Array<StageOutcome<CheckpointStageResult> | undefined> = [];
    for (const job of jobs) outcomes.push(await lookUpBuilt(job, log));
    const todo = jobs.map((_, i) => i).filter((i) => !outcomes[i]);
    if (todo.length === 1 && !this.pool) {
      // One job to build and no pool yet: nothing to run beside it, so this thread (its TF.js
      // already up) builds it; a worker would first spend seconds starting tsx and TF.js.
      outcomes[todo[0]] = await runUpcycleJob(jobs[todo[0]], log, signal);
    } else if (todo.length > 0) {
      const built = await this.runOnPool(todo.map((i) => jobs[i]));
      todo.forEach((i, k) => (outcomes[i] = built[k]));
    }
    return outcomes as Array<StageOutcome<CheckpointStageResult>>;
  }

  /** `run` on the worker pool (started on first use): every job of `jobs` builds. */
  private async runOnPool(jobs: readonly UpcycleJob[]): Promise<Array<StageOutcome<CheckpointStageResult>>> {
    const { log, signal } = this.opts;
    // Longest first (by planned FLOPs), so no long job starts last while a worker sits idle.
    const order = jobs.map((_, i) => i).sort((a, b) => jobCost(jobs[b]) - jobCost(jobs[a]) || a - b);
    const data: UpcycleWorkerData = { backend: workerBackend() };
    if (!this.pool) log(`starting up to ${this.workers} worker threads for ${jobs.length} job(s) to build`);
    this.pool ??= new Piscina({
      filename: new URL('./worker-entry.mjs', import.meta.url).href,
      minThreads: 1,
      maxThreads: this.workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      atomics: 'disabled',
      workerData: data,
    });
    this.pool.on('error', () => {});
    const pool = this.pool;
    const runOne = async (job: UpcycleJob): Promise<StageOutcome<CheckpointStageResult>> => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (line: string) => log(line));
      // Abort reaches the worker as a shared-memory flag, not by terminating it: the job stops at
      // its next log point and releases its artifact lock, so this process can build it later.
      const abortFlag = new Int32Array(new SharedArrayBuffer(4));
      const onAbort = () => Atomics.store(abortFlag, 0, 1);
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort);
      try {
        const reply = (await pool.run({ job, port: port2, abortFlag }, { transferList: [port2] })) as UpcycleReply;
        if (!reply.ok) throw new BamError(`${jobLabel(job)} failed: ${reply.error.message}`, reply.error.code ?? 'E_JOB');
        return reply.outcome as StageOutcome<CheckpointStageResult>;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        port1.close();
      }
    };
    // piscina starts queued tasks in submission order: submit longest first, keep results in job order.
    const running: Array<Promise<StageOutcome<CheckpointStageResult>>> = new Array(jobs.length);
    for (const i of order) running[i] = runOne(jobs[i]);
    const settled = await Promise.allSettled(running);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<StageOutcome<CheckpointStageResult>>).value);
  }

  /** Stops the workers (if any were started). */
  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}

/** Already aborted: a stage run with it returns a finished artifact and builds nothing (the store checks it before taking a lock). */
const LOOKUP_ONLY = { aborted: true } as const;

/** The job's finished artifact, read on this thread (its progress lines go to `log`); undefined when it still has to build. */
async function lookUpBuilt(job: UpcycleJob, log: (line: string) => void): Promise<StageOutcome<CheckpointStageResult> | undefined> {
  const lines: string[] = [];
  try {
    const outcome = await runUpcycleJob(job, (line) => lines.push(line), LOOKUP_ONLY);
    lines.forEach(log);
    return outcome;
  } catch {
    return undefined; // not built (or damaged): a worker builds it, and reports any real error
  }
}

/** Runs one batch of jobs on a fresh runner (see `JobRunner.run`). */
export async function runJobs(jobs: readonly UpcycleJob[], opts: JobRunnerOptions): Promise<Array<StageOutcome<CheckpointStageResult>>> {
  const runner = new JobRunner(opts);
  try {
    return await runner.run(jobs);
  } finally {
    await runner.close();
  }
}
