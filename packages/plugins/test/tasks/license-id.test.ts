import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { aggregateScores, evaluateTask } from '@bam/eval';
import { loadDomain } from '@bam/core';
import { licenseId, type LicenseIdDoc } from '../../src/index.ts';
import { ctx, docsOf, oracleModel } from './helpers.ts';

const names = createRequire(import.meta.url)('spdx-license-list') as Record<string, { name: string }>;

describe('license-id', () => {
  it('asks about each of the 49 licences of the law test split once', async () => {
    const docs = await docsOf<LicenseIdDoc>(licenseId);
    const test = loadDomain('law', 'test');
    expect(test.length).toBe(49);
    expect(docs.map((d) => d.id).sort()).toEqual(test.map((d) => d.id).sort());
  });

  it('draws no licence from a family of the law training split', async () => {
    const docs = await docsOf<LicenseIdDoc>(licenseId);
    const train = loadDomain('law', 'train');
    const trainFamilies = new Set(train.map((d) => d.group));
    const trainIds = new Set(train.map((d) => d.id));
    expect(docs.filter((d) => trainFamilies.has(d.family) || trainIds.has(d.id))).toEqual([]);
    expect(trainFamilies.size).toBeGreaterThan(100);
  });

  it('shows the opening of the licence (≤ 400 characters) and offers its SPDX name among names of other families', async () => {
    const docs = await docsOf<LicenseIdDoc>(licenseId);
    const test = loadDomain('law', 'test');
    const text = new Map(test.map((d) => [d.id, d.text]));
    const familyOfName = new Map<string, Set<string>>();
    for (const d of test) {
      const n = names[d.id.slice(5)].name;
      familyOfName.set(n, (familyOfName.get(n) ?? new Set()).add(d.group!));
    }
    for (const d of docs) {
      const [excerpt, question] = d.context.split('\n\nQuestion: ');
      expect(question).toBe('Which licence is this?\nAnswer:');
      expect(excerpt.length).toBeLessThanOrEqual(400);
      expect(text.get(d.id)!.startsWith(excerpt)).toBe(true);
      expect(d.choices[d.gold]).toBe(` ${names[d.spdxId].name}`);
      expect(new Set(d.choices).size).toBe(4);
      d.choices.forEach((c, i) => {
        if (i !== d.gold) expect(familyOfName.get(c.slice(1))!.has(d.family)).toBe(false);
      });
    }
    const b = docs.find((d) => d.spdxId === 'BSL-1.0')!;
    expect(b.choices[b.gold]).toBe(' Boost Software License 1.0');
    expect(b.context.startsWith('Boost Software License - Version 1.0 - August 17th, 2003')).toBe(true);
  });

  it('keeps a shorter excerpt when asked and cuts it at a word boundary', async () => {
    const docs = await docsOf<LicenseIdDoc>(licenseId, { excerptChars: 60 });
    const b = docs.find((d) => d.spdxId === 'BSL-1.0')!;
    expect(b.context).toBe('Boost Software License - Version 1.0 - August 17th, 2003\n\nQuestion: Which licence is this?\nAnswer:');
  });

  it('scores acc 1 with a model that prefers the true name and 0 with one that avoids it', async () => {
    const docs = await docsOf<LicenseIdDoc>(licenseId);
    for (const [prefer, want] of [['gold', 1], ['wrong', 0]] as const) {
      const agg = aggregateScores(licenseId.metrics, await evaluateTask(licenseId, {}, oracleModel(docs, prefer), ctx()), { seed: 0, bootstrapIters: 0 });
      expect([agg.acc.value, agg.acc_norm.value, agg.acc.n]).toEqual([want, want, 49]);
    }
  });
});
