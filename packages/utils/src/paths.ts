/**
 * Output paths checked before any work starts, and file-system errors in words: a command that
 * cannot write its results says so in one line naming the path, instead of failing after minutes
 * of training (or with a stack trace).
 */
import { closeSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BamError } from './errors.ts';

/** What each file-system error code means to a user. */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, not a file',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  EBUSY: 'busy',
};

/** A path bam cannot use: names it and the reason (exit code 2). */
export class PathError extends BamError {
  constructor(
    readonly what: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${what} ${path}: ${reason}`, 'E_PATH');
  }
}

/** A Node file-system error (`EACCES`, `EISDIR`, ...) with the path it concerns, if `err` is one. */
export function asFileSystemError(err: unknown): { code: string; path: string; syscall?: string } | undefined {
  const e = err as { code?: unknown; path?: unknown; syscall?: unknown };
  if (!e || typeof e.code !== 'string' || typeof e.path !== 'string' || !Object.hasOwn(REASONS, e.code)) return undefined;
  return { code: e.code, path: e.path, syscall: typeof e.syscall === 'string' ? e.syscall : undefined };
}

/** One line for a file-system error: "cannot open /x/y: permission denied (EACCES)"; undefined for other errors. */
export function fileSystemErrorLine(err: unknown): string | undefined {
  const fs = asFileSystemError(err);
  return fs && `cannot ${fs.syscall ?? 'use'} ${fs.path}: ${REASONS[fs.code]} (${fs.code})`;
}

function reasonOf(err: unknown): string {
  const fs = asFileSystemError(err);
  return fs ? `${REASONS[fs.code]} (${fs.code})` : (err as Error).message;
}

/** Whether `abs` is a file, a folder, or neither (missing, or not reachable). */
function kindOf(abs: string): 'file' | 'folder' | undefined {
  try {
    const st = statSync(abs, { throwIfNoEntry: false });
    return st?.isDirectory() ? 'folder' : st ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks, without creating anything that stays, that folder `abs` could be created (or written
 * into): its nearest existing ancestor is a folder in which a probe file can be created and
 * removed. Returns the reason when not.
 */
function unwritableReason(abs: string): string | undefined {
  let at = abs;
  while (kindOf(at) === undefined && dirname(at) !== at) at = dirname(at);
  if (kindOf(at) === 'file') return `${at} is a file, not a folder (ENOTDIR)`;
  const probe = join(at, `.bam-write-check-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    rmSync(probe, { force: true });
    return undefined;
  } catch (err) {
    return `${reasonOf(err)}${at === abs ? '' : ` (in ${at})`}`;
  }
}

/**
 * Makes sure bam can write into folder `dir` (creating it if missing) before any work starts,
 * leaving nothing behind. Throws `PathError` naming `what` (e.g. `--out`), the path and the reason.
 */
export function ensureWritableDir(dir: string, what: string): void {
  const abs = resolve(dir);
  if (kindOf(abs) === 'file') throw new PathError(what, dir, 'is a file, not a folder');
  const reason = unwritableReason(abs);
  if (reason) throw new PathError(what, dir, `not writable: ${reason}`);
}

/**
 * Makes sure bam can write file `file`: it is not a folder and its folder is writable (or can be
 * created). Leaves nothing behind; throws `PathError` naming `what`, the path and the reason.
 */
export function ensureWritableFile(file: string, what: string): void {
  const abs = resolve(file);
  if (kindOf(abs) === 'folder') throw new PathError(what, file, 'is a folder, not a file');
  const reason = unwritableReason(dirname(abs));
  if (reason) throw new PathError(what, file, `its folder is not writable: ${reason}`);
}
