/**
 * Where a queue-mode sweep stands: jobs queued / running (on which worker) / done / failed and an
 * ETA. The coordinator prints it as its jobs move, and `bam queue status` prints the same from any
 * machine that reaches Redis.
 */
import { Queue } from 'bullmq';
import { formatDuration } from '../util/text.ts';
import { connectQueue, QUEUE_NAME, QUEUE_PREFIX } from './connection.ts';
import type { QueuedJob } from './jobs.ts';

/** One job a worker is running. */
export interface RunningJob {
  label: string;
  /** The `bam worker` running it (`host:pid`), when known. */
  worker: string;
  /** Seconds since it started. */
  seconds: number;
}

/** A snapshot of jobs by state. */
export interface QueueCounts {
  queued: number;
  running: RunningJob[];
  done: number;
  failed: number;
  /** Seconds until the queued and running jobs are done, at the pace so far (undefined: no pace yet). */
  etaS?: number;
}

/** The one-line summary, e.g. `queued 3 · running 2 (a × b · seed 0 on host:12) · done 5 · failed 0 · ETA 1:10`. */
export function formatCounts(c: QueueCounts): string {
  const running = c.running.length === 0 ? 'running 0' : `running ${c.running.length} (${c.running.map((r) => `${r.label} on ${r.worker || '?'}`).join('; ')})`;
  return `queued ${c.queued} · ${running} · done ${c.done} · failed ${c.failed} · ETA ${c.etaS === undefined ? '?' : formatDuration(c.etaS)}`;
}

/** The name a `bam worker` gives BullMQ (stored on every job it processes). */
export function workerNameOf(rawClientName: string | undefined): string {
  const i = rawClientName?.indexOf(':w:') ?? -1;
  return i >= 0 ? (rawClientName as string).slice(i + 3) : '';
}

/** What `bam queue status` reports: the counts, the connected workers, and jobs by sweep. */
export interface QueueStatus extends QueueCounts {
  url: string;
  workers: string[];
  /** Jobs waiting for a retry after a failed attempt (counted in queued). */
  retrying: number;
}

/**
 * Reads the queue at `url` (throws QueueError within seconds when Redis is not there). The ETA
 * divides the remaining jobs by the number of running ones, at the mean duration of the last 50
 * completed jobs.
 */
export async function readQueueStatus(url: string): Promise<QueueStatus> {
  const { target, connection } = await connectQueue(url);
  const queue = new Queue<QueuedJob>(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  try {
    const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'waiting-children', 'active', 'completed', 'failed');
    const active = await queue.getJobs(['active']);
    const recent = await queue.getJobs(['completed'], 0, 49);
    const workers = (await queue.getWorkers()).map((w) => `${workerNameOf(w.rawname) || '(unnamed)'} ${w.addr ?? ''}`.trim());
    const now = Date.now();
    const running = active.map((j) => ({ label: j.data?.label ?? String(j.id), worker: j.processedBy ?? '', seconds: j.processedOn ? (now - j.processedOn) / 1000 : 0 }));
    const durations = recent.filter((j) => j.finishedOn && j.processedOn).map((j) => ((j.finishedOn as number) - (j.processedOn as number)) / 1000);
    const queued = counts.wait + counts.prioritized + counts.delayed + counts['waiting-children'];
    const pace = durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : undefined;
    const etaS = pace === undefined ? undefined : (pace * (queued + running.length)) / Math.max(1, running.length);
    return { url: target.display, queued, running, done: counts.completed, failed: counts.failed, etaS, workers, retrying: counts.delayed };
  } finally {
    await queue.close();
  }
}

/** `bam queue status`'s text. */
export function formatQueueStatus(s: QueueStatus): string {
  const lines = [`queue ${s.url}: ${formatCounts(s)}`];
  lines.push(`workers connected: ${s.workers.length}${s.workers.length ? ` (${s.workers.join(', ')})` : ''}`);
  if (s.retrying > 0) lines.push(`${s.retrying} job(s) wait for a retry after a failed attempt`);
  for (const r of s.running) lines.push(`  running ${r.label} on ${r.worker || '?'} for ${formatDuration(r.seconds)}`);
  return lines.join('\n');
}
