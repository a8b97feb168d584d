/**
 * File locks with leases: one holder at a time across processes, worker threads and hosts that
 * share a disk, and a lock whose holder is gone never wedges the next run.
 *
 * A lock file is JSON naming its holder: host, pid, thread, the process's start time (Linux:
 * `/proc/<pid>/stat` field 22 with the boot id, so a recycled pid is told apart from the holder), a
 * random token, when it was taken and a heartbeat the holder renews every `leaseMs / 4` (an
 * unref'd timer, so it never keeps a process alive). It is created complete and atomically: written
 * to a private temp file, then hard-linked to its name (`link` fails when the name exists), so two
 * processes never both hold it and nobody reads half a lock that bam wrote.
 *
 * A lock is stale, and is taken over with one line saying why, when
 * - its holder is on this host (same hostname and pid namespace) and its pid is dead, or the pid
 *   now belongs to a process that started at another time (a recycled pid);
 * - its holder is on another host (a shared disk, a restarted container) and its heartbeat is
 *   older than its lease;
 * - the file is not a lock bam can read (half-written by a crash, garbage) and has not changed
 *   for a lease.
 * On this host a live holder is waited for however old its heartbeat: liveness is checked exactly
 * there, and a long synchronous step (which delays the heartbeat timer) must not lose its lock.
 * Where the start time cannot be read (not Linux), the heartbeat decides as on another host.
 *
 * Taking over goes through `<file>.break` (itself an exclusive create), so two waiters that both
 * find the lock stale cannot both remove it and both take it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import { BamError } from './errors.ts';

/** What a lock file records. */
export interface LockHolder {
  format: 'bam-lock';
  host: string;
  pid: number;
  threadId: number;
  /** The process's start time (`<boot id>:<ticks since boot>` on Linux), null where unknown. */
  processStart: string | null;
  /** The pid namespace (Linux: `pid:[4026531836]`), null where unknown: containers may share a hostname. */
  pidNamespace?: string | null;
  /** Unique per acquisition: a holder renews and releases only its own lock. */
  token: string;
  /** What is being done under the lock (for the waiting message). */
  purpose?: string;
  acquiredAt: string;
  heartbeatAt: string;
  leaseMs: number;
}

/** Options of `acquireLock` / `tryAcquireLock`. */
export interface LockOptions {
  /** A holder whose heartbeat is older than this is gone (other hosts); default 60 s. */
  leaseMs?: number;
  /** How often a waiter looks again, in ms (default 500). */
  pollMs?: number;
  /** Give up waiting after this many ms with a `LockTimeoutError` (default: wait as long as it takes). */
  timeoutMs?: number;
  /** Recorded in the lock and shown to waiters, e.g. `building expert/3f2a…`. */
  purpose?: string;
  /** One-line messages: takeovers and the first wait on each holder. */
  log?: (line: string) => void;
  /** Stops waiting (a `LockAbortedError`) once set; read on every poll. */
  signal?: { readonly aborted: boolean };
  /** Extra words on how to break the lock, after `delete <file>` (e.g. `or run bam store gc …`). */
  breakHint?: string;
}

/** A lock held by this thread. `release()` is idempotent; `lost` is set when another took it over. */
export interface HeldLock {
  readonly file: string;
  readonly holder: LockHolder;
  /** True once a renewal found the file no longer ours (the lock was broken or taken over). */
  readonly lost: boolean;
  release(): void;
}

/** Waiting for a lock ran past `timeoutMs`; says who holds it and how to break it. */
export class LockTimeoutError extends BamError {
  constructor(message: string, hint: string) {
    super(message, 'E_LOCK_TIMEOUT', hint);
  }
}

/** The wait was aborted through `signal`. */
export class LockAbortedError extends BamError {
  constructor(message: string) {
    super(message, 'E_ABORTED');
  }
}

const DEFAULT_LEASE_MS = 60_000;

let bootId: string | null | undefined;
let pidNs: string | null | undefined;

