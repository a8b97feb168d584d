/** Shared helpers for @bam/eval tests: temp folders, fixture paths, CSV parsing. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Parses RFC 4180 CSV text (quoted fields, doubled quotes, newlines inside quotes) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

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
