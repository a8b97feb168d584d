/**
 * The worker's half of queue mode (`bam worker`): takes jobs from the queue and runs them on the
 * same piscina pool as a local sweep (one thread per core, or per GPU), one job per thread. BullMQ
 * holds a lock on each running job and renews it every lease/2; a worker that dies (kill -9, a lost
 * machine) stops renewing, and another worker's stalled-job check puts the job back in the queue
 * after the lease. A job that fails (its reply is not ok, or its thread died) is retried with
 * backoff, and after its attempts it is failed, which the coordinator records as a failed row.
 * Stopping (`signal`, from SIGINT/SIGTERM) takes no new jobs and finishes the running ones.
 */
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import { errorLine } from '@bam/utils';
import { WorkerPool, type PoolOptions } from '../pool.ts';
import { connectQueue, QUEUE_NAME, QUEUE_PREFIX } from './connection.ts';
import { encodeReply, type QueuedJob } from './jobs.ts';

/** Options of runQueueWorker. */
export interface QueueWorkerOptions {
  url: string;
  /** Worker threads, i.e. jobs run at once. */
  workers: number;
  /** Per-thread resources (one GPU each), as in local mode. */
  workerResources?: PoolOptions['workerResources'];
  /** Take at most this many jobs, then stop (batch clusters). */
  maxJobs?: number;
  /** Stop after this many seconds with nothing to do. */
  idleExitS?: number;
  /**
   * This install's built-in plugin modules, loaded instead of the coordinator's (whose absolute
   * paths may not exist here); the config's own plugins must be reachable at the same path.
   */
  builtinSpecs?: readonly string[];
  /** The artifact store's path on this machine (the shared folder may be mounted elsewhere than on the coordinator's). */
  artifactsDir?: string;
  /** The job lock's lease in seconds: a dead worker's job is re-queued about this long after it died (default 30). */
  leaseS?: number;
  quiet?: boolean;
  /** Stops taking jobs; running ones finish. */
  signal?: AbortSignal;
  log(line: string): void;
}

/** What a worker did before it stopped. */
export interface QueueWorkerSummary {
  name: string;
  completed: number;
  failed: number;
  /** Why it stopped: `signal`, `max-jobs` or `idle`. */
  reason: string;
}

/** Runs jobs from the queue at `opts.url` until stopped; throws QueueError when Redis is not there. */
export async function runQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorkerSummary> {
  const { target, connection } = await connectQueue(opts.url);
  const name = `${hostname()}:${process.pid}`;
  const leaseMs = Math.max(1, opts.leaseS ?? 30) * 1000;
  // One pool per set of plugin modules (sweeps with other plugins get their own threads).
  const pools = new Map<string, WorkerPool>();
  const poolFor = (d: QueuedJob): WorkerPool => {
    const specs = opts.builtinSpecs ? [...opts.builtinSpecs, ...d.pluginSpecs.slice(d.builtinCount)] : d.pluginSpecs;
    const key = JSON.stringify([specs, d.baseDir]);
    let pool = pools.get(key);
    if (!pool) {
      pool = new WorkerPool({ workers: opts.workers, pluginSpecs: specs, baseDir: d.baseDir, quiet: opts.quiet, workerResources: opts.workerResources });
      pools.set(key, pool);
    }
    return pool;
  };

  let taken = 0;
  let active = 0;
  let lastBusy = Date.now();
  let reason = '';
  const summary = { completed: 0, failed: 0 };
  const processor = async (job: Job<QueuedJob>): Promise<string> => {
    taken++;
    active++;
    if (opts.maxJobs !== undefined && taken >= opts.maxJobs) void stop('max-jobs');
    const d = job.data;
    const wj = opts.artifactsDir ? { ...d.job, artifactsDir: opts.artifactsDir } : d.job;
    opts.log(`start ${d.label} (${d.sweep}, attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1})`);
    try {
      const reply = await poolFor(d).run(wj, undefined, d.timeoutS);
      if (!reply.ok) throw new Error(reply.error.message);
      return encodeReply(reply);
    } finally {
      active--;
      lastBusy = Date.now();
    }
  };

  const worker = new Worker<QueuedJob, string>(QUEUE_NAME, processor, {
    connection,
    prefix: QUEUE_PREFIX,
    name,
    concurrency: Math.max(1, Math.min(opts.workers, opts.maxJobs ?? Infinity)),
    lockDuration: leaseMs,
    stalledInterval: Math.max(1000, Math.round(leaseMs / 2)),
    // A job whose workers keep dying (e.g. out of memory) fails after this many re-queues instead of cycling.
    maxStalledCount: 3,
    autorun: false,
  });
  let lastError = '';
  worker.on('error', (err) => {
    const line = errorLine(err);
    if (line !== lastError) opts.log(`queue ${target.display}: ${line} (retrying)`);
    lastError = line;
  });
  worker.on('completed', (job) => {
    summary.completed++;
    opts.log(`done ${job.data.label} (${secondsOf(job)})`);
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    if (final) summary.failed++;
    opts.log(`${final ? 'FAILED' : 'attempt failed, retrying later:'} ${job.data.label}: ${errorLine(err)}`);
  });

  let closing: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    if (!closing) {
      reason = why;
      opts.log(`stopping (${why}): no new jobs${active > 0 ? `; finishing ${active} running` : ''}`);
      closing = worker.close();
    }
    return closing;
  };
  const onAbort = (): void => void stop('signal');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const idle =
    opts.idleExitS === undefined
      ? undefined
      : setInterval(() => {
          if (active === 0 && Date.now() - lastBusy >= (opts.idleExitS as number) * 1000) void stop('idle');
        }, 250);

  opts.log(`worker ${name}: ${opts.workers} thread(s) on ${target.display}, lease ${leaseMs / 1000}s`);
  try {
    if (!opts.signal?.aborted) {
      await worker.waitUntilReady();
      lastBusy = Date.now(); // idle time counts from when jobs can be taken
      await worker.run();
    }
    await stop(reason || 'signal');
  } finally {
    if (idle) clearInterval(idle);
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all([...pools.values()].map((p) => p.destroy()));
  }
  return { name, ...summary, reason };
}

function secondsOf(job: Job): string {
  return job.finishedOn && job.processedOn ? `${((job.finishedOn - job.processedOn) / 1000).toFixed(1)}s` : '?';
}
