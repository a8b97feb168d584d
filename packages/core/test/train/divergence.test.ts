import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { mulberry32 } from '@bam/utils';
import { DIVERGENCE_DEFAULTS, DivergenceDetector, type DivergenceAlarm } from '../../src/train/divergence.ts';

/** Feeds (loss, gradNorm) pairs as steps 1, 2, …; returns the first alarm. */
function firstAlarm(d: DivergenceDetector, steps: Array<[number, number]>): DivergenceAlarm | undefined {
  for (let i = 0; i < steps.length; i++) {
    const a = d.observe(i + 1, steps[i][0], steps[i][1]);
    if (a) return a;
  }
  return undefined;
}

/** A normal LM warm-up: loss from ln 256 down to ~2 with ±8% noise, gradient norm rising 0.9 → 3 then falling, ±30% noise. */
function warmupCurve(n: number, seed: number): Array<[number, number]> {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const loss = (2 + 3.55 * Math.exp(-i / 40)) * (1 + 0.16 * (rand() - 0.5));
    const grad = (0.9 + 2.1 * Math.sin((Math.PI * Math.min(i, 100)) / 200)) * (1 + 0.6 * (rand() - 0.5));
    return [loss, grad];
  });
}

describe('DivergenceDetector', () => {
  it('raises no alarm on a noisy normal warm-up curve (ten seeds, 300 steps each)', () => {
    for (let seed = 1; seed <= 10; seed++) expect(firstAlarm(new DivergenceDetector(), warmupCurve(300, seed))).toBeUndefined();
  });

  it('fires on the step where the loss jumps 10× its baseline, naming the baseline', () => {
    const steps: Array<[number, number]> = [[5, 1], [5, 1], [5, 1], [50, 1], [5, 1]];
    const a = firstAlarm(new DivergenceDetector(), steps)!;
    expect(a.step).toBe(4);
    expect(a.kind).toBe('loss');
    expect(a.value).toBe(50);
    // A constant loss of 5: the bias-corrected EMA is exactly 5.
    expect(a.baseline).toBeCloseTo(5, 12);
  });

  it('fires on the issue case: loss 5.555 then 2350.9 at step 3', () => {
    const a = firstAlarm(new DivergenceDetector(), [[5.5554, 0.915], [5.5552, 0.743], [2350.94, 861.7]])!;
    expect(a).toMatchObject({ step: 3, kind: 'loss' });
    expect(a.baseline).toBeCloseTo((0.9 * 0.1 * 5.5554 + 0.1 * 5.5552) / (1 - 0.81), 10);
  });

  it('fires on a gradient-norm spike while the loss is still normal, once its baseline is armed', () => {
    const steps: Array<[number, number]> = Array.from({ length: 12 }, () => [4, 2] as [number, number]);
    steps.push([4.1, 25]); // 12.5× the baseline of 2
    const a = firstAlarm(new DivergenceDetector(), steps)!;
    expect(a).toMatchObject({ step: 13, kind: 'gradNorm', value: 25 });
    expect(a.baseline).toBeCloseTo(2, 12);
    // Before warmupSteps (10) healthy steps the same spike is not judged.
    expect(firstAlarm(new DivergenceDetector(), [[4, 2], [4, 2], [4, 25]])).toBeUndefined();
  });

  it('does not alarm on a tripled loss that rises by less than minLossRise (a near-zero loss)', () => {
    expect(firstAlarm(new DivergenceDetector(), [[0.01, 1], [0.01, 1], [0.05, 1]])).toBeUndefined();
  });

  it('takes configured thresholds, 0 turning a check off', () => {
    const jump: Array<[number, number]> = [[5, 1], [5, 1], [12, 1]];
    expect(firstAlarm(new DivergenceDetector(), jump)).toBeUndefined(); // 2.4× < 3×
    expect(firstAlarm(new DivergenceDetector({ lossRatio: 2 }), jump)?.step).toBe(3);
    expect(firstAlarm(new DivergenceDetector({ lossRatio: 0 }), [[5, 1], [500, 1]])).toBeUndefined();
    expect(DIVERGENCE_DEFAULTS).toEqual({ lossRatio: 3, minLossRise: 1, gradNormRatio: 10, emaBeta: 0.9, warmupSteps: 10 });
  });

  it('continues from a saved state exactly as an uninterrupted detector', () => {
    const curve = warmupCurve(40, 3);
    const a = new DivergenceDetector();
    curve.slice(0, 20).forEach(([l, g], i) => a.observe(i + 1, l, g));
    const b = new DivergenceDetector({}, a.state);
    curve.slice(20).forEach(([l, g], i) => {
      a.observe(i + 21, l, g);
      b.observe(i + 21, l, g);
    });
    expect(b.state).toEqual(a.state);
  });

  it('rejects bad thresholds with a ConfigError naming each', () => {
    expect(() => new DivergenceDetector({ lossRatio: 0.5, emaBeta: 1 })).toThrow(ConfigError);
    expect(() => new DivergenceDetector({ lossRatio: 0.5 })).toThrow(/divergence\.lossRatio/);
    expect(() => new DivergenceDetector({ warmupSteps: -1 })).toThrow(/divergence\.warmupSteps/);
  });
});
