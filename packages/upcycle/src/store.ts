/**
 * The artifact store: every stage output lives at `<root>/<stage>/<hash>/`, where the hash covers
 * everything that determines the output (configs, data mix, seeds, the parents' content hashes and
 * a per-stage code version), so an expert is trained once and reused by every recipe and sweep.
 *
 * A stage directory holds `key.json` (what was hashed, for people), the stage's working files
 * (e.g. `train/` with the trainer's step checkpoints, from which an interrupted stage resumes) and
 * its output checkpoint; `DONE.json` is written atomically last, so a directory without it is
 * never taken for a finished one. A `LOCK` file keeps two processes (or two worker threads) from
 * building the same artifact at once: the second waits for the first and then reuses its output.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { BamError, CHECKPOINT_FILES } from '@bam/core';
import { configHash, writeFileAtomic } from '@bam/utils';

/**
 * The code version of each stage. Bump one when a change alters what the stage produces: every
 * artifact of that stage (and, through the parent hashes, everything built on it) is rebuilt.
 */
export const STAGE_VERSIONS = {
  seed: 1,
  branch: 1,
  expert: 1,
  mix: 1,
  'train-mixture': 1,
} as const;

/** A pipeline stage that stores artifacts. */
export type StageName = keyof typeof STAGE_VERSIONS;

/** What a stage's hash covers. */
export interface StageKey {
  stage: StageName;
  version: number;
  inputs: unknown;
}

/** The stage's key and its content address (sha256 of the canonical JSON of the key, 20 hex chars). */
export function stageHash(stage: StageName, inputs: unknown): { hash: string; key: StageKey } {
  const key: StageKey = { stage, version: STAGE_VERSIONS[stage], inputs };
  return { hash: configHash(key, 20), key };
}

/** What every stage produces: one checkpoint directory (relative to the stage dir) and its content hash. */
export interface StageResult {
  checkpoint: string;
  contentHash: string;
}

/** `DONE.json`: the finished stage's key and result. */
export interface DoneRecord<R extends StageResult = StageResult> {
  format: 'bam-artifact';
  stage: StageName;
  hash: string;
  key: StageKey;
  result: R;
  completedAt: string;
  elapsedS: number;
}

/** A stage's output, built now or reused. Plain JSON (it crosses worker messages). */
export interface StageOutcome<R extends StageResult = StageResult> {
  stage: StageName;
  hash: string;
  /** The stage directory. */
  dir: string;
  /** The output checkpoint directory (absolute). */
  checkpointDir: string;
  /** True when the output already existed and nothing was built. */
  reused: boolean;
  result: R;
  /** Seconds this call spent building (0 when reused). */
  elapsedS: number;
}

/**
 * Whether to stop: an `AbortSignal`, or any object with an `aborted` flag read synchronously (a
 * worker reads a shared-memory flag, since messages are not delivered while a job computes).
 */
export interface AbortFlag {
  readonly aborted: boolean;
}

/** Options of `ArtifactStore.run`. */
export interface RunStageOptions {
  /** Progress lines (e.g. waiting for a lock held by another process). */
  log?: (line: string) => void;
  signal?: AbortFlag;
  /** How often a waiter checks the lock, in ms (default 500). */
  pollMs?: number;
}

interface LockInfo {
  pid: number;
  threadId: number;
  host: string;
  startedAt: number;
}

const PROCESS_START = Date.now() - process.uptime() * 1000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Content-addressed stage outputs under one root directory. */
export class ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The directory of a stage's artifact. */
  dirOf(stage: StageName, hash: string): string {
    return join(this.root, stage, hash);
  }

  /**
   * The DONE record of a finished artifact, or undefined when it is missing, unreadable, for
   * another key, or its checkpoint is gone (then it is rebuilt).
   */
  readDone<R extends StageResult>(stage: StageName, hash: string): DoneRecord<R> | undefined {
    const dir = this.dirOf(stage, hash);
    const file = join(dir, 'DONE.json');
    if (!existsSync(file)) return undefined;
    try {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as DoneRecord<R>;
      if (rec.format !== 'bam-artifact' || rec.hash !== hash || rec.stage !== stage) return undefined;
      if (!existsSync(join(dir, rec.result.checkpoint, CHECKPOINT_FILES.manifest))) return undefined;
      return rec;
    } catch {
      return undefined;
    }
  }

  private outcome<R extends StageResult>(rec: DoneRecord<R>, reused: boolean, elapsedS: number): StageOutcome<R> {
    const dir = this.dirOf(rec.stage, rec.hash);
    return { stage: rec.stage, hash: rec.hash, dir, checkpointDir: join(dir, rec.result.checkpoint), reused, result: rec.result, elapsedS };
  }

  /**
   * Returns the stage's artifact for `inputs`: reused when `DONE.json` exists, else built by
   * `build(dir)` (which may resume from what an interrupted build left in `dir`) and then marked
   * done. Holds the artifact's lock while building; waits while another holder is alive.
   */
  async run<R extends StageResult>(stage: StageName, inputs: unknown, build: (dir: string) => Promise<R>, opts: RunStageOptions = {}): Promise<StageOutcome<R>> {
    const { hash, key } = stageHash(stage, inputs);
    const done = this.readDone<R>(stage, hash);
    if (done) return this.outcome(done, true, 0);
    const dir = this.dirOf(stage, hash);
    mkdirSync(dir, { recursive: true });
    const release = await this.lock(dir, stage, opts);
    try {
      const again = this.readDone<R>(stage, hash);
      if (again) return this.outcome(again, true, 0);
      writeFileAtomic(join(dir, 'key.json'), `${JSON.stringify({ hash, ...key }, null, 2)}\n`);
      const t0 = performance.now();
      const result = await build(dir);
      const elapsedS = Math.round((performance.now() - t0) / 100) / 10;
      const rec: DoneRecord<R> = { format: 'bam-artifact', stage, hash, key, result, completedAt: new Date().toISOString(), elapsedS };
      writeFileAtomic(join(dir, 'DONE.json'), `${JSON.stringify(rec, null, 2)}\n`);
      return this.outcome(rec, false, elapsedS);
    } finally {
      release();
    }
  }

  /** Takes `dir/LOCK` (exclusive create); a stale lock (dead holder) is taken over. */
  private async lock(dir: string, stage: StageName, opts: RunStageOptions): Promise<() => void> {
    const file = join(dir, 'LOCK');
    const mine: LockInfo = { pid: process.pid, threadId, host: hostname(), startedAt: Date.now() };
    let announced = false;
    for (;;) {
      if (opts.signal?.aborted) throw new BamError(`${stage}: aborted while waiting for ${file}`, 'E_ABORTED');
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, JSON.stringify(mine));
        closeSync(fd);
        return () => rmSync(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
      } catch {
        holder = undefined; // being written right now, or garbage: look again shortly
      }
      const stale =
        holder === undefined
          ? Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 10_000 // a holder died mid-write
          : holder.host === mine.host && (!pidAlive(holder.pid) || (holder.pid === process.pid && holder.startedAt < PROCESS_START));
      if (stale) {
        rmSync(file, { force: true });
        continue;
      }
      if (!announced) {
        opts.log?.(`${stage}: waiting for ${dir} (being built by pid ${holder?.pid ?? '?'}${holder?.threadId ? ` thread ${holder.threadId}` : ''})`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
    }
  }
}
