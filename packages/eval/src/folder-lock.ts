/**
 * One owner per results folder: a sweep holds `<out>/sweep.lock` (@bam/utils' leased lock) from
 * before it reads the journal until it has written the results, so a second sweep on the same
 * folder neither runs the jobs again nor interleaves its journal lines. The second one refuses,
 * naming the holder, or with `wait` queues behind it. A lock left by a sweep that is gone (killed,
 * a recycled pid, another host's expired lease, a half-written file) is taken over with a line
 * saying why.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, describeHolder, inspectLock, tryAcquireLock, type HeldLock, type LockOptions } from '@bam/utils';
import { ResultsError } from './errors.ts';

/** The lock file's name inside a results folder. */
export const FOLDER_LOCK = 'sweep.lock';

/** Options of lockResultsFolder. */
export interface FolderLockOptions {
  /** Wait for a live holder instead of refusing. */
  wait?: boolean;
  /** Stops waiting (Ctrl-C). */
  signal?: AbortSignal;
  /** One-line messages: takeovers of stale locks, and who is waited for. */
  log?: (line: string) => void;
  /** The lease of this sweep's lock in ms (default @bam/utils' 60 s); tests shorten it. */
  leaseMs?: number;
}

/**
 * Takes the results folder `outDir` (created if missing) for this sweep. Throws ResultsError when
 * another live sweep holds it and `wait` is not set; with `wait`, returns once that sweep is done.
 */
export async function lockResultsFolder(outDir: string, opts: FolderLockOptions = {}): Promise<HeldLock> {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, FOLDER_LOCK);
  const lockOpts: LockOptions = { purpose: 'bam sweep', log: opts.log, signal: opts.signal, ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}) };
  if (opts.wait) return acquireLock(file, lockOpts);
  const held = tryAcquireLock(file, lockOpts);
  if (held) return held;
  const seen = inspectLock(file, opts.leaseMs);
  const who = seen.state === 'held' ? describeHolder(seen.holder) : 'a process that is writing its lock file';
  throw new ResultsError(
    `${outDir} is in use by another sweep (${who})`,
    `wait for it to finish, pass --wait to start when it does, or choose another --out; if that process is gone or stuck, delete ${file}`,
  );
}
