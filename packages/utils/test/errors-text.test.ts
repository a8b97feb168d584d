import { describe, expect, it } from 'vitest';
import { BamError, defaultWorkers, editDistance, errorLine, nearestMatch } from '../src/index.ts';

class ExampleError extends BamError {
  constructor(detail: string) {
    super(`example: ${detail}`, 'E_EXAMPLE', 'fix the example');
  }
}

describe('errors, fuzzy matching and worker counts', () => {
  it('carries a code and appends the hint to the message, named after the subclass', () => {
    const e = new ExampleError('broken');
    expect(e).toBeInstanceOf(BamError);
    expect(e.code).toBe('E_EXAMPLE');
    expect(e.hint).toBe('fix the example');
    expect(e.message).toBe('example: broken\n  hint: fix the example');
    expect(e.name).toBe('ExampleError');
    expect(new BamError('plain', 'E_X').message).toBe('plain');
    expect(errorLine(e)).toBe('example: broken');
    expect(errorLine('a\nb')).toBe('a');
  });

  it('measures edit distance and picks the nearest id, case-insensitively, first on ties', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('btx', 'btx')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(nearestMatch('bam-ful', ['btx', 'bam-full', 'bam-kv-shared'])).toBe('bam-full');
    expect(nearestMatch('BTX', ['bam-full', 'btx'])).toBe('btx');
    expect(nearestMatch('ab', ['aa', 'bb'])).toBe('aa');
    expect(nearestMatch('x', [])).toBeUndefined();
  });

  it('defaults to at least one worker', () => {
    expect(Number.isInteger(defaultWorkers()) && defaultWorkers() >= 1).toBe(true);
  });
});
