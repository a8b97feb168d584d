/**
 * What a queued job carries between the coordinator and `bam worker`s: the WorkerJob local mode
 * hands its pool (so a worker runs exactly what a local sweep runs), the plugin modules to load,
 * and labels for progress lines. Replies travel as JSON, which has no NaN or ±Infinity; scores may
 * be either (a −∞ log-likelihood), so those numbers are written as tagged strings and read back.
 */
import type { WorkerJob, WorkerReply } from '../worker.ts';

/** The data of one BullMQ job. */
export interface QueuedJob {
  /** The sweep's name (for `bam queue status`). */
  sweep: string;
  /** `variant × task · seed` or `prepare variant seed`, for progress lines. */
  label: string;
  /** Plugin modules (absolute paths or package names) the worker loads, as the coordinator resolved them. */
  pluginSpecs: string[];
  /** How many of `pluginSpecs` are the built-ins of the coordinator's bam install (a worker loads its own instead). */
  builtinCount: number;
  baseDir: string;
  job: WorkerJob;
  /** Per-job time limit in seconds (the config's `timeout`), as in local mode. */
  timeoutS?: number;
}

const NON_FINITE = '\u0000num:';

/** A worker's reply as a JSON string that keeps NaN and ±Infinity. */
export function encodeReply(reply: WorkerReply): string {
  return JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `${NON_FINITE}${v}` : v));
}

/** The reply `encodeReply` wrote. */
export function decodeReply(text: string): WorkerReply {
  return JSON.parse(text, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(NON_FINITE) ? Number(v.slice(NON_FINITE.length)) : v)) as WorkerReply;
}

/** BullMQ job ids may not contain ':'; sweep keys and prepare hashes are hex, so a kind prefix keeps them apart. */
export function queueJobId(kind: 'prepare' | 'evaluate', key: string): string {
  return `${kind}-${key}`;
}
