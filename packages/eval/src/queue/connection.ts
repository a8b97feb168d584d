/**
 * The Redis side of queue mode (docs/distributed.md): parsing `--queue redis://HOST:PORT[/DB]`,
 * a first connection that fails within seconds with a QueueError (ioredis would otherwise retry
 * forever and the command would hang), and the connection options every BullMQ Queue, Worker and
 * QueueEvents of bam uses afterwards — those retry with backoff, so a Redis restart mid-sweep is
 * ridden out rather than fatal.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { BamError, errorLine } from '@bam/utils';

/** The BullMQ queue every sweep and worker of one Redis database shares (isolate sweeps by database: `/DB`). */
export const QUEUE_NAME = 'sweep';
/** The key prefix of bam's BullMQ keys in Redis. */
export const QUEUE_PREFIX = 'bam';

/** How long the first connection may take before the queue URL is reported unreachable. */
const CONNECT_TIMEOUT_MS = 3000;

/** The queue URL is malformed, or Redis cannot be reached at it. */
export class QueueError extends BamError {
  constructor(message: string, hint?: string) {
    super(message, 'E_QUEUE', hint);
  }
}

/** A parsed queue URL: what ioredis needs, and the URL without its password (for messages). */
export interface QueueTarget {
  url: string;
  /** The URL with any password replaced by `***`. */
  display: string;
  options: RedisOptions;
}

/** Parses `redis://[USER:PASS@]HOST[:PORT][/DB]` (or `rediss://` for TLS); throws QueueError naming what is wrong. */
export function parseQueueUrl(url: string): QueueTarget {
  const hint = 'give --queue redis://HOST:PORT[/DB], e.g. redis://127.0.0.1:6379/0';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QueueError(`--queue '${url}' is not a URL`, hint);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new QueueError(`--queue '${url}': the scheme must be redis:// or rediss://, not ${u.protocol}//`, hint);
  if (!u.hostname) throw new QueueError(`--queue '${url}' names no host`, hint);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new QueueError(`--queue '${url}': the database '${dbText}' is not a number ≥ 0`, hint);
  const port = u.port === '' ? 6379 : Number(u.port);
  const display = u.password ? url.replace(`:${u.password}@`, ':***@') : url;
  return {
    url,
    display,
    options: {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port,
      db,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
}

/**
 * Checks that Redis answers at `target` within a few seconds (one connection, no retries, PING),
 * then closes it. Throws QueueError saying why (refused, timed out, wrong password, ...) and how to
 * fix it.
 */
export async function checkReachable(target: QueueTarget): Promise<void> {
  const probe = new Redis({ ...target.options, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // The socket's own error (ECONNREFUSED, ENOTFOUND, ...) says more than connect()'s "Connection is closed".
  let socketError: unknown;
  probe.on('error', (err) => (socketError ??= err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    const why = errorLine(socketError ?? err) || 'no answer';
    throw new QueueError(
      `cannot reach Redis at ${target.display}: ${why}`,
      `start it (redis-server --port ${target.options.port}) or fix --queue; every machine of the sweep must reach it (docs/distributed.md)`,
    );
  } finally {
    probe.disconnect();
  }
}

/**
 * The connection options of bam's BullMQ objects: retry forever with a capped backoff (a Redis
 * restart is waited out), `maxRetriesPerRequest: null` as BullMQ's workers require.
 */
export function bullConnection(target: QueueTarget): BullRedisOptions {
  return { ...target.options, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 * times, 2000) };
}

/** Parses `url` and checks Redis answers there; the connection options for BullMQ. */
export async function connectQueue(url: string): Promise<{ target: QueueTarget; connection: BullRedisOptions }> {
  const target = parseQueueUrl(url);
  await checkReachable(target);
  return { target, connection: bullConnection(target) };
}
