/**
 * The coordinator's half of queue mode: turns a sweep's pending jobs into BullMQ jobs and hands
 * each result to the sweep's own record path as it arrives. Prepare jobs (variant builds) go first;
 * the evaluation jobs that need one are added when it completes (one build feeds many evaluations,
 * which a BullMQ flow's one-parent tree cannot express), or recorded as failed when it fails, as in
 * local mode. Job ids are the sweep's config hashes, so a re-submitted or resumed sweep adds
 * nothing twice: a job already queued or running is waited for, a completed one's result is taken
 * as it is, and a failed one is retried with fresh attempts (local mode reruns failed jobs too).
 *
 * The coordinator polls each outstanding job's state: a job Redis lost is added again, and a
 * coordinator killed and restarted with --resume finds its jobs where the workers left them.
 */
import { Job, Queue } from 'bullmq';
import { errorLine } from '@bam/utils';
import type { WorkerJob, WorkerReply } from '../worker.ts';
import { connectQueue, QUEUE_NAME, QUEUE_PREFIX } from './connection.ts';
import { decodeReply, queueJobId, type QueuedJob } from './jobs.ts';
import { formatCounts, type QueueCounts, type RunningJob } from './status.ts';

/** A variant build that evaluation jobs wait for. */
export interface QueuePrepare {
  /** The prepare's content key (variant config, seed, budget, artifacts folder). */
  key: string;
  label: string;
  job: WorkerJob;
}

/** An evaluation job of the sweep. */
export interface QueueEvaluation {
  /** The job's config hash (the results' `config_hash`). */
  key: string;
  label: string;
  job: WorkerJob;
  timeoutS?: number;
  /** The key of the prepare it needs, if its variant has one. */
  prepare?: string;
}

/** A finished evaluation as the record path wants it. */
export type QueueReply = WorkerReply | { ok: false; threadId: number; error: { message: string } };

/** Options of runOnQueue. */
export interface QueueScheduleOptions {
  url: string;
  sweep: string;
  pluginSpecs: string[];
  /** How many of `pluginSpecs` are bam's built-ins (each worker loads those from its own install). */
  builtinCount: number;
  baseDir: string;
  prepares: QueuePrepare[];
  evaluations: QueueEvaluation[];
  /** Attempts per job before it counts as failed (retries back off exponentially from 1 s). */
  attempts: number;
  /** Stops waiting (the jobs stay queued; --resume picks them up). */
  signal?: AbortSignal;
  /** How often job states are read, in ms (default 500). */
  pollMs?: number;
  note(line: string): void;
  /** A prepare finished (ok or failed after its attempts). */
  onPrepared(p: QueuePrepare, ok: boolean, seconds: number, error?: string): void;
  /** An evaluation finished; `worker` is the `bam worker` that ran it. */
  onResult(e: QueueEvaluation, reply: QueueReply, seconds: number, worker: string, remaining: number): void;
}

/** Completed and failed jobs stay a day, so re-submitted sweeps find them. */
const KEEP_S = 24 * 3600;

