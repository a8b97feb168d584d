import { describe, expect, it } from 'vitest';
import { aggregateScores, evaluateTask, fakeLanguageModel, utf8Bytes } from '@bam/eval';
import { loadDomain } from '@bam/core';
import { PERPLEXITY_DOMAINS, excerpt, perplexityTasks, pplCode, pplLaw, pplOod, type PerplexityDoc } from '../../src/index.ts';
import { ctx, docsOf, uniform4Model } from './helpers.ts';

describe('perplexity tasks', () => {
  it('has one task per domain with the Table 1 column ids', () => {
    expect(perplexityTasks.map((t) => t.id)).toEqual(PERPLEXITY_DOMAINS.map((d) => `ppl-${d}`));
    expect(PERPLEXITY_DOMAINS).toEqual(['general', 'code', 'law', 'math', 'ood']);
    for (const t of perplexityTasks) {
      expect(Object.keys(t.metrics).sort()).toEqual(['bits_per_byte', 'byte_perplexity', 'token_perplexity', 'word_perplexity']);
      expect(Object.values(t.metrics).every((m) => m.higherIsBetter === false)).toBe(true);
    }
  });

  it('scores a hand-checked text: "ab ab" under the fake model', () => {
    // fake logprobs: 'a' −0.8, 'b' −0.9, ' ' −0.3 → Σ = −3.7 over 5 tokens, 2 words, 5 bytes
    const doc: PerplexityDoc = { id: 'hand', text: 'ab ab' };
    const s = pplLaw.score(doc, [{ logprob: -3.7, tokens: 5 }], pplLaw.options.parse({}));
    expect(s).toEqual({ word_perplexity: [-3.7, 2], byte_perplexity: [-3.7, 5], token_perplexity: [-3.7, 5], bits_per_byte: [-3.7, 5] });
    const agg = aggregateScores(pplLaw.metrics, [s], { seed: 0, bootstrapIters: 0 });
    expect(agg.token_perplexity.value).toBeCloseTo(2.0959355, 6); // exp(3.7 / 5)
    expect(agg.word_perplexity.value).toBeCloseTo(6.3598195, 6); // exp(3.7 / 2)
    expect(agg.bits_per_byte.value).toBeCloseTo(1.0675943, 6); // 3.7 / (5 ln 2)
    expect(agg.byte_perplexity.value).toBeCloseTo(2 ** 1.0675943, 5);
  });

  it('gives token perplexity exactly 4 for a model with p = 1/4 per character, and bits per byte 2·chars/bytes', async () => {
    const docs = await docsOf(pplOod, { limit: 3, maxChars: 300 });
    const scores = await evaluateTask(pplOod, { limit: 3, maxChars: 300 }, uniform4Model(), ctx());
    const agg = aggregateScores(pplOod.metrics, scores, { seed: 0, bootstrapIters: 0 });
    const chars = docs.reduce((s, d) => s + [...d.text].length, 0);
    const bytes = docs.reduce((s, d) => s + utf8Bytes(d.text), 0);
    const words = docs.reduce((s, d) => s + d.text.split(/\s+/).length, 0);
    expect(agg.token_perplexity.value).toBeCloseTo(4, 10);
    expect(agg.bits_per_byte.value).toBeCloseTo((2 * chars) / bytes, 10);
    expect(agg.word_perplexity.value).toBeCloseTo(4 ** (chars / words), 6);
    expect(agg.token_perplexity.n).toBe(3);
  });

  it('makes corpus-level token perplexity exp(−Σ logprob / Σ tokens), not a mean of per-document perplexities', async () => {
    const docs = await docsOf(pplCode, { limit: 4, maxChars: 200 });
    const scores = await evaluateTask(pplCode, { limit: 4, maxChars: 200 }, fakeLanguageModel(), ctx());
    const agg = aggregateScores(pplCode.metrics, scores, { seed: 0, bootstrapIters: 0 });
    let lp = 0;
    let n = 0;
    for (const d of docs) {
      for (const ch of d.text) lp += -(1 + ((ch.codePointAt(0) ?? 0) % 10)) / 10;
      n += [...d.text].length;
    }
    expect(agg.token_perplexity.value).toBeCloseTo(Math.exp(-lp / n), 10);
  });

  it('reads limit documents of the held-out test split, each a word-boundary prefix of at most maxChars', async () => {
    for (const task of perplexityTasks) {
      const domain = task.id.slice(4) as (typeof PERPLEXITY_DOMAINS)[number];
      const test = new Map(loadDomain(domain, 'test').map((d) => [d.id, d.text]));
      const train = new Set(loadDomain(domain, 'train').map((d) => d.id));
      const docs = await docsOf(task, { limit: 5, maxChars: 120 });
      expect(docs.length).toBe(5);
      for (const d of docs) {
        expect(train.has(d.id)).toBe(false);
        expect(test.get(d.id)!.startsWith(d.text)).toBe(true);
        expect(d.text.length).toBeLessThanOrEqual(120);
        const full = test.get(d.id)!;
        if (full.length > 120) expect(/\s/.test(full[d.text.length])).toBe(true);
      }
    }
  });

  it('defaults to 20 documents of at most 2000 characters (14 for ood, its whole test split)', async () => {
    expect(pplLaw.options.parse({})).toEqual({ limit: 20, maxChars: 2000, split: 'test', seed: 0 });
    expect((await docsOf(pplLaw)).length).toBe(20);
    expect((await docsOf(pplOod)).length).toBe(loadDomain('ood', 'test').length);
    expect(loadDomain('ood', 'test').length).toBe(14);
  });

  it('picks the same documents for every job seed, other documents for another sample seed or split', async () => {
    const a = await docsOf(pplLaw, { limit: 8 }, 0);
    expect(await docsOf(pplLaw, { limit: 8 }, 7)).toEqual(a);
    const b = await docsOf(pplLaw, { limit: 8, seed: 1 });
    expect(b.map((d) => d.id)).not.toEqual(a.map((d) => d.id));
    const val = new Set(loadDomain('law', 'validation').map((d) => d.id));
    for (const d of await docsOf(pplLaw, { limit: 8, split: 'validation' })) expect(val.has(d.id)).toBe(true);
  });

  it('refuses the train split and unknown options with the field named', () => {
    const r = pplLaw.options.safeParse({ split: 'train' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(['split']);
    const u = pplLaw.options.safeParse({ maxchars: 10 });
    expect(u.success).toBe(false);
    expect(JSON.stringify(u.error!.issues)).toContain('maxchars');
  });

  it('cuts excerpts at the last whitespace in the second half of the window', () => {
    expect(excerpt('alpha beta gamma', 12)).toBe('alpha beta');
    expect(excerpt('alpha beta gamma', 100)).toBe('alpha beta gamma');
    expect(excerpt('abcdefghijklmnop qr', 10)).toBe('abcdefghij');
  });
});
