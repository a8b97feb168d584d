/**
 * Token streams: each domain split, tokenized once, as one flat array of ids.
 *
 * The stream of `(domain, split)` is `encode(doc₁) ++ encode("\n\n") ++ encode(doc₂) ++ …` over
 * `loadDomain(domain, split)` in order (the tokenizers have no end-of-text token; a blank line
 * separates documents, so decoding the stream gives the documents joined by "\n\n").
 *
 * Streams are cached in memory per process and on disk (node_modules/.cache/bam/tokens, or
 * `$BAM_CACHE_DIR/tokens`), keyed by tokenizer id and a sha256 of the split's text, so a
 * stale file is never read; `BAM_TOKEN_CACHE=0` turns the disk cache off.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../errors.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { writeFileAtomic } from '@bam/utils';
import { loadDomain } from './domains.ts';
import { packageDir } from './source-files.ts';
import type { Domain, Split } from './types.ts';

/** A token stream: Uint16Array when the vocabulary fits in 16 bits, else Int32Array. */
export type TokenArray = Uint16Array | Int32Array;

/** The text between two documents in a token stream. */
export const DOC_SEPARATOR = '\n\n';

/** Bump when the stream layout changes, so old cache files are ignored. */
const STREAM_FORMAT = 'v1';

const memory = new Map<string, TokenArray>();

/** Where token streams are cached on disk, or undefined when the disk cache is off. */
export function tokenCacheDir(): string | undefined {
  if (process.env.BAM_TOKEN_CACHE === '0') return undefined;
  if (process.env.BAM_CACHE_DIR) return join(process.env.BAM_CACHE_DIR, 'tokens');
  const dir = packageDir('js-tiktoken');
  const nm = dir.lastIndexOf('node_modules');
  return nm >= 0 ? join(dir.slice(0, nm + 'node_modules'.length), '.cache', 'bam', 'tokens') : undefined;
}

/** Encodes documents into one stream, separated by `DOC_SEPARATOR`. */
export function encodeDocs(texts: readonly string[], tokenizer: Tokenizer): TokenArray {
  const parts: number[][] = [];
  let n = 0;
  const sep = tokenizer.encode(DOC_SEPARATOR);
  texts.forEach((t, i) => {
    const ids = tokenizer.encode(t);
    parts.push(ids);
    n += ids.length;
    if (i < texts.length - 1) {
      parts.push(sep);
      n += sep.length;
    }
  });
  const out = tokenizer.vocabSize <= 65536 ? new Uint16Array(n) : new Int32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The token stream of `loadDomain(domain, split)` under `tokenizer`. Cached (memory and disk);
 * the array is shared — do not write to it. Also what evaluation scores perplexity on.
 */
export function tokensOf(domain: Domain, split: Split, tokenizer: Tokenizer): TokenArray {
  const key = `${tokenizer.id}/${domain}/${split}`;
  const hit = memory.get(key);
  if (hit) return hit;
  const docs = loadDomain(domain, split);
  const texts = docs.map((d) => d.text);
  const dir = tokenCacheDir();
  let file: string | undefined;
  if (dir) {
    const h = createHash('sha256').update(`${STREAM_FORMAT}\u0000${tokenizer.id}\u0000`);
    for (const t of texts) h.update(t).update('\u0000');
    file = join(dir, tokenizer.id, `${domain}-${split}-${h.digest('hex').slice(0, 20)}.bin`);
  }
  const wide = tokenizer.vocabSize > 65536;
  let tokens: TokenArray | undefined;
  if (file && existsSync(file)) {
    try {
      const buf = readFileSync(file);
      const copy = new Uint8Array(buf.byteLength);
      copy.set(buf);
      tokens = wide ? new Int32Array(copy.buffer) : new Uint16Array(copy.buffer);
    } catch {
      tokens = undefined; // unreadable cache file: recompute and overwrite it
    }
  }
  if (!tokens) {
    tokens = encodeDocs(texts, tokenizer);
    if (file) {
      try {
        writeFileAtomic(file, new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
        // Older streams of this split (its text changed) are dead weight.
        const prefix = `${domain}-${split}-`;
        for (const f of readdirSync(dirname(file))) {
          if (f.startsWith(prefix) && f.endsWith('.bin') && f !== basename(file)) rmSync(join(dirname(file), f), { force: true });
        }
      } catch {
        // A read-only or full disk only costs speed; the stream is already in memory.
      }
    }
  }
  if (tokens.length === 0) throw new DataError(`${domain}/${split} has no tokens`, 'check that the corpus packages are installed');
  memory.set(key, tokens);
  return tokens;
}
