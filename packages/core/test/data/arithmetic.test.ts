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

/**
 * Evaluates one side of a line in floating point with a separate recursive-descent parser
 * (the generator works on exact BigInt rationals over a tree, so this is an independent check).
 */
function evaluate(side: string): number {
  const toks = side.match(/\d+(?:\.\d+)?|[-+*/()]/g) ?? [];
  if (toks.join('') !== side.replace(/\s+/g, '')) throw new Error(`not an arithmetic expression: ${side}`);
  let i = 0;
  const primary = (): number => {
    const t = toks[i++];
    if (t === '(') {
      const v = sum();
      if (toks[i++] !== ')') throw new Error(`unbalanced parentheses: ${side}`);
      return v;
    }
    if (t === '-') return -primary();
    if (t === undefined || !/^\d/.test(t)) throw new Error(`unexpected '${t}' in ${side}`);
    return Number(t);
  };
  const product = (): number => {
    let v = primary();
    while (toks[i] === '*' || toks[i] === '/') v = toks[i++] === '*' ? v * primary() : v / primary();
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (toks[i] === '+' || toks[i] === '-') v = toks[i++] === '+' ? v + product() : v - product();
    return v;
  };
  const v = sum();
  if (i !== toks.length) throw new Error(`trailing tokens in ${side}`);
  return v;
}

describe('generated arithmetic', () => {
  it('evaluates with the usual precedence in the checker itself', () => {
    expect(evaluate('12 + 7 * 3')).toBe(33);
    expect(evaluate('(2 - 44) * 3 - 10 / 4')).toBe(-128.5);
    expect(evaluate('3 - (-5)')).toBe(8);
    expect(evaluate('-42 * 2')).toBe(-84);
  });

  it('writes lines whose every step and answer equal the expression (checked by evaluating them)', () => {
    let lines = 0;
    let sidesChecked = 0;
    const wrong: string[] = [];
    for (const split of SPLITS) {
      for (const doc of arithmeticDocs(split)) {
        for (const line of doc.text.split('\n')) {
          const sides = line.split(' = ');
          if (sides.length < 2) wrong.push(`no answer: ${line}`);
          const want = evaluate(sides[0]);
          for (const side of sides.slice(1)) {
            if (Math.abs(evaluate(side) - want) > 1e-9 * Math.max(1, Math.abs(want))) wrong.push(`${line}  [${side}]`);
            sidesChecked++;
          }
          lines++;
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(lines).toBe(30_000);
    expect(sidesChecked).toBeGreaterThan(2 * lines);
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
