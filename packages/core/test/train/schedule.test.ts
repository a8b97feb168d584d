import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { learningRate } from '../../src/train/schedule.ts';

describe('learningRate', () => {
  const s = { peak: 1e-3, warmup: 10 };
  const total = 111; // last step 110; decay spans steps 10..110, middle at 60

  it('starts at 0, rises linearly and reaches the peak at the end of warm-up', () => {
    expect(learningRate(s, 0, total)).toBe(0);
    expect(learningRate(s, 5, total)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 10, total)).toBeCloseTo(1e-3, 12);
  });

  it('is halfway between peak and 10% of peak in the middle of the decay', () => {
    expect(learningRate(s, 60, total)).toBeCloseTo((1e-3 + 1e-4) / 2, 12);
    // a quarter of the way: min + (peak - min)·½(1 + cos(π/4))
    expect(learningRate(s, 35, total)).toBeCloseTo(1e-4 + 9e-4 * 0.5 * (1 + Math.SQRT1_2), 12);
  });

  it('reaches 10% of the peak at the last step and stays there', () => {
    expect(learningRate(s, 110, total)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 500, total)).toBeCloseTo(1e-4, 12);
    expect(learningRate({ ...s, minRatio: 0 }, 110, total)).toBeCloseTo(0, 12);
  });

  it('falls monotonically after warm-up', () => {
    const lrs = Array.from({ length: 101 }, (_, i) => learningRate(s, 10 + i, total));
    for (let i = 1; i < lrs.length; i++) expect(lrs[i]).toBeLessThanOrEqual(lrs[i - 1]);
  });

  it('starts at the peak without warm-up', () => {
    expect(learningRate({ peak: 2, warmup: 0 }, 0, 5)).toBe(2);
    expect(learningRate({ peak: 2, warmup: 0 }, 4, 5)).toBeCloseTo(0.2, 12);
  });

  it('rejects a negative peak or fractional warm-up naming the field', () => {
    expect(() => learningRate({ peak: -1, warmup: 1.5 }, 0, 10)).toThrow(ConfigError);
    expect(() => learningRate({ peak: -1, warmup: 1.5 }, 0, 10)).toThrow(/lr\.peak[\s\S]*lr\.warmup/);
  });
});
