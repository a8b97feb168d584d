/** Atomic and durable file writes: a reader, or a crash, never sees a half-written file. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file atomically: the data goes to a temp file beside the target, then a rename
 * replaces the target, so a reader (or a crash) never sees a half-written file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Appends `text` with one `write` on an O_APPEND descriptor and fsyncs it, so a journal line is
 * either fully on disk or (after a kill mid-write) a torn last line that readers skip.
 */
export function appendDurable(path: string, text: string): void {
  if (text.length === 0) return;
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
