import { describe, expect, it } from 'vitest';
import { aggregateScores, evaluateTask } from '@bam/eval';
import { loadDomain } from '@bam/core';
import { codeCompletion, isTargetLine, type CodeCompletionDoc } from '../../src/index.ts';
import { ctx, docsOf, oracleModel } from './helpers.ts';

describe('code-completion', () => {
  it('builds 100 documents from held-out effect files, at most 6 per file', async () => {
    const docs = await docsOf<CodeCompletionDoc>(codeCompletion);
    expect(docs.length).toBe(100);
    const trainFiles = new Set(loadDomain('code', 'train').map((d) => d.id));
    const testFiles = new Set(loadDomain('code', 'test').map((d) => d.id));
    const perFile = new Map<string, number>();
    for (const d of docs) {
      expect(testFiles.has(d.file)).toBe(true);
      expect(trainFiles.has(d.file)).toBe(false);
      perFile.set(d.file, (perFile.get(d.file) ?? 0) + 1);
    }
    expect(Math.max(...perFile.values())).toBeLessThanOrEqual(6);
    expect(perFile.size).toBeGreaterThanOrEqual(17);
  });

  it('gives the 8 lines before the target as context and the true next line as the gold choice', async () => {
    const docs = await docsOf<CodeCompletionDoc>(codeCompletion);
    const files = new Map(loadDomain('code', 'test').map((d) => [d.id, d.text.split('\n')]));
    for (const d of docs) {
      const lines = files.get(d.file)!;
      expect(d.context).toBe(`${lines.slice(d.line - 8, d.line).join('\n')}\n`);
      expect(d.choices[d.gold]).toBe(lines[d.line]);
      expect(isTargetLine(lines[d.line])).toBe(true);
    }
  });

  it('never shows a context-and-line window that occurs in a training file', async () => {
    const docs = await docsOf<CodeCompletionDoc>(codeCompletion);
    const train = loadDomain('code', 'train').map((d) => d.text);
    expect(docs.filter((d) => train.some((t) => t.includes(d.context + d.choices[d.gold])))).toEqual([]);
  });

  it('draws distractors from other held-out files, indented like the true line and close to it in length', async () => {
    const docs = await docsOf<CodeCompletionDoc>(codeCompletion);
    const own = new Map(loadDomain('code', 'test').map((d) => [d.id, new Set(d.text.split('\n').map((l) => l.trim()))]));
    const filesOf = new Map<string, Set<string>>();
    for (const f of loadDomain('code', 'test')) for (const l of f.text.split('\n')) filesOf.set(l.trim(), (filesOf.get(l.trim()) ?? new Set()).add(f.id));
    let ratio = 0;
    for (const d of docs) {
      const gold = d.choices[d.gold];
      const indent = /^\s*/.exec(gold)![0];
      expect(new Set(d.choices.map((c) => c.trim())).size).toBe(4);
      for (const [i, c] of d.choices.entries()) {
        if (i === d.gold) continue;
        expect(c.startsWith(indent) && !/\s/.test(c[indent.length])).toBe(true);
        expect([...filesOf.get(c.trim())!].some((f) => f !== d.file)).toBe(true);
        expect(isTargetLine(c)).toBe(true);
        ratio = Math.max(ratio, Math.abs(Math.log(c.trim().length / gold.trim().length)));
      }
      expect(own.get(d.file)!.has(gold.trim())).toBe(true);
    }
    expect(Math.exp(ratio)).toBeLessThan(1.5);
  });

  it('scores acc 1 with a model that prefers the true line and 0 with one that avoids it', async () => {
    const docs = await docsOf<CodeCompletionDoc>(codeCompletion, { limit: 25 });
    for (const [prefer, want] of [['gold', 1], ['wrong', 0]] as const) {
      const agg = aggregateScores(codeCompletion.metrics, await evaluateTask(codeCompletion, { limit: 25 }, oracleModel(docs, prefer), ctx()), { seed: 0, bootstrapIters: 0 });
      expect([agg.acc.value, agg.acc_norm.value]).toEqual([want, want]);
    }
  });

  it('accepts fewer context lines and refuses a context of 0 lines', async () => {
    const docs = await docsOf<CodeCompletionDoc>(codeCompletion, { limit: 5, contextLines: 3 });
    for (const d of docs) expect(d.context.split('\n')).toHaveLength(4);
    expect(codeCompletion.options.safeParse({ contextLines: 0 }).success).toBe(false);
  });
});
