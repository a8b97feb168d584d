import { describe, expect, it } from 'vitest';
import { aggregateScores, evaluateTask } from '@bam/eval';
import { arithmeticProblems, arithmeticSplitOf } from '@bam/core';
import { arithmetic, arithmeticEvalProblems, closeDistractors, type ArithmeticDoc } from '../../src/index.ts';
import { ctx, docsOf, oracleModel } from './helpers.ts';

/** Exact value of an expression as a fraction [num, den], by a recursive-descent parser written for this test. */
function evaluate(expr: string): [bigint, bigint] {
  const toks = expr.match(/\d+(?:\.\d+)?|[-+*/()]/g)!;
  let i = 0;
  const norm = ([n, d]: [bigint, bigint]): [bigint, bigint] => {
    if (d < 0n) [n, d] = [-n, -d];
    let a = n < 0n ? -n : n;
    let b = d;
    while (b) [a, b] = [b, a % b];
    return [n / (a || 1n), d / (a || 1n)];
  };
  const atom = (): [bigint, bigint] => {
    const t = toks[i++];
    if (t === '(') {
      const v = sum();
      i++; // ')'
      return v;
    }
    if (t === '-') {
      const [n, d] = atom();
      return [-n, d];
    }
    const [int, frac = ''] = t.split('.');
    return norm([BigInt(int + frac), 10n ** BigInt(frac.length)]);
  };
  const product = (): [bigint, bigint] => {
    let v = atom();
    while (toks[i] === '*' || toks[i] === '/') {
      const op = toks[i++];
      const r = atom();
      v = op === '*' ? norm([v[0] * r[0], v[1] * r[1]]) : norm([v[0] * r[1], v[1] * r[0]]);
    }
    return v;
  };
  const sum = (): [bigint, bigint] => {
    let v = product();
    while (toks[i] === '+' || toks[i] === '-') {
      const op = toks[i++];
      const r = product();
      v = norm(op === '+' ? [v[0] * r[1] + r[0] * v[1], v[1] * r[1]] : [v[0] * r[1] - r[0] * v[1], v[1] * r[1]]);
    }
    return v;
  };
  return sum();
}

/** A decimal string as a fraction. */
function decimal(s: string): [bigint, bigint] {
  return evaluate(s.startsWith('-') ? `0 - ${s.slice(1)}` : s);
}

describe('arithmetic', () => {
  it('checks its own evaluator on hand-worked expressions', () => {
    expect(evaluate('3 * (4 + 5) - 6')).toEqual([21n, 1n]);
    expect(evaluate('7.5 / 2 + 1.25')).toEqual([5n, 1n]);
    expect(evaluate('10 - (2 - 3)')).toEqual([11n, 1n]);
    expect(evaluate('(-2.5) * 4')).toEqual([-10n, 1n]);
    expect(decimal('-3.75')).toEqual([-15n, 4n]);
  });

  it('gives 100 documents whose gold choice is the exact value of the expression', async () => {
    const docs = await docsOf<ArithmeticDoc>(arithmetic);
    expect(docs.length).toBe(100);
    for (const d of docs) {
      expect(decimal(d.choices[d.gold].trim())).toEqual(evaluate(d.expression));
      expect(d.answer).toBe(d.choices[d.gold].trim());
      for (const [i, c] of d.choices.entries()) if (i !== d.gold) expect(decimal(c.trim())).not.toEqual(evaluate(d.expression));
    }
  });

  it('offers distractors 1, 2 or 10 units of the last decimal place away, written without trailing zeros', async () => {
    const docs = await docsOf<ArithmeticDoc>(arithmetic);
    for (const d of docs) {
      const places = (d.answer.split('.')[1] ?? '').length;
      const [an, ad] = decimal(d.answer);
      for (const [i, c] of d.choices.entries()) {
        if (i === d.gold) continue;
        expect(c.trim()).not.toMatch(/\.\d*0$/);
        const [cn, cd] = decimal(c.trim());
        // (c − a) · 10^places must be ±1, ±2 or ±10
        const diff = ((cn * ad - an * cd) * 10n ** BigInt(places)) / (cd * ad);
        expect([1n, -1n, 2n, -2n, 10n, -10n]).toContain(diff);
      }
    }
    // rand → 0.999 leaves the offsets in order: +1, −1, +2 units
    expect(closeDistractors('21', () => 0.999)).toEqual(['22', '20', '23']);
    expect(closeDistractors('3.71', () => 0.999)).toEqual(['3.72', '3.7', '3.73']);
    expect(closeDistractors('-0.5', () => 0.999)).toEqual(['-0.4', '-0.6', '-0.3']);
  });

  it('holds no training problem and no tail of a training line', async () => {
    const docs = await docsOf<ArithmeticDoc>(arithmetic);
    const train = arithmeticProblems('train');
    const trainExpr = new Set(train.map((p) => p.expression));
    const trainText = `${train.map((p) => p.text).join('\n')}\n`;
    for (const d of docs) {
      expect(arithmeticSplitOf(d.expression)).toBe('test');
      expect(trainExpr.has(d.expression)).toBe(false);
      expect(trainText.includes(`${d.context} ${d.answer}\n`)).toBe(false);
    }
    expect(new Set(docs.map((d) => d.expression)).size).toBe(docs.length);
  });

  it('shows the worked steps in the training format, or only the expression with showSteps false', async () => {
    const [p] = arithmeticEvalProblems({ limit: 1, split: 'test', seed: 0 });
    const withSteps = (await docsOf<ArithmeticDoc>(arithmetic, { limit: 1 }))[0];
    const without = (await docsOf<ArithmeticDoc>(arithmetic, { limit: 1, showSteps: false }))[0];
    expect(`${withSteps.context} ${withSteps.answer}`).toBe(p.text);
    expect(without.context).toBe(`${p.expression} =`);
  });

  it('draws problems from a seed of its own: another sample seed gives other problems', async () => {
    const a = arithmeticEvalProblems({ limit: 20, split: 'test', seed: 0 }).map((p) => p.expression);
    const b = arithmeticEvalProblems({ limit: 20, split: 'test', seed: 1 }).map((p) => p.expression);
    expect(a.filter((e) => b.includes(e)).length).toBeLessThan(5);
    expect(arithmeticEvalProblems({ limit: 10, split: 'test', seed: 0 }).map((p) => p.expression)).toEqual(a.slice(0, 10));
  });

  it('scores acc 1 with a model that prefers the true value and 0 with one that avoids it', async () => {
    const docs = await docsOf<ArithmeticDoc>(arithmetic, { limit: 30 });
    for (const [prefer, want] of [['gold', 1], ['wrong', 0]] as const) {
      const agg = aggregateScores(arithmetic.metrics, await evaluateTask(arithmetic, { limit: 30 }, oracleModel(docs, prefer), ctx()), { seed: 0, bootstrapIters: 0 });
      expect([agg.acc.value, agg.acc_norm.value]).toEqual([want, want]);
    }
  });
});