/** This process's pid namespace (`readlink /proc/self/ns/pid`), null where there is none to read. */
function pidNamespace(): string | null {
  if (pidNs === undefined) {
    try {
      pidNs = readlinkSync('/proc/self/ns/pid');
    } catch {
      pidNs = null;
    }
  }
  return pidNs;
}

/** `/proc/sys/kernel/random/boot_id` (Linux), null elsewhere. */
function readBootId(): string | null {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = null;
    }
  }
  return bootId;
}

/**
 * The start time of process `pid` as `<boot id>:<clock ticks since boot>` (Linux: field 22 of
 * `/proc/<pid>/stat`), or null when it cannot be read (no such process, not Linux). Two processes
 * that ever had the same pid on one host have different values.
 */
export function processStartTime(pid: number): string | null {
  const boot = readBootId();
  if (boot === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesised and may hold spaces or ')'; fields 3.. follow the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = rest[22 - 3];
    return ticks && /^\d+$/.test(ticks) ? `${boot}:${ticks}` : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What is in a lock file now. */
export type LockState =
  | { state: 'free' }
  | { state: 'held'; holder: LockHolder }
  | { state: 'stale'; holder?: LockHolder; reason: string }
  /** Unreadable, but changed less than a lease ago: maybe being written by a foreign tool; look again. */
  | { state: 'unreadable'; ageMs: number };

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    const ok =
      h.format === 'bam-lock' && typeof h.host === 'string' && Number.isInteger(h.pid) && typeof h.token === 'string' &&
      typeof h.heartbeatAt === 'string' && Number.isFinite(Date.parse(h.heartbeatAt)) && typeof h.leaseMs === 'number' && h.leaseMs > 0;
    return ok ? (h as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/** Why `holder` no longer holds its lock, or undefined when it may still. */
export function staleReason(holder: LockHolder, now = Date.now()): string | undefined {
  const beatAge = now - Date.parse(holder.heartbeatAt);
  const silent = `no heartbeat for ${Math.round(beatAge / 1000)}s (lease ${Math.round(holder.leaseMs / 1000)}s)`;
  // Pids are only comparable within one pid namespace (two containers may share a hostname).
  const ns = pidNamespace();
  const sameNamespace = holder.pidNamespace == null || ns === null || holder.pidNamespace === ns;
  if (holder.host === hostname() && sameNamespace) {
    if (!pidAlive(holder.pid)) return `pid ${holder.pid} is not running`;
    const start = processStartTime(holder.pid);
    if (holder.processStart !== null && start !== null) {
      return start === holder.processStart ? undefined : `pid ${holder.pid} now belongs to another process (started at another time)`;
    }
  }
  return beatAge > holder.leaseMs ? silent : undefined;
}

/** Reads and judges the lock file (see the module comment); never throws for its content. */
export function inspectLock(file: string, leaseMs = DEFAULT_LEASE_MS, now = Date.now()): LockState {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
    throw err;
  }
  const holder = parseHolder(text);
  if (!holder) {
    const ageMs = now - mtimeMs;
    return ageMs > leaseMs ? { state: 'stale', reason: `the lock file is not a readable bam lock (${text.length} bytes, unchanged for ${Math.round(ageMs / 1000)}s)` } : { state: 'unreadable', ageMs };
  }
  const reason = staleReason(holder, now);
  return reason ? { state: 'stale', holder, reason } : { state: 'held', holder };
}

/** Who holds a lock, for messages: "pid 123 on host h since <ISO>". */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid}${h.threadId ? ` thread ${h.threadId}` : ''} on host ${h.host} since ${h.acquiredAt}`;
}

/** Writes `text` to a private temp file and links it to `file`; false when `file` exists. */
function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Replaces `file` with `text` atomically (temp file + rename). */
function replaceAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function unlinkIfExists(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Removes a stale lock file, as long as it still holds what was judged stale (`token`, or any
 * unreadable content when undefined). Serialised through `<file>.break` (exclusive create; a
 * `.break` left by a process that died in these few lines is removed after a lease).
 */
function breakStale(file: string, token: string | undefined, leaseMs: number): boolean {
  const guard = `${file}.break`;
  if (!createExclusive(guard, String(process.pid))) {
    const age = Date.now() - (statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > leaseMs) unlinkIfExists(guard);
    return false;
  }
  try {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    const now = parseHolder(text);
    if (token === undefined ? now !== undefined : now?.token !== token) return false; // it changed: judge again
    unlinkIfExists(file);
    return true;
  } finally {
    unlinkIfExists(guard);
  }
}

/** Takes the lock now if it is free or stale; undefined while a live holder has it. */
export function tryAcquireLock(file: string, opts: LockOptions = {}): HeldLock | undefined {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  for (let attempt = 0; attempt < 3; attempt++) {
    const now = new Date().toISOString();
    const holder: LockHolder = {
      format: 'bam-lock',
      host: hostname(),
      pid: process.pid,
      threadId,
      processStart: processStartTime(process.pid),
      pidNamespace: pidNamespace(),
      token: randomBytes(8).toString('hex'),
      ...(opts.purpose ? { purpose: opts.purpose } : {}),
      acquiredAt: now,
      heartbeatAt: now,
      leaseMs,
    };
    if (createExclusive(file, `${JSON.stringify(holder)}\n`)) return holdLock(file, holder);
    const seen = inspectLock(file, leaseMs);
    if (seen.state === 'free') continue;
    if (seen.state !== 'stale') return undefined;
    if (!breakStale(file, seen.holder?.token, leaseMs)) return undefined;
    opts.log?.(`taking over the lock ${file}${seen.holder ? ` of ${describeHolder(seen.holder)}` : ''}: ${seen.reason}`);
  }
  return undefined;
}

function holdLock(file: string, holder: LockHolder): HeldLock {
  let current = holder;
  let lost = false;
  let released = false;
  const renew = () => {
    const seen = inspectLock(file, Number.POSITIVE_INFINITY);
    if (seen.state !== 'held' || seen.holder.token !== holder.token) {
      lost = true;
      clearInterval(timer);
      return;
    }
    current = { ...current, heartbeatAt: new Date().toISOString() };
    replaceAtomic(file, `${JSON.stringify(current)}\n`);
  };
  const timer = setInterval(() => {
    try {
      renew();
    } catch {
      // A failed renewal (disk full, folder gone) is retried at the next beat; the lease covers it.
    }
  }, Math.max(50, Math.floor(holder.leaseMs / 4)));
  timer.unref();
  return {
    file,
    holder,
    get lost() {
      return lost;
    },
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const seen = inspectLock(file, Number.POSITIVE_INFINITY);
      if (seen.state === 'held' && seen.holder.token === holder.token) unlinkIfExists(file);
    },
  };
}

/**
 * Takes the lock, waiting while a live holder has it: the first wait on each holder logs who holds
 * it, since when, and how to break it. Stale locks are taken over (see the module comment).
 * Throws `LockTimeoutError` after `timeoutMs`, `LockAbortedError` when `signal` is set.
 */
export async function acquireLock(file: string, opts: LockOptions = {}): Promise<HeldLock> {
  const t0 = Date.now();
  const pollMs = opts.pollMs ?? 500;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  let announced: string | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new LockAbortedError(`aborted while waiting for the lock ${file}`);
    const held = tryAcquireLock(file, opts);
    if (held) return held;
    const seen = inspectLock(file, leaseMs);
    const who = seen.state === 'held' ? describeHolder(seen.holder) : 'a process that is writing it';
    const breakIt = `if that process is gone or stuck, delete ${file}${opts.breakHint ? ` (${opts.breakHint})` : ''}`;
    const key = seen.state === 'held' ? seen.holder.token : seen.state;
    if (announced !== key && seen.state !== 'free') {
      const purpose = seen.state === 'held' && seen.holder.purpose ? ` (${seen.holder.purpose})` : '';
      opts.log?.(`waiting for the lock ${file}: held by ${who}${purpose}; ${breakIt}`);
      announced = key;
    }
    if (opts.timeoutMs !== undefined && Date.now() - t0 >= opts.timeoutMs) {
      throw new LockTimeoutError(`gave up after ${Math.round((Date.now() - t0) / 1000)}s waiting for the lock ${file}, held by ${who}`, breakIt);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
