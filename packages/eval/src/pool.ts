/**
 * A piscina pool of worker threads that run sweep jobs. Each worker registers tsx (see
 * `worker-entry.mjs`), loads the plugins from the same specs as the main thread, runs each
 * variant's `setup()` once, and answers jobs with plain numbers. A job that throws, or a worker
 * that dies (even by `process.exit`), comes back as `{ ok: false, error }`; piscina replaces the
 * dead worker and the other jobs go on.
 */
import { defaultWorkers } from '@bam/utils';
import { threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { deadline, timedOutMessage } from './timeout.ts';
import type { WorkerJob, WorkerReply, WorkerSetup } from './worker.ts';
import { sharedPackages } from './plugin-imports.ts';

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
  /**
   * Per-worker resources (e.g. one GPU each; @bam/core's `workerDeviceAssignment` makes them):
   * worker slot i gets `env[i]` merged into its own `process.env` before any plugin loads, and
   * `labels[i]` in `assignments()`. A worker that replaces a dead one takes the slot it freed;
   * workers beyond `env.length` get nothing. Thread-local env only: native libraries that read the
   * real process environment (CUDA_VISIBLE_DEVICES) do not see it.
   */
  workerResources?: { env: ReadonlyArray<Record<string, string>>; labels?: readonly string[] };
}

/** What `workerResources` becomes in workerData: the envs and a shared slot → threadId table. */
interface WorkerResourceData {
  env: Array<Record<string, string>>;
  owners: SharedArrayBuffer;
  quiet?: boolean;
}

/**
 * Inside a worker: takes the first free resource slot (or the one this thread holds), merges its
 * env into this thread's `process.env`, and returns the slot, or null when the pool has no
 * resources or none is free. Call before loading plugins.
 */
export function claimWorkerSlot(data: unknown): number | null {
  const r = (data as { resources?: WorkerResourceData } | undefined)?.resources;
  if (!r) return null;
  const owners = new Int32Array(r.owners);
  let slot = owners.findIndex((_, i) => Atomics.load(owners, i) === threadId);
  for (let i = 0; slot < 0 && i < owners.length; i++) if (Atomics.compareExchange(owners, i, 0, threadId) === 0) slot = i;
  if (slot < 0) return null;
  Object.assign(process.env, r.env[slot]);
  if (!r.quiet) process.stderr.write(`[worker ${threadId}] resource slot ${slot}: ${Object.entries(r.env[slot]).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}\n`);
  return slot;
}

/** A fixed-size pool of worker threads running WorkerJobs. */
export class WorkerPool {
  /** The number of worker threads. */
  readonly size: number;
  private readonly piscina: Piscina;
  private readonly owners: Int32Array | null = null;
  private readonly labels: readonly string[] = [];

  constructor(opts: PoolOptions) {
    this.size = Math.max(1, Math.floor(opts.workers ?? defaultWorkers()));
    const workerData: WorkerSetup & { resources?: WorkerResourceData } = {
      pluginSpecs: [...opts.pluginSpecs],
      baseDir: opts.baseDir ?? process.cwd(),
      quiet: opts.quiet,
      sharedPackages: sharedPackages(),
    };
    if (opts.workerResources && opts.workerResources.env.length > 0) {
      const owners = new SharedArrayBuffer(4 * opts.workerResources.env.length);
      workerData.resources = { env: opts.workerResources.env.map((e) => ({ ...e })), owners, quiet: opts.quiet };
      this.owners = new Int32Array(owners);
      this.labels = opts.workerResources.labels ?? opts.workerResources.env.map((e) => Object.entries(e).map(([k, v]) => `${k}=${v}`).join(' '));
    }
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
    // A dead worker's slot is freed for its replacement (which claims it at its first job).
    if (this.owners) this.piscina.on('workerDestroy', () => setImmediate(() => this.releaseDeadSlots()));
  }

  /** Frees the slots of threads that are no longer in the pool. */
  private releaseDeadSlots(): void {
    if (!this.owners) return;
    const live = new Set(this.piscina.threads.map((t) => t.threadId).filter((id) => id > 0));
    for (let i = 0; i < this.owners.length; i++) {
      const owner = Atomics.load(this.owners, i);
      if (owner !== 0 && !live.has(owner)) Atomics.compareExchange(this.owners, i, owner, 0);
    }
  }

  /** Which worker thread holds each resource slot (null: not claimed yet), with the slot's label. */
  assignments(): Array<{ slot: number; threadId: number | null; label: string }> {
    if (!this.owners) return [];
    return Array.from(this.owners, (_, i) => {
      const t = Atomics.load(this.owners!, i);
      return { slot: i, threadId: t === 0 ? null : t, label: this.labels[i] ?? '' };
    });
  }

  /**
   * Runs one job in a worker. Resolves with the worker's reply, or with `{ ok: false }` when the
   * worker died or the job ran past `timeoutS` seconds (its worker is terminated and replaced);
   * rejects only when `signal` aborts.
   */
  async run(job: WorkerJob, signal?: AbortSignal, timeoutS?: number): Promise<WorkerReply> {
    this.releaseDeadSlots();
    const limit = timeoutS === undefined ? undefined : deadline(timeoutS, signal);
    const runSignal = limit?.signal ?? signal;
    try {
      return (await this.piscina.run(job, runSignal ? { signal: runSignal } : {})) as WorkerReply;
    } catch (err) {
      if (signal?.aborted) throw err;
      if (limit?.timedOut) return { ok: false, threadId: -1, error: { message: timedOutMessage(timeoutS as number), name: 'JobTimeoutError', code: 'E_TIMEOUT' } };
      const e = err as Error;
      return { ok: false, threadId: -1, error: { message: `worker died: ${e?.message ?? String(err)}`, name: e?.name ?? 'Error' } };
    } finally {
      limit?.clear();
    }
  }

  /** Stops every worker; pending jobs are rejected. */
  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
