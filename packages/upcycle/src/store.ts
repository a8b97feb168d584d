/**
 * The artifact store: every stage output lives at `<root>/<stage>/<hash>/`, where the hash covers
 * everything that determines the output (configs, data mix, seeds, the parents' content hashes and
 * a per-stage code version), so an expert is trained once and reused by every recipe and sweep.
 *
 * A stage directory holds `key.json` (what was hashed, for people), the stage's working files
 * (e.g. `train/` with the trainer's step checkpoints, from which an interrupted stage resumes) and
 * its output checkpoint; `DONE.json` is written atomically last, with the size and sha256 of every
 * output file, so a directory without it is never taken for a finished one, and a finished one is
 * checked before reuse: sizes always, hashes of files changed since (or of every file with
 * `verify`). A damaged finished artifact is moved aside to `<dir>.damaged-<time>` and rebuilt.
 * A leased lock beside the directory (`<hash>.lock`, @bam/utils' `acquireLock`) keeps two
 * processes, worker threads or hosts from building the same artifact at once: the second waits
 * for the first and then reuses its output; a lock whose holder is gone is taken over.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BamError, CHECKPOINT_FILES, blasStatus } from '@bam/core';
import { acquireLock, configHash, errorLine, inspectLock, LockAbortedError, LockTimeoutError, writeFileAtomic, type HeldLock } from '@bam/utils';

/**
 * The code version of each stage. Bump one when a change alters what the stage produces: every
 * artifact of that stage (and, through the parent hashes, everything built on it) is rebuilt.
 */
export const STAGE_VERSIONS = {
  // 2: products of ≥ 8 MFLOP are computed in fixed blocks (core's ops/blas-threads.ts), which
  // changes their last bits; artifacts built before hold other bytes.
  seed: 2,
  branch: 2,
  expert: 2,
  // 3: the mix stage records the mixture's step-0 validation losses (its metrics), and
  // train-mixture logs a validation recovery curve from step 0; artifacts built before lack them.
  mix: 3,
  'train-mixture': 3,
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

/** Size and sha256 of one file of a finished artifact (path relative to the stage directory). */
export interface ArtifactFile {
  bytes: number;
  sha256: string;
}

/** `DONE.json`: the finished stage's key and result, and the size and hash of every output file. */
export interface DoneRecord<R extends StageResult = StageResult> {
  format: 'bam-artifact';
  stage: StageName;
  hash: string;
  key: StageKey;
  result: R;
  /** Every file of the output checkpoint, `model/model.safetensors` → size and sha256 (absent in records before files were recorded). */
  files?: Record<string, ArtifactFile>;
  /**
   * What ran the matrix products (core's `blasStatus()`: OpenBLAS's build and CPU kernel, else the
   * one-line detail): the bytes do not depend on the thread count, but another CPU kernel (e.g.
   * OpenBLAS's Zen vs SkylakeX) may round differently.
   */
  builtWith?: string;
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
  /** Progress lines (waiting for a lock held by another process, a damaged artifact moved aside). */
  log?: (line: string) => void;
  signal?: AbortFlag;
  /** How often a waiter checks the lock, in ms (default 500). */
  pollMs?: number;
  /** Give up waiting for another builder after this many ms (default: wait while it is alive). */
  lockTimeoutMs?: number;
}

/** Options of `ArtifactStore`. */
export interface ArtifactStoreOptions {
  /**
   * Hash every output file on every reuse, not only files newer than `DONE.json` (default: env
   * `BAM_STORE_VERIFY=1`, which `--verify` sets, so worker threads verify too).
   */
  verify?: boolean;
  /** Lease of the build locks in ms (default 60 s; see @bam/utils' lock). */
  leaseMs?: number;
}

/** What a look at one artifact directory found. */
export type ArtifactCheck<R extends StageResult = StageResult> =
  | { status: 'ok'; record: DoneRecord<R> }
  /** No DONE.json: never built, being built, or interrupted (resumable). */
  | { status: 'unfinished' }
  | { status: 'damaged'; reason: string };

/** sha256 of a file, read in 8 MiB pieces. */
function fileSha256(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Size and sha256 of every file under `dir/sub`, keyed by their path relative to `dir`. */
function describeFiles(dir: string, sub: string): Record<string, ArtifactFile> {
  const out: Record<string, ArtifactFile> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out[r] = { bytes: statSync(join(dir, r)).size, sha256: fileSha256(join(dir, r)) };
    }
  };
  walk(sub);
  return out;
}

