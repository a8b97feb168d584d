/** Shared helpers for @bam/eval tests: temp folders, fixture paths, CSV parsing. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../src/report/load.ts';
import type { SweepOptions } from '../src/sweep.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const FAKE_PLUGINS = join(FIXTURES, 'fake-plugins.ts');
export const EVAL_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A fresh temp folder. */
export function tmp(prefix = 'bam-eval-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `config` as JSON into `dir/name` and returns the path. */
export function writeJson(dir: string, name: string, config: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

// The CSV parser the report uses; tests read results.csv with the same code.
export { parseCsv };

/** Parses a CSV file into records keyed by its header. */
export function readCsv(path: string): Record<string, string>[] {
  const [head, ...body] = parseCsv(readFileSync(path, 'utf8'));
  return body.map((cells) => Object.fromEntries(head.map((h, i) => [h, cells[i] ?? ''])));
}

/** A results.csv without its duration_s column (the one value that differs between runs). */
export function csvWithoutDuration(path: string): string {
  return readCsv(path)
    .map((r) => {
      const { duration_s: _d, ...rest } = r;
      return JSON.stringify(rest);
    })
    .join('\n');
}

/** A silent progress/print sink that keeps what was written. */
export function sink(): { write(s: string): boolean; text: string } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

/** Sweep options with no progress lines, printing or plugin logs (tests read the files). */
export function quietSweep(o: SweepOptions): SweepOptions {
  return { progress: false, print: false, quiet: true, ...o };
}
