/**
 * The user's own text for a domain (`bam upcycle --data code=FILE`): a plain-text file (one
 * document) or JSONL (`{"text": "..."}` per line, one document each; blank lines skipped), read
 * with the checks a user needs — a missing file, an empty one, or a bad JSONL line (by number) is
 * a DataError naming it. The sha256 of the file's bytes goes into the artifacts' content hashes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { DataError } from '../errors.ts';

/** A user text file read into documents. */
export interface TextFile {
  path: string;
  /** The documents, in file order. */
  docs: string[];
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
}

/** Whether a path is read as JSONL (by its extension: `.jsonl`, `.ndjson`). */
export function isJsonlPath(path: string): boolean {
  return /\.(jsonl|ndjson)$/i.test(path);
}

/** Reads a plain-text or JSONL file of documents; throws a DataError naming the file (and line) at fault. */
export function readTextFile(path: string): TextFile {
  if (!existsSync(path) || !statSync(path).isFile()) throw new DataError(`data file ${path} does not exist`, 'give a plain-text or JSONL ({"text": ...} per line) file');
  const bytes = readFileSync(path);
  const text = bytes.toString('utf8');
  const docs: string[] = [];
  if (isJsonlPath(path)) {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (err) {
        throw new DataError(`data file ${path}, line ${i + 1}: not valid JSON (${(err as Error).message})`, 'each line must be one JSON object like {"text": "..."}');
      }
      const t = (row as { text?: unknown } | null)?.text;
      if (typeof row !== 'object' || row === null || Array.isArray(row) || typeof t !== 'string') {
        throw new DataError(`data file ${path}, line ${i + 1}: expected an object with a string "text" field`, 'each line must be one JSON object like {"text": "..."}');
      }
      if (t.trim() !== '') docs.push(t);
    });
  } else if (text.trim() !== '') {
    docs.push(text);
  }
  if (docs.length === 0) throw new DataError(`data file ${path} has no text`, isJsonlPath(path) ? 'every "text" is empty: give documents' : 'the file is empty: give text');
  return { path, docs, sha256: createHash('sha256').update(bytes).digest('hex') };
}
