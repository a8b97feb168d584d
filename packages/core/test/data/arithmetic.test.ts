import { describe, expect, it } from 'vitest';
import {
  ARITHMETIC_SEED,
  arithmeticDocs,
  arithmeticProblems,
  arithmeticSplitOf,
  generateArithmetic,
  type ArithmeticProblem,
} from '../../src/data/corpora/arithmetic.ts';
import { SPLITS } from '../../src/data/types.ts';

/** Evaluates one side of a line with JavaScript's own arithmetic (an independent check). */
function evaluate(side: string): number {
  if (!/^[\d.\s()+\-*/]+$/.test(side)) throw new Error(`not an arithmetic expression: ${side}`);
  return Function(`"use strict"; return (${side});`)() as number;
}

describe('generated arithmetic', () => {
  it('writes lines whose every step and answer equal the expression (checked by evaluating them)', () => {
    let lines = 0;
    for (const split of SPLITS) {
      for (const doc of arithmeticDocs(split)) {
        for (const line of doc.text.split('\n')) {
          const sides = line.split(' = ');
          expect(sides.length, line).toBeGreaterThanOrEqual(2);
          const want = evaluate(sides[0]);
          for (const side of sides.slice(1)) {
            const got = evaluate(side);
            expect(Math.abs(got - want), `${line}: ${side}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
          }
          lines++;
        }
      }
    }
    expect(lines).toBe(30_000);
  });

  it('solves one operation per step in the usual order', () => {
    const ops = (s: string): number => (s.match(/ [-+*/] /g) ?? []).length;
    for (const p of generateArithmetic('unit-test', 500)) {
      expect(p.steps.length).toBe(ops(p.expression) - 1);
      [p.expression, ...p.steps].forEach((s, i) => expect(ops(s), p.text).toBe(ops(p.expression) - i));
      expect(ops(p.answer)).toBe(0);
      expect(p.text).toBe([p.expression, ...p.steps, p.answer].join(' = '));
    }
  });

  it('covers multi-step problems, decimals, division, parentheses and negative results', () => {
    const all = generateArithmetic(ARITHMETIC_SEED, 2000);
    const share = (f: (p: ArithmeticProblem) => boolean): number => all.filter(f).length / all.length;
    expect(share((p) => p.steps.length >= 2)).toBeGreaterThan(0.4);
    expect(share((p) => /\d\.\d/.test(p.expression))).toBeGreaterThan(0.2);
    expect(share((p) => p.expression.includes(' / '))).toBeGreaterThan(0.2);
    expect(share((p) => p.expression.includes('('))).toBeGreaterThan(0.3);
    expect(share((p) => p.answer.startsWith('-'))).toBeGreaterThan(0.05);
  });

  it('is a pure function of the seed', () => {
    expect(generateArithmetic(7, 200)).toEqual(generateArithmetic(7, 200));
    expect(generateArithmetic(7, 200).map((p) => p.text)).not.toEqual(generateArithmetic(8, 200).map((p) => p.text));
  });

  it('splits problems about 80/10/10 by expression hash', () => {
    const n = SPLITS.map((s) => arithmeticProblems(s).length);
    expect(n[0] + n[1] + n[2]).toBe(30_000);
    expect(n[0] / 30_000).toBeGreaterThan(0.78);
    expect(n[0] / 30_000).toBeLessThan(0.82);
    for (const p of arithmeticProblems('test').slice(0, 100)) expect(arithmeticSplitOf(p.expression)).toBe('test');
  });
});
