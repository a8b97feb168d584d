/**
 * Pieces shared by the built-in tasks: option fields, deterministic sampling (hash-keyed, so a
 * document set depends only on the task's options, never on the job seed or the machine),
 * text excerpts, and the multiple-choice document shape (scored by @bam/eval's
 * `defineMultipleChoiceTask`: `acc`, and `acc_norm` = argmax of loglikelihood / UTF-8 byte length).
 *
 * Why the job seed is not used: a sweep's seeds measure the variance of *training*; every variant
 * and seed must see the same test documents, as in lm-eval. The `seed` option of a task picks a
 * different (equally fair) document sample when someone wants one.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { mulberry32, type MultipleChoiceFields } from '@bam/eval';
import { DataError } from '@bam/core';
import { fmix32 } from '@bam/utils';

/** The held-out splits a task may read. `train` is refused: scores on training text mean nothing here. */
export const EVAL_SPLITS = ['validation', 'test'] as const;
/** A held-out split name. */
export type EvalSplit = (typeof EVAL_SPLITS)[number];

/** Option `split`: which held-out split the documents come from (default `test`). */
export const splitOption = z.enum(EVAL_SPLITS).default('test');

/** Option `limit`: at most this many documents (the task's own cap, before the sweep's `limit`). */
export function limitOption(def: number) {
  return z.number().int().min(1).default(def);
}

/** Option `seed`: the construction seed (document sample, distractors, answer positions). Not the job seed. */
export const seedOption = z.number().int().min(0).default(0);

/** The options every built-in multiple-choice task starts with: `limit` (default `limit`), `split`, `seed`, in that order. */
export function sampleOptions(limit: number) {
  return { limit: limitOption(limit), split: splitOption, seed: seedOption };
}

/** First 32 bits of sha256 of `parts` joined by NUL: a stable key for sampling. */
export function hash32(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

/** A PRNG (mulberry32) seeded by sha256 of `parts`, e.g. `rngFor('license-id', seed, docId)`. */
export function rngFor(...parts: Array<string | number>): () => number {
  return mulberry32(hash32(...parts));
}

/**
 * A fast 32-bit hash of `parts` joined by NUL: FNV-1a over the UTF-16 code units, then the
 * murmur3 finaliser to spread the bits. For ordering and splitting many items (sha256 of 100k
 * WordNet keys costs half a second); not for anything adversarial.
 */
export function fastHash32(...parts: Array<string | number>): number {
  const s = parts.join('\u0000');
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** `items` ordered by fastHash32(salt, key(item)): a seeded shuffle that does not depend on the input order. */
export function hashOrder<T>(items: readonly T[], key: (item: T) => string, ...salt: Array<string | number>): T[] {
  const prefix = salt.join('\u0000');
  return items
    .map((item) => ({ item, k: key(item), h: fastHash32(prefix, key(item)) }))
    .sort((a, b) => a.h - b.h || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.item);
}

/** Fisher–Yates shuffle of a copy of `items` with `rand`. */
export function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The first `maxChars` characters of `text`, cut back to the last whitespace when one lies in the
 * second half of the window (so no word is split and word counts stay honest), then trimmed.
 */
export function excerpt(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text.trimEnd();
  let cut = text.slice(0, maxChars);
  const ws = Math.max(cut.lastIndexOf(' '), cut.lastIndexOf('\n'), cut.lastIndexOf('\t'));
  if (ws >= maxChars / 2) cut = cut.slice(0, ws);
  return cut.trimEnd();
}

/**
 * One document of a built-in multiple-choice task (scored by @bam/eval's
 * `defineMultipleChoiceTask`): `choices` are continuations of `context` (each starting with the
 * separator it needs, e.g. a space), exactly one of them (`gold`) right.
 */
export interface MultipleChoiceDoc extends MultipleChoiceFields {
  /** Stable id naming the source, e.g. `spdx/BSL-1.0` or `wordnet/noun/00217701`. */
  id: string;
  choices: string[];
}

/**
 * Puts `gold` among `distractors` at a position drawn from `rand`; returns the choices and the
 * gold index. Throws a DataError when the choices are not distinct (a bug in a task builder).
 */
export function placeGold(gold: string, distractors: readonly string[], rand: () => number, where: string): { choices: string[]; gold: number } {
  const at = Math.floor(rand() * (distractors.length + 1));
  const choices = [...distractors.slice(0, at), gold, ...distractors.slice(at)];
  if (new Set(choices).size !== choices.length) {
    throw new DataError(`${where}: the choices are not distinct (${JSON.stringify(choices)})`, 'this is a bug in the task builder; report it');
  }
  return { choices, gold: at };
}

/**
 * `count` distinct picks (by `key`) from `pool` that `accept` lets through, in draw order: random
 * draws with `rand` for a large pool, a full shuffle for a small one; fewer when the pool runs out.
 */
export function pickDistinct<T>(pool: readonly T[], count: number, rand: () => number, accept: (x: T) => boolean, key: (x: T) => string = String): T[] {
  const out: T[] = [];
  const seen = new Set<string>();
  const take = (x: T): void => {
    const k = key(x);
    if (seen.has(k) || !accept(x)) return;
    seen.add(k);
    out.push(x);
  };
  if (pool.length > 256) {
    for (let tries = 0; tries < 10_000 && out.length < count; tries++) take(pool[Math.floor(rand() * pool.length)]);
    return out;
  }
  for (const x of shuffled(pool, rand)) {
    if (out.length >= count) break;
    take(x);
  }
  return out;
}

/**
 * Memoises a document builder per process, keyed by the parsed options: a worker runs the same
 * task for every variant, and building documents can take a second (parsing WordNet, scanning
 * training text for overlaps). Documents are plain data the harness never mutates; each call
 * gets its own array.
 */
export function memoByOptions<O, D>(build: (opts: O) => D[]): (opts: O) => D[] {
  const cache = new Map<string, D[]>();
  return (opts) => {
    const key = JSON.stringify(opts);
    let docs = cache.get(key);
    if (!docs) {
      docs = build(opts);
      cache.set(key, docs);
    }
    return [...docs];
  };
}