/** `2026-12-04T14:30:12.345Z` → `20261204T143012Z` (for folder names). */
function stamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Content-addressed stage outputs under one root directory. */
export class ArtifactStore {
  readonly root: string;
  readonly verify: boolean;
  readonly leaseMs: number | undefined;

  constructor(root: string, opts: ArtifactStoreOptions = {}) {
    this.root = resolve(root);
    this.verify = opts.verify ?? process.env.BAM_STORE_VERIFY === '1';
    this.leaseMs = opts.leaseMs;
  }

  /** The directory of a stage's artifact. */
  dirOf(stage: StageName, hash: string): string {
    return join(this.root, stage, hash);
  }

  /** The build lock of an artifact: beside its directory, so moving a damaged directory aside keeps it. */
  lockOf(stage: StageName, hash: string): string {
    return `${this.dirOf(stage, hash)}.lock`;
  }

  /**
   * Checks a finished artifact against its `DONE.json`: the record is for this stage and hash, the
   * checkpoint's manifest names the content hash DONE.json records (so a checkpoint swapped in with
   * recomputed manifest hashes is caught), and every recorded file is there with its size; files
   * changed after DONE.json was written (or every file, with `full`) are hashed too. A record from
   * before files were recorded has its weights hashed against the content hash.
   */
  check<R extends StageResult>(stage: StageName, hash: string, full = this.verify): ArtifactCheck<R> {
    const dir = this.dirOf(stage, hash);
    const doneFile = join(dir, 'DONE.json');
    const doneStat = statSync(doneFile, { throwIfNoEntry: false });
    if (!doneStat) return { status: 'unfinished' };
    let rec: DoneRecord<R>;
    try {
      rec = JSON.parse(readFileSync(doneFile, 'utf8')) as DoneRecord<R>;
    } catch (err) {
      return { status: 'damaged', reason: `DONE.json is not valid JSON (${(err as Error).message})` };
    }
    if (rec?.format !== 'bam-artifact' || rec.hash !== hash || rec.stage !== stage || typeof rec.result?.checkpoint !== 'string') {
      return { status: 'damaged', reason: `DONE.json is not the record of ${stage}/${hash}` };
    }
    const manifestPath = join(dir, rec.result.checkpoint, CHECKPOINT_FILES.manifest);
    let manifestHash: unknown;
    try {
      manifestHash = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { contentHash?: unknown }).contentHash;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { status: 'damaged', reason: `${rec.result.checkpoint}/${CHECKPOINT_FILES.manifest} ${code === 'ENOENT' ? 'is missing' : 'is not valid JSON'}` };
    }
    if (manifestHash !== rec.result.contentHash) {
      return { status: 'damaged', reason: `the checkpoint's content hash ${String(manifestHash).slice(0, 12)}… is not the ${rec.result.contentHash.slice(0, 12)}… DONE.json records (another checkpoint was put here)` };
    }
    const files = rec.files ?? { [`${rec.result.checkpoint}/${CHECKPOINT_FILES.weights}`]: { bytes: -1, sha256: rec.result.contentHash } };
    for (const [rel, want] of Object.entries(files)) {
      const st = statSync(join(dir, rel), { throwIfNoEntry: false });
      if (!st) return { status: 'damaged', reason: `${rel} is missing` };
      if (want.bytes >= 0 && st.size !== want.bytes) return { status: 'damaged', reason: `${rel} has ${st.size} bytes, DONE.json records ${want.bytes}` };
      if (full || want.bytes < 0 || st.mtimeMs > doneStat.mtimeMs) {
        const got = fileSha256(join(dir, rel));
        if (got !== want.sha256) return { status: 'damaged', reason: `${rel} has sha256 ${got.slice(0, 12)}…, DONE.json records ${want.sha256.slice(0, 12)}…` };
      }
    }
    return { status: 'ok', record: rec };
  }

  /** The DONE record of a finished, intact artifact (see `check`), or undefined. */
  readDone<R extends StageResult>(stage: StageName, hash: string): DoneRecord<R> | undefined {
    const c = this.check<R>(stage, hash);
    return c.status === 'ok' ? c.record : undefined;
  }

  /**
   * Moves a damaged artifact's directory aside to `<dir>.damaged-<time>` (never deletes it: it may
   * be all that is left of a long run) and says so in one line. Returns the new path.
   */
  moveAside(stage: StageName, hash: string, reason: string, log?: (line: string) => void): string {
    const dir = this.dirOf(stage, hash);
    let aside = `${dir}.damaged-${stamp()}`;
    for (let i = 2; existsSync(aside); i++) aside = `${dir}.damaged-${stamp()}-${i}`;
    renameSync(dir, aside);
    log?.(`${stage} ${hash}: finished artifact is damaged (${reason}); moved aside to ${aside}, rebuilding`);
    return aside;
  }

  private outcome<R extends StageResult>(rec: DoneRecord<R>, reused: boolean, elapsedS: number): StageOutcome<R> {
    const dir = this.dirOf(rec.stage, rec.hash);
    return { stage: rec.stage, hash: rec.hash, dir, checkpointDir: join(dir, rec.result.checkpoint), reused, result: rec.result, elapsedS };
  }

  /**
   * Returns the stage's artifact for `inputs`: reused when it is finished and intact (`check`),
   * else built by `build(dir)` (which may resume from what an interrupted build left in `dir`) and
   * then marked done. A damaged finished artifact is moved aside and rebuilt. Holds the artifact's
   * lock while building; waits while another live holder builds it.
   */
  async run<R extends StageResult>(stage: StageName, inputs: unknown, build: (dir: string) => Promise<R>, opts: RunStageOptions = {}): Promise<StageOutcome<R>> {
    const { hash, key } = stageHash(stage, inputs);
    const first = this.check<R>(stage, hash);
    if (first.status === 'ok') return this.outcome(first.record, true, 0);
    const dir = this.dirOf(stage, hash);
    mkdirSync(dirname(dir), { recursive: true });
    let lock: HeldLock;
    try {
      lock = await acquireLock(this.lockOf(stage, hash), {
        purpose: `building ${stage} ${hash}`,
        log: opts.log && ((line) => opts.log!(`${stage}: ${line}`)),
        signal: opts.signal,
        pollMs: opts.pollMs,
        timeoutMs: opts.lockTimeoutMs,
        leaseMs: this.leaseMs,
      });
    } catch (err) {
      if (err instanceof LockAbortedError || err instanceof LockTimeoutError) throw new BamError(`${stage}: ${errorLine(err)}`, err.code, err.hint);
      throw err;
    }
    try {
      const again = this.check<R>(stage, hash);
      if (again.status === 'ok') return this.outcome(again.record, true, 0);
      if (again.status === 'damaged') this.moveAside(stage, hash, again.reason, opts.log);
      mkdirSync(dir, { recursive: true });
      writeFileAtomic(join(dir, 'key.json'), `${JSON.stringify({ hash, ...key }, null, 2)}\n`);
      const t0 = performance.now();
      const result = await build(dir);
      const elapsedS = Math.round((performance.now() - t0) / 100) / 10;
      const files = describeFiles(dir, result.checkpoint);
      const rec: DoneRecord<R> = { format: 'bam-artifact', stage, hash, key, result, files, builtWith: blasStatus().config ?? blasStatus().detail, completedAt: new Date().toISOString(), elapsedS };
      writeFileAtomic(join(dir, 'DONE.json'), `${JSON.stringify(rec, null, 2)}\n`);
      return this.outcome(rec, false, elapsedS);
    } finally {
      lock.release();
    }
  }
}