/** Runs the jobs on the queue at `url` until every one has a result (or `signal` aborts); returns how many evaluations finished. */
export async function runOnQueue(opts: QueueScheduleOptions): Promise<number> {
  const { target, connection } = await connectQueue(opts.url);
  const queue = new Queue<QueuedJob>(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  let lastError = '';
  queue.on('error', (err) => {
    const line = errorLine(err);
    if (line !== lastError) opts.note(`queue ${target.display}: ${line} (retrying)`);
    lastError = line;
  });
  const jobOpts = { attempts: Math.max(1, opts.attempts), backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: KEEP_S }, removeOnFail: { age: KEEP_S } };

  /** Adds the job unless it exists; a failed one is retried with fresh attempts. */
  const submit = async (id: string, label: string, job: WorkerJob, timeoutS?: number): Promise<void> => {
    const state = await queue.getJobState(id);
    if (state === 'unknown') {
      await queue.add(job.kind, { sweep: opts.sweep, label, pluginSpecs: opts.pluginSpecs, builtinCount: opts.builtinCount, baseDir: opts.baseDir, job, ...(timeoutS === undefined ? {} : { timeoutS }) }, { ...jobOpts, jobId: id });
    } else if (state === 'failed') {
      await (await Job.fromId(queue, id))?.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    }
  };

  // Outstanding jobs by BullMQ id; evaluations not yet submitted wait for their prepare.
  const prepares = new Map(opts.prepares.map((p) => [queueJobId('prepare', p.key), p]));
  const evaluations = new Map<string, QueueEvaluation>();
  const blocked = new Map<string, QueueEvaluation[]>();
  for (const e of opts.evaluations) {
    if (e.prepare && prepares.has(queueJobId('prepare', e.prepare))) blocked.set(e.prepare, [...(blocked.get(e.prepare) ?? []), e]);
    else evaluations.set(queueJobId('evaluate', e.key), e);
  }
  let ran = 0;
  const remaining = (): number => evaluations.size + [...blocked.values()].reduce((n, l) => n + l.length, 0);
  const finish = (e: QueueEvaluation, reply: QueueReply, seconds: number, worker: string): void => {
    ran++;
    opts.onResult(e, reply, seconds, worker, remaining());
  };

  try {
    for (const [id, p] of prepares) await submit(id, p.label, p.job);
    for (const [id, e] of evaluations) await submit(id, e.label, e.job, e.timeoutS);
    if (prepares.size + evaluations.size > 0) opts.note(`queue ${target.display}: ${prepares.size} prepare and ${remaining()} evaluation job(s) submitted; start workers with: bam worker --queue ${target.display}`);
    let lastLine = '';
    let failed = 0;
    const t0 = performance.now();
    let done = 0;
    while ((prepares.size > 0 || evaluations.size > 0) && !opts.signal?.aborted) {
      const running: RunningJob[] = [];
      let queued = 0;
      // One round trip for all: ioredis sends concurrent commands down one connection back to back.
      const prepareLooks = await Promise.all([...prepares].map(async ([id, p]) => [id, p, await look(queue, id)] as const));
      for (const [id, p, r] of prepareLooks) {
        if (r.state === 'unknown') await submit(id, p.label, p.job);
        else if (r.state === 'active') running.push({ label: p.label, worker: r.worker, seconds: r.seconds });
        else if (r.state === 'completed' || r.state === 'failed') {
          prepares.delete(id);
          const error = r.state === 'failed' ? r.error : undefined;
          opts.onPrepared(p, error === undefined, r.seconds, error);
          const waiting = blocked.get(p.key) ?? [];
          blocked.delete(p.key);
          for (const e of waiting) {
            if (error !== undefined) {
              finish(e, { ok: false, threadId: -1, error: { message: `prepare failed: ${error}` } }, 0, '');
              failed++;
              done++;
            } else {
              const eid = queueJobId('evaluate', e.key);
              evaluations.set(eid, e);
              await submit(eid, e.label, e.job, e.timeoutS);
            }
          }
        } else queued++;
      }
      const evaluationLooks = await Promise.all([...evaluations].map(async ([id, e]) => [id, e, await look(queue, id)] as const));
      for (const [id, e, r] of evaluationLooks) {
        if (r.state === 'unknown') await submit(id, e.label, e.job, e.timeoutS);
        else if (r.state === 'active') running.push({ label: e.label, worker: r.worker, seconds: r.seconds });
        else if (r.state === 'completed' || r.state === 'failed') {
          evaluations.delete(id);
          const reply: QueueReply = r.state === 'completed' ? decodeReply(r.result) : { ok: false, threadId: -1, error: { message: r.error } };
          if (!reply.ok) failed++;
          done++;
          finish(e, reply, r.seconds, r.worker);
        } else queued++;
      }
      // Evaluations still waiting for their prepare are queued too (counted once the prepares moved them).
      queued += [...blocked.values()].reduce((n, l) => n + l.length, 0);
      const elapsed = (performance.now() - t0) / 1000;
      const counts: QueueCounts = { queued, running, done, failed, etaS: done > 0 ? (elapsed / done) * remaining() : undefined };
      const line = formatCounts({ ...counts, running: running.map((r) => ({ ...r, seconds: 0 })) });
      if (line !== lastLine && remaining() > 0) opts.note(`queue: ${line}`);
      lastLine = line;
      if (prepares.size > 0 || evaluations.size > 0) await sleep(opts.pollMs ?? 500, opts.signal);
    }
    return ran;
  } finally {
    await queue.close();
  }
}

/** One job's state, with its result or error when finished and its worker when running. */
type Look =
  | { state: 'unknown' | 'queued' }
  | { state: 'active'; worker: string; seconds: number }
  | { state: 'completed'; result: string; worker: string; seconds: number }
  | { state: 'failed'; error: string; worker: string; seconds: number };

async function look(queue: Queue<QueuedJob>, id: string): Promise<Look> {
  const state = await queue.getJobState(id);
  if (state === 'unknown') return { state };
  if (state !== 'active' && state !== 'completed' && state !== 'failed') return { state: 'queued' };
  const job = await Job.fromId<QueuedJob, string>(queue, id);
  if (!job) return { state: 'unknown' };
  const worker = job.processedBy ?? '';
  const end = job.finishedOn ?? Date.now();
  const seconds = job.processedOn ? Math.max(0, end - job.processedOn) / 1000 : 0;
  if (state === 'active') return { state, worker, seconds };
  // A job's state and its fields are read in two calls; a job still being moved is looked at next time.
  if (state === 'completed') return typeof job.returnvalue === 'string' ? { state, result: job.returnvalue, worker, seconds } : { state: 'queued' };
  return { state, error: job.failedReason || 'failed with no reason', worker, seconds };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolveSleep) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolveSleep();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
