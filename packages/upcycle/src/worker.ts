/**
 * The piscina worker of the upcycle pool: selects the main thread's TF.js backend once, then runs
 * jobs with `runUpcycleJob`, sending progress lines back on the job's message port. Abort is a
 * flag in shared memory (`abortFlag[0] = 1`), read synchronously at the job's log points: a
 * message would wait for the event loop, which a training job does not yield to. Errors come
 * back as plain data (`{ ok: false, error }`) so the BamError code and hint survive the message.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { selectBackend, type BackendName } from '@bam/core';
import { runUpcycleJob, type UpcycleJob } from './jobs.ts';
import type { StageOutcome } from './store.ts';

/** What the pool hands every worker. */
export interface UpcycleWorkerData {
  backend?: BackendName;
}

/** A job's answer. */
export type UpcycleReply =
  | { ok: true; outcome: StageOutcome }
  | { ok: false; error: { message: string; name: string; code?: string; stack?: string } };

let ready: Promise<unknown> | undefined;

/** Runs one job (piscina calls this with `{ job, port }`). */
export default async function handle(task: { job: UpcycleJob; port: MessagePort; abortFlag: Int32Array }): Promise<UpcycleReply> {
  const { job, port } = task;
  try {
    ready ??= selectBackend({ prefer: (workerData as UpcycleWorkerData | undefined)?.backend, log: () => {} });
    await ready;
    const signal = { get aborted() { return Atomics.load(task.abortFlag, 0) === 1; } };
    const outcome = await runUpcycleJob(job, (line) => port.postMessage(line), signal);
    return { ok: true, outcome };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { ok: false, error: { message: e?.message ?? String(err), name: e?.name ?? 'Error', code: typeof e?.code === 'string' ? e.code : undefined, stack: e?.stack } };
  } finally {
    port.close();
  }
}
