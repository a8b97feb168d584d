import { describe, expect, it } from 'vitest';
import { arithmeticDocs, arithmeticProblems } from '../../src/data/corpora/arithmetic.ts';
import { licenseNameKey } from '../../src/data/corpora/law.ts';
import { DOMAINS, SPLITS, domainCorpus, domainTestDocs, jaccard, loadDomain, shingleHashes, splitOf, type Split } from '../../src/data/index.ts';
import { DataError } from '../../src/errors.ts';

describe('domain splits', () => {
  it('are disjoint in document ids and together hold the whole corpus, for every domain', () => {
    for (const domain of DOMAINS) {
      const seen = new Map<string, Split>();
      const clashes: string[] = [];
      for (const split of SPLITS) {
        const docs = loadDomain(domain, split);
        expect(docs.length, `${domain}/${split}`).toBeGreaterThan(0);
        for (const d of docs) {
          if (seen.has(d.id)) clashes.push(`${d.id} is in ${seen.get(d.id)} and ${split}`);
          seen.set(d.id, split);
        }
      }
      expect(clashes).toEqual([]);
      const corpus = domainCorpus(domain);
      const extra = domain === 'math' ? SPLITS.reduce((a, s) => a + arithmeticDocs(s).length, 0) : 0;
      expect(seen.size, domain).toBe(corpus.length + extra);
    }
  });

  it('are disjoint in split units: law families, code files, README families', () => {
    const clashes: string[] = [];
    for (const domain of DOMAINS) {
      const unitSplit = new Map<string, Split>();
      for (const split of SPLITS) {
        for (const d of loadDomain(domain, split)) {
          const unit = d.group ?? d.id;
          const prev = unitSplit.get(unit);
          if (prev !== undefined && prev !== split) clashes.push(`${domain} unit ${unit} is in ${prev} and ${split}`);
          unitSplit.set(unit, split);
        }
      }
    }
    expect(clashes).toEqual([]);
    // Code is split by file: every file is one document and its own unit.
    const codeIds = SPLITS.flatMap((s) => loadDomain('code', s).map((d) => d.id));
    expect(new Set(codeIds).size).toBe(codeIds.length);
    expect(SPLITS.flatMap((s) => loadDomain('code', s)).every((d) => d.group === d.id)).toBe(true);
  });

  it('never puts two licences with the same name key in different splits (GPL-2.0-only vs GPL-2.0-or-later)', () => {
    const nameSplit = new Map<string, Split>();
    for (const split of SPLITS) {
      for (const d of loadDomain('law', split)) {
        const key = licenseNameKey(d.id.slice('spdx/'.length));
        expect(nameSplit.get(key) ?? split, key).toBe(split);
        nameSplit.set(key, split);
      }
    }
    expect(nameSplit.size).toBeGreaterThan(300);
  });

  /** The most similar pair of documents in different splits of `domain` (exact word 5-gram Jaccard). */
  function worstCrossSplitPair(domain: 'law' | 'math'): { j: number; pair: string } {
    const words = new Map<string, number>();
    const bySplit = SPLITS.map((s) =>
      loadDomain(domain, s)
        .filter((d) => !d.id.startsWith('arith/'))
        .map((d) => ({ id: d.id, sh: shingleHashes(d.text, words) })),
    );
    let worst = { j: 0, pair: '' };
    for (let a = 0; a < SPLITS.length; a++) {
      for (let b = a + 1; b < SPLITS.length; b++) {
        for (const x of bySplit[a]) {
          for (const y of bySplit[b]) {
            const small = Math.min(x.sh.size, y.sh.size);
            const large = Math.max(x.sh.size, y.sh.size);
            if (small === 0 || small / large < worst.j) continue; // Jaccard <= small/large
            const j = jaccard(x.sh, y.sh);
            if (j > worst.j) worst = { j, pair: `${x.id} / ${y.id}` };
          }
        }
      }
    }
    return worst;
  }

  it('leaves no near-duplicate licence texts across splits (exact 5-gram Jaccard below 0.7)', () => {
    const worst = worstCrossSplitPair('law');
    expect(worst.j, worst.pair).toBeLessThan(0.7);
    expect(worst.j).toBeGreaterThan(0.3); // permissive licences do share boilerplate
  });

  it('leaves no near-duplicate stdlib READMEs across splits (dmean / smean share a split)', () => {
    const worst = worstCrossSplitPair('math');
    expect(worst.j, worst.pair).toBeLessThan(0.7);
  });

  it('keeps generated arithmetic expressions out of more than one split', () => {
    const where = new Map<string, Split>();
    const clashes: string[] = [];
    for (const split of SPLITS) {
      for (const p of arithmeticProblems(split)) {
        if ((where.get(p.expression) ?? split) !== split) clashes.push(p.expression);
        where.set(p.expression, split);
      }
    }
    expect(clashes).toEqual([]);
    expect(where.size).toBeGreaterThan(25_000);
    const mathTrain = loadDomain('math', 'train');
    expect(mathTrain.some((d) => d.id.startsWith('arith/train/'))).toBe(true);
    expect(mathTrain.some((d) => d.id.startsWith('arith/test/'))).toBe(false);
  });

  it('assigns roughly 80/10/10 of the split units by hash', () => {
    for (const domain of ['general', 'code', 'math'] as const) {
      const units = [...new Set(domainCorpus(domain).map((d) => d.group ?? d.id))];
      const count = { train: 0, validation: 0, test: 0 };
      for (const u of units) count[splitOf(domain, u)]++;
      expect(count.train / units.length, domain).toBeGreaterThan(0.74);
      expect(count.train / units.length, domain).toBeLessThan(0.86);
      expect(count.validation / units.length, domain).toBeGreaterThan(0.05);
      expect(count.test / units.length, domain).toBeGreaterThan(0.05);
    }
  });

  it('gives the same split for the same unit on every call and returns the cached array', () => {
    expect(splitOf('code', 'effect/src/Array.ts')).toBe(splitOf('code', 'effect/src/Array.ts'));
    expect(loadDomain('general', 'test')).toBe(loadDomain('general', 'test'));
    expect(domainTestDocs('code')).toBe(loadDomain('code', 'test'));
  });

  it('exposes held-out effect files for downstream code tasks', () => {
    const test = domainTestDocs('code');
    expect(test.length).toBeGreaterThan(10);
    expect(test.every((d) => d.id.startsWith('effect/src/'))).toBe(true);
    const train = new Set(loadDomain('code', 'train').map((d) => d.id));
    expect(test.filter((d) => train.has(d.id))).toEqual([]);
  });

  it('rejects unknown domains and splits with a DataError naming the known ones', () => {
    expect(() => loadDomain('poetry' as never, 'train')).toThrow(DataError);
    expect(() => loadDomain('poetry' as never, 'train')).toThrow(/known domains: general, law, code, math, ood/);
    expect(() => loadDomain('law', 'dev' as never)).toThrow(/known splits: train, validation, test/);
  });
});
