import { describe, expect, it } from 'vitest';
import { fmix32, mulberry32 } from '../src/index.ts';

describe('seeded RNG', () => {
  it('gives the same mulberry32 stream as before the move, for the same seed', () => {
    const r = mulberry32(42);
    expect([r(), r(), r()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const z = mulberry32(0);
    expect([z(), z()]).toEqual([0.26642920868471265, 0.0003297457005828619]);
  });

  it('stays in [0, 1) and treats seeds modulo 2^32', () => {
    const r = mulberry32(7);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
    }
    const a = mulberry32(-1);
    const b = mulberry32(0xffffffff);
    expect([a(), a()]).toEqual([b(), b()]);
  });

  it('mixes integers with murmur3 fmix32 (reference values)', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    expect(fmix32(0xdeadbeef)).toBe(233162409);
    expect(fmix32(-1)).toBe(fmix32(0xffffffff));
  });
});
