/**
 * A piscina pool of worker threads that run sweep jobs. Each worker registers tsx (see
 * `worker-entry.mjs`), loads the plugins from the same specs as the main thread, runs each
 * variant's `setup()` once, and answers jobs with plain numbers. A job that throws, or a worker
 * that dies (even by `process.exit`), comes back as `{ ok: false, error }`; piscina replaces the
 * dead worker and the other jobs go on.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { WorkerJob, WorkerReply, WorkerSetup } from './worker.ts';

/** Options of WorkerPool. */
export interface PoolOptions {
  /** Number of worker threads (default: the machine's available parallelism). */
  workers?: number;
  /** Plugin modules every worker loads (absolute paths or package names). */
  pluginSpecs: readonly string[];
  /** Base folder for relative specs (default: the current directory). */
  baseDir?: string;
  /** Silence plugin loggers inside workers. */
  quiet?: boolean;
}

/** Workers used when none is configured: one per available core. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** A fixed-size pool of worker threads running WorkerJobs. */
export class WorkerPool {
  /** The number of worker threads. */
  readonly size: number;
  private readonly piscina: Piscina;

  constructor(opts: PoolOptions) {
    this.size = Math.max(1, Math.floor(opts.workers ?? defaultWorkers()));
    const workerData: WorkerSetup = { pluginSpecs: [...opts.pluginSpecs], baseDir: opts.baseDir ?? process.cwd(), quiet: opts.quiet };
    this.piscina = new Piscina({
      filename: new URL('./worker-entry.mjs', import.meta.url).href,
      minThreads: this.size,
      maxThreads: this.size,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
      // Message passing only: plugins may keep async work alive between jobs.
      atomics: 'disabled',
      workerData,
    });
    // A worker that dies also emits 'error' on the pool; its job's promise carries the error.
    this.piscina.on('error', () => {});
  }

  /**
   * Runs one job in a worker. Resolves with the worker's reply, or with `{ ok: false }` when the
   * worker died; rejects only when `signal` aborts.
   */
  async run(job: WorkerJob, signal?: AbortSignal): Promise<WorkerReply> {
    try {
      return (await this.piscina.run(job, signal ? { signal } : {})) as WorkerReply;
    } catch (err) {
      if (signal?.aborted) throw err;
      const e = err as Error;
      return { ok: false, threadId: -1, error: { message: `worker died: ${e?.message ?? String(err)}`, name: e?.name ?? 'Error' } };
    }
  }

  /** Stops every worker; pending jobs are rejected. */
  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
