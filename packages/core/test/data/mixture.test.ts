import { describe, expect, it } from 'vitest';
import { EQUAL_MIX, expertMix, formatMix, mixEntries, parseMixSpec } from '../../src/data/index.ts';
import { ConfigError } from '../../src/errors.ts';

describe('parseMixSpec', () => {
  it('reads "90% law + 10% general" as 0.9 law and 0.1 general', () => {
    expect(parseMixSpec('90% law + 10% general')).toEqual({ general: 0.1, law: 0.9 });
  });

  it('reads fractions, colon and equals forms, commas and a bare domain', () => {
    expect(parseMixSpec('0.25 code + 0.75 math')).toEqual({ code: 0.25, math: 0.75 });
    expect(parseMixSpec('law: 0.5, general=50%')).toEqual({ general: 0.5, law: 0.5 });
    expect(parseMixSpec('  General  ')).toEqual({ general: 1 });
    expect(parseMixSpec('33.3333333% code + 33.3333333% law + 33.3333334% math')).toEqual({ law: 0.333333333, code: 0.333333333, math: 0.333333334 });
  });

  it('accepts the object form and drops zero weights', () => {
    expect(parseMixSpec({ law: 0.9, general: 0.1 })).toEqual({ general: 0.1, law: 0.9 });
    expect(mixEntries(parseMixSpec({ math: 1, code: 0 }))).toEqual([{ domain: 'math', weight: 1 }]);
  });

  it('accepts weights that sum to 1 within 1e-6 and rejects a sum off by more', () => {
    expect(parseMixSpec({ law: 0.5, general: 0.5000005 }).general).toBe(0.5000005);
    expect(() => parseMixSpec({ law: 0.5, general: 0.500002 })).toThrow(/weights sum to 1.000002, not 1/);
    expect(() => parseMixSpec('90% law + 20% general')).toThrow(/weights sum to 1.1, not 1/);
  });

  it('names every unknown domain, bad weight and duplicate in one ConfigError', () => {
    let err: unknown;
    try {
      parseMixSpec({ law: -0.1, poetry: 0.6, general: Number.NaN });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.map((i) => i.path).sort();
    expect(issues).toEqual(['general', 'law', 'poetry']);
    expect((err as Error).message).toMatch(/unknown domain 'poetry' \(known: general, law, code, math, ood\)/);
    expect(() => parseMixSpec('50% law + 50% law')).toThrow(/appears more than once/);
    expect(() => parseMixSpec('law and code')).toThrow(/cannot read 'law and code'/);
    expect(() => parseMixSpec('')).toThrow(/the mixture is empty/);
    expect(() => parseMixSpec({})).toThrow(/the mixture is empty/);
  });

  it('refuses the held-out ood domain in a training mix unless explicitly allowed', () => {
    expect(() => parseMixSpec('90% general + 10% ood')).toThrow(/'ood' is held out/);
    expect(() => parseMixSpec({ ood: 1 })).toThrow(ConfigError);
    expect(parseMixSpec({ ood: 1 }, { allowOod: true })).toEqual({ ood: 1 });
  });
});

describe("the paper's mixes", () => {
  it('gives each expert 90% of its domain and 10% general, and the mixture phase 25% of each', () => {
    expect(expertMix('code')).toEqual({ general: 0.1, code: 0.9 });
    expect(expertMix('general')).toEqual({ general: 1 });
    expect(EQUAL_MIX).toEqual({ general: 0.25, law: 0.25, code: 0.25, math: 0.25 });
    for (const mix of [EQUAL_MIX, expertMix('law'), expertMix('math')]) expect(mix.ood).toBeUndefined();
  });

  it('formats a mixture canonically, largest weight first, and parses its own output back', () => {
    expect(formatMix(parseMixSpec({ general: 0.1, law: 0.9 }))).toBe('90% law + 10% general');
    expect(formatMix(EQUAL_MIX)).toBe('25% general + 25% law + 25% code + 25% math');
    expect(parseMixSpec(formatMix(expertMix('math')))).toEqual(expertMix('math'));
  });
});