/** One entry of a store as `scanStore` finds it. */
export interface StoreEntry {
  /** Path relative to the store root, e.g. `expert/38cc27e6bededfb81e93`. */
  path: string;
  kind: 'artifact' | 'damaged-aside' | 'lock' | 'stray';
  /** artifact: `ok`, `damaged` (with `reason`), `unfinished`, or `building` (unfinished, its lock held by a live process). */
  status?: 'ok' | 'damaged' | 'unfinished' | 'building';
  reason?: string;
  /** Bytes on disk under the path. */
  bytes: number;
  /** Whether `gcStore` removes it: moved-aside copies, unfinished and damaged artifacts, stale locks, strays. */
  removable: boolean;
}

function diskBytes(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let sum = 0;
  for (const name of readdirSync(path)) sum += diskBytes(join(path, name));
  return sum;
}

/**
 * Every folder and file of a store, judged: artifacts (checked as reuse would, every file hashed
 * with `full`), moved-aside damaged copies, build locks (stale or held) and strays (names the store
 * never writes, e.g. a temp file of an interrupted atomic write).
 */
export function scanStore(root: string, opts: { full?: boolean } = {}): StoreEntry[] {
  const store = new ArtifactStore(root, { verify: opts.full ?? false });
  if (!statSync(store.root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new BamError(`${store.root} is not an artifacts directory`, 'E_USAGE', 'give the --out directory of bam upcycle (it holds seed/, expert/, …)');
  }
  const out: StoreEntry[] = [];
  for (const top of readdirSync(store.root).sort()) {
    const topPath = join(store.root, top);
    if (!(top in STAGE_VERSIONS) || !statSync(topPath).isDirectory()) {
      out.push({ path: top, kind: 'stray', bytes: diskBytes(topPath), removable: false });
      continue;
    }
    const stage = top as StageName;
    for (const name of readdirSync(topPath).sort()) {
      const rel = `${stage}/${name}`;
      const full = join(topPath, name);
      const bytes = diskBytes(full);
      if (/^[0-9a-f]{20}$/.test(name)) {
        const c = store.check(stage, name);
        if (c.status === 'unfinished') {
          const lock = inspectLock(store.lockOf(stage, name));
          const building = lock.state === 'held' || lock.state === 'unreadable';
          out.push({ path: rel, kind: 'artifact', status: building ? 'building' : 'unfinished', bytes, removable: !building });
        } else {
          out.push({ path: rel, kind: 'artifact', status: c.status, ...(c.status === 'damaged' ? { reason: c.reason } : {}), bytes, removable: c.status === 'damaged' });
        }
      } else if (/^[0-9a-f]{20}\.damaged-/.test(name)) {
        out.push({ path: rel, kind: 'damaged-aside', bytes, removable: true });
      } else if (/^[0-9a-f]{20}\.lock$/.test(name)) {
        const lock = inspectLock(full);
        const stale = lock.state === 'stale' || lock.state === 'free';
        out.push({ path: rel, kind: 'lock', status: stale ? 'unfinished' : 'building', ...(lock.state === 'stale' ? { reason: lock.reason } : {}), bytes, removable: stale });
      } else {
        out.push({ path: rel, kind: 'stray', bytes, removable: true });
      }
    }
  }
  return out;
}

/**
 * Removes what `scanStore` marks removable (not with `dryRun`), and returns those entries. Damaged
 * artifacts are deleted here, on request, unlike on reuse (where they are moved aside).
 */
export function gcStore(root: string, opts: { full?: boolean; dryRun?: boolean } = {}): StoreEntry[] {
  const gone = scanStore(root, opts).filter((e) => e.removable);
  if (!opts.dryRun) for (const e of gone) rmSync(join(resolve(root), e.path), { recursive: true, force: true });
  return gone;
}
