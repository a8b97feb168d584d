import { describe, expect, it } from 'vitest';
import {
  ContractError,
  SweepConfigError,
  comparePaired,
  holm,
  mcnemarExact,
  mean,
  meanStderr,
  mulberry32,
  parseSweepConfig,
  roundToError,
  type PairedTask,
} from '../src/index.ts';

const one = (variant: number[] | Array<[number, number]>, baseline: number[] | Array<[number, number]>, aggregation: PairedTask['aggregation'] = 'mean'): PairedTask[] => [
  { task: 't', aggregation, seeds: [{ seed: 0, variant, baseline }] },
];

/** numpy-style linear-interpolation quantile, written out again here so the test does not reuse the code under test. */
function q(sorted: number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]);
}

/** A standard normal from two uniforms (Box–Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

describe('paired comparison on a 5-document example', () => {
  const v = [0.9, 0.4, 0.7, 0.2, 0.8];
  const b = [0.5, 0.3, 0.6, 0.4, 0.5];
  // per-document differences: 0.4, 0.1, 0.1, −0.2, 0.3 → mean 0.14; baseline mean 0.46

  it('gives the hand-computed difference and relative difference', () => {
    const c = comparePaired(one(v, b), { iters: 0, seed: 1 });
    expect(c.value).toBeCloseTo(0.6, 12);
    expect(c.baselineValue).toBeCloseTo(0.46, 12);
    expect(c.delta).toBeCloseTo(0.14, 12);
    expect(c.relDelta).toBeCloseTo((0.14 / 0.46) * 100, 10);
    expect(c).toMatchObject({ ciLow: null, ciHigh: null, nDocs: 5, nSeeds: 1 });
  });

  it('draws the same bootstrap CI as a straightforward re-implementation with the same seed', () => {
    const iters = 2000;
    const seed = 42;
    const c = comparePaired(one(v, b), { iters, seed });
    const rand = mulberry32(seed);
    const deltas: number[] = [];
    const rels: number[] = [];
    for (let it = 0; it < iters; it++) {
      let sv = 0;
      let sb = 0;
      for (let i = 0; i < 5; i++) {
        const j = Math.floor(rand() * 5);
        sv += v[j];
        sb += b[j];
      }
      deltas.push(sv / 5 - sb / 5);
      rels.push(((sv / 5 - sb / 5) / (sb / 5)) * 100);
    }
    deltas.sort((x, y) => x - y);
    rels.sort((x, y) => x - y);
    expect(c.ciLow).toBeCloseTo(q(deltas, 0.025), 12);
    expect(c.ciHigh).toBeCloseTo(q(deltas, 0.975), 12);
    expect(c.relCiLow).toBeCloseTo(q(rels, 0.025), 10);
    expect(c.relCiHigh).toBeCloseTo(q(rels, 0.975), 10);
  });

  it('converges to the exact bootstrap distribution enumerated over all 5^5 resamples', () => {
    const d = v.map((x, i) => x - b[i]);
    const all: number[] = [];
    for (let k = 0; k < 5 ** 5; k++) {
      let s = 0;
      for (let i = 0, r = k; i < 5; i++, r = Math.floor(r / 5)) s += d[r % 5];
      all.push(s / 5);
    }
    all.sort((x, y) => x - y);
    // The exact 2.5% and 97.5% points of the resampled mean difference.
    const lo = all[Math.floor(0.025 * all.length)];
    const hi = all[Math.ceil(0.975 * all.length) - 1];
    const c = comparePaired(one(v, b), { iters: 40000, seed: 7 });
    // atoms of the distribution lie 0.02 apart; the Monte Carlo quantile lands on or next to the exact one
    expect(Math.abs((c.ciLow as number) - lo)).toBeLessThanOrEqual(0.0201);
    expect(Math.abs((c.ciHigh as number) - hi)).toBeLessThanOrEqual(0.0201);
  });

  it('reproduces every number from the same seed, and draws differently from another', () => {
    const a = comparePaired(one(v, b), { iters: 500, seed: 3 });
    expect(comparePaired(one(v, b), { iters: 500, seed: 3 })).toEqual(a);
    expect(comparePaired(one(v, b), { iters: 500, seed: 4 }).ciLow).not.toBe(a.ciLow);
  });
});

describe('McNemar', () => {
  it('gives the exact two-sided binomial p-value of a hand-made 2×2 table', () => {
    // b = 8 discordant pairs the variant wins, c = 2 it loses: p = 2·(C(10,0)+C(10,1)+C(10,2))/2¹⁰ = 112/1024
    expect(mcnemarExact(8, 2)).toBeCloseTo(112 / 1024, 14);
    expect(mcnemarExact(2, 8)).toBeCloseTo(112 / 1024, 14);
    expect(mcnemarExact(5, 0)).toBeCloseTo(2 / 32, 14);
    expect(mcnemarExact(3, 3)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
    // large counts stay finite: b = 600, c = 400 is far in the tail
    expect(mcnemarExact(600, 400)).toBeGreaterThan(0);
    expect(mcnemarExact(600, 400)).toBeLessThan(1e-9);
  });

  it('is the test comparePaired uses for 0/1 items of one seed, with the same table', () => {
    // 5 both right, 3 both wrong, 8 variant-only right, 2 baseline-only right
    const v = [...Array(5).fill(1), ...Array(3).fill(0), ...Array(8).fill(1), ...Array(2).fill(0)];
    const b = [...Array(5).fill(1), ...Array(3).fill(0), ...Array(8).fill(0), ...Array(2).fill(1)];
    const c = comparePaired(one(v, b), { iters: 200, seed: 1 });
    expect(c.test).toBe('mcnemar');
    expect(c.pValue).toBeCloseTo(112 / 1024, 14);
    expect(c.delta).toBeCloseTo(6 / 18, 12);
  });
});

describe('perplexity differences', () => {
  // variant: a short document it does badly on (ppl e⁴) and a long one it does well on (e¹);
  // baseline: e³ and e^1.5. Corpus perplexity favours the variant, averaged per-document perplexity the baseline.
  const v: Array<[number, number]> = [[-40, 10], [-100, 100]];
  const b: Array<[number, number]> = [[-30, 10], [-150, 100]];

  it('re-aggregates the [logprob, count] pairs instead of averaging per-document perplexities', () => {
    const c = comparePaired(one(v, b, 'perplexity'), { iters: 0, seed: 0 });
    expect(c.value).toBeCloseTo(Math.exp(140 / 110), 12);
    expect(c.baselineValue).toBeCloseTo(Math.exp(180 / 110), 12);
    expect(c.delta).toBeCloseTo(Math.exp(140 / 110) - Math.exp(180 / 110), 12);
    expect(c.delta).toBeLessThan(0);
    const averaged = (Math.exp(4) + Math.exp(1)) / 2 - (Math.exp(3) + Math.exp(1.5)) / 2;
    expect(averaged).toBeGreaterThan(0); // the wrong way round
    const bpb = comparePaired(one(v, b, 'bits_per_byte'), { iters: 0, seed: 0 });
    expect(bpb.delta).toBeCloseTo(140 / (110 * Math.LN2) - 180 / (110 * Math.LN2), 12);
  });

  it('uses a sign-flip permutation test for corpus metrics, with p = 1 when the models are identical', () => {
    const same = comparePaired(one(b, b, 'perplexity'), { iters: 300, seed: 2 });
    expect(same.test).toBe('permutation');
    expect(same.pValue).toBe(1);
    expect(same.ciLow).toBe(0);
    expect(same.ciHigh).toBe(0);
  });
});

describe('pairing', () => {
  it('finds a difference whose unpaired standard errors overlap: the paired CI excludes 0', () => {
    const rand = mulberry32(11);
    const b = Array.from({ length: 60 }, () => 10 * rand()); // documents differ a lot
    const v = b.map((x) => x + 0.1 + 0.05 * (rand() - 0.5)); // the variant is a little better on each
    const seV = meanStderr(v);
    const seB = meanStderr(b);
    // unpaired ±1.96·se intervals overlap by far
    expect(mean(v) - 1.96 * seV).toBeLessThan(mean(b) + 1.96 * seB);
    const c = comparePaired(one(v, b), { iters: 1000, seed: 5 });
    expect(c.ciLow as number).toBeGreaterThan(0);
    expect(c.delta).toBeGreaterThan(c.ciLow as number);
    expect(c.delta).toBeLessThan(c.ciHigh as number);
    expect(c.test).toBe('permutation');
    expect(c.pValue as number).toBeLessThan(0.01);
  });

  it('covers a known true difference with its 95% CI in 90–98% of 200 simulated datasets', () => {
    const rand = mulberry32(2024);
    const truth = 0.3;
    let covered = 0;
    const runs = 200;
    for (let r = 0; r < runs; r++) {
      const b = Array.from({ length: 40 }, () => 5 + 2 * gauss(rand));
      const v = b.map((x) => x + truth + gauss(rand));
      const c = comparePaired(one(v, b), { iters: 400, seed: r });
      if ((c.ciLow as number) <= truth && truth <= (c.ciHigh as number)) covered++;
    }
    expect(covered / runs).toBeGreaterThanOrEqual(0.9);
    expect(covered / runs).toBeLessThanOrEqual(0.98);
  });

  it('widens the CI through the hierarchical bootstrap when seeds disagree', () => {
    const rand = mulberry32(9);
    const base = Array.from({ length: 30 }, () => 5 + rand());
    const noise = base.map(() => 0.05 * (rand() - 0.5));
    const seeds = (shifts: number[]): PairedTask[] => [
      { task: 't', aggregation: 'mean', seeds: shifts.map((s, k) => ({ seed: k, variant: base.map((x, i) => x + s + noise[i]), baseline: base })) },
    ];
    const agree = comparePaired(seeds([0.1, 0.1, 0.1]), { iters: 1000, seed: 1 });
    const disagree = comparePaired(seeds([-0.2, 0.1, 0.4]), { iters: 1000, seed: 1 });
    expect(agree.delta).toBeCloseTo(disagree.delta, 12); // same mean shift
    expect(agree).toMatchObject({ nSeeds: 3, test: 'bootstrap' });
    const width = (c: typeof agree): number => (c.ciHigh as number) - (c.ciLow as number);
    expect(width(disagree)).toBeGreaterThan(5 * width(agree));
    expect(agree.ciLow as number).toBeGreaterThan(0);
    expect(disagree.ciLow as number).toBeLessThan(0);
  });

  it('averages several tasks with the same resampled seeds, and rejects tasks with different seeds', () => {
    const t = (task: string, shift: number): PairedTask => ({ task, aggregation: 'mean', seeds: [{ seed: 0, variant: [1 + shift, 2 + shift, 3 + shift], baseline: [1, 2, 3] }] });
    const c = comparePaired([t('a', 0.2), t('b', 0.4)], { iters: 100, seed: 0 });
    expect(c.delta).toBeCloseTo(0.3, 12);
    expect(c.ciLow).toBeCloseTo(0.3, 12); // constant per-document shifts: every resample gives 0.3
    expect(c.nDocs).toBe(6);
    const other: PairedTask = { ...t('c', 0), seeds: [{ seed: 5, variant: [1, 2], baseline: [1, 2] }] };
    expect(() => comparePaired([t('a', 0), other], { iters: 10, seed: 0 })).toThrow(/same seeds in every task/);
  });
});

describe('Holm and settings', () => {
  it('adjusts hand-computed p-values step-down, leaving nulls out of the family', () => {
    // m = 4: sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → kept monotone at 0.06
    const out = holm([0.01, 0.04, 0.03, null, 0.005]);
    expect(out.map((p) => (p === null ? null : Math.round(p * 1e12) / 1e12))).toEqual([0.03, 0.06, 0.06, null, 0.02]);
    expect(holm([0.6, 0.7])).toEqual([1, 1]);
  });

  it('rejects a huge resample count as a clear error, in the API and in the sweep config', () => {
    expect(() => comparePaired(one([1, 2], [1, 2]), { iters: 1e12, seed: 0 })).toThrow(ContractError);
    expect(() => comparePaired(one([1, 2], [1, 2]), { iters: 1e12, seed: 0 })).toThrow(/from 0 to 1,000,000, got 1000000000000/);
    const config = { name: 'x', seeds: [0], variants: [{ id: 'a' }], tasks: [{ id: 't' }], bootstrapIters: 1e12 };
    expect(() => parseSweepConfig(config)).toThrow(SweepConfigError);
    expect(() => parseSweepConfig(config)).toThrow(/bootstrapIters: at most 1,000,000 resamples/);
  });

  it('gives no relative difference against a baseline value of 0', () => {
    const c = comparePaired(one([1, 0, 1], [0, 0, 0]), { iters: 100, seed: 0 });
    expect(c.delta).toBeCloseTo(2 / 3, 12);
    expect(c).toMatchObject({ relDelta: null, relCiLow: null, relCiHigh: null, test: 'mcnemar' });
    expect(c.pValue).toBeCloseTo(mcnemarExact(2, 0), 14); // 0.5
  });

  it('accepts a baseline that names a variant or a variant with a budget, and nothing else', () => {
    const config = { name: 'x', seeds: [0], budgets: ['data-matched'], variants: [{ id: 'btx' }, { id: 'bam-full' }], tasks: [{ id: 't' }] };
    expect(parseSweepConfig({ ...config, compare: { baseline: 'btx' } }).compare.baseline).toBe('btx');
    expect(parseSweepConfig(config).compare.baseline).toBeUndefined();
    expect(() => parseSweepConfig({ ...config, compare: { baseline: 'btx', metric: 'acc' } })).toThrow(/compare: Unrecognized key/);
  });

  it('rounds numbers to what their error supports', () => {
    expect(roundToError(437.93, 35.7)).toBe('438');
    expect(roundToError(0.75123, 0.0031)).toBe('0.7512');
    expect(roundToError(-0.8512, 0.12)).toBe('−0.85');
    expect(roundToError(1234.5678, null)).toBe('1235');
    expect(roundToError(0.012346, null)).toBe('0.01235');
  });
});
