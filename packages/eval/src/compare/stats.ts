/**
 * Paired statistics for comparing two models on the same documents (pure functions, no TF.js):
 * a paired (and, with several seeds, hierarchical) bootstrap of the difference of aggregated
 * metrics, the exact McNemar test for 0/1 metrics, a paired sign-flip permutation test for the
 * rest, and Holm's step-down correction. See docs in packages/eval/README.md ("Comparing variants").
 *
 * Pairing is what makes differences of ~1% measurable: both models are scored on the same
 * documents, so the document-to-document variance (far larger than the difference) cancels.
 * Every resample draws document indices once and applies them to both models.
 */
import { mulberry32 } from '@bam/utils';
import { ContractError } from '../errors.ts';
import { bitsPerByte, mean, median, perplexity, type Aggregation } from '../metrics.ts';
import type { MetricItem } from '../api/task.ts';

/** The most resamples a comparison may ask for (a larger value is a config error, not an out-of-memory). */
export const MAX_ITERS = 1_000_000;

/** One seed of one task: the two models' items on the same documents, in the same order (no nulls). */
export interface PairedSeed {
  seed: number;
  variant: readonly MetricItem[];
  baseline: readonly MetricItem[];
}

/** One task (a stratum): its aggregation and its paired documents for every seed. */
export interface PairedTask {
  task: string;
  aggregation: Aggregation;
  seeds: readonly PairedSeed[];
}

/** Which test gave the p-value. */
export type PairedTest = 'mcnemar' | 'permutation' | 'bootstrap' | 'none';

/** What `comparePaired` returns; relative numbers are in percent of the baseline value. */
export interface PairedComparison {
  /** The variant's aggregated metric: mean over seeds of each seed's aggregate, mean over tasks. */
  value: number;
  baselineValue: number;
  delta: number;
  /** Null when the baseline value is 0 (no relative size). */
  relDelta: number | null;
  /** 95% percentile-bootstrap CI of delta and of relDelta (null: no resamples, or fewer than 2 documents). */
  ciLow: number | null;
  ciHigh: number | null;
  relCiLow: number | null;
  relCiHigh: number | null;
  /** Two-sided p-value of "no difference" (null when no test applies). */
  pValue: number | null;
  test: PairedTest;
  /** Paired documents over all tasks of one seed (the smallest seed's count), and seeds. */
  nDocs: number;
  nSeeds: number;
}

/** Options of `comparePaired`. */
export interface PairedOptions {
  /** Resamples of the bootstrap and of the permutation test (0: no CI, and only McNemar's exact p). */
  iters: number;
  /** Seeds the PRNG; equal seeds give equal CIs and p-values. */
  seed: number;
  /** Confidence level of the CI (default 0.95). */
  level?: number;
}

/** Throws a ContractError unless `iters` is an integer in [0, MAX_ITERS]. */
export function checkIters(iters: number, what = 'bootstrap iterations'): void {
  if (!Number.isInteger(iters) || iters < 0 || iters > MAX_ITERS) {
    throw new ContractError(`${what} must be an integer from 0 to ${MAX_ITERS.toLocaleString('en-US')}, got ${iters}`, `use e.g. 1000 (each resample re-aggregates every document of both models)`);
  }
}

/** The aggregation of `aggregation` over items (numbers for mean/median, pairs for perplexity/bits_per_byte). */
export function aggregateItems(aggregation: Aggregation, items: readonly MetricItem[]): number {
  if (aggregation === 'mean') return mean(items as number[]);
  if (aggregation === 'median') return median(items as number[]);
  // Corpus metrics re-aggregate the [logprob, count] pairs: never a mean of per-document perplexities.
  const pairs = items as ReadonlyArray<readonly [number, number]>;
  return aggregation === 'perplexity' ? perplexity(pairs) : bitsPerByte(pairs);
}

/** True when every item of both models is 0 or 1 under a mean: accuracy-type, so McNemar applies. */
export function isBinary(aggregation: Aggregation, seeds: readonly PairedSeed[]): boolean {
  const bin = (x: MetricItem): boolean => x === 0 || x === 1;
  return aggregation === 'mean' && seeds.every((s) => s.variant.every(bin) && s.baseline.every(bin));
}

/**
 * Exact two-sided McNemar test: under "no difference" each discordant pair (one model right, the
 * other wrong) is a fair coin, so p = min(1, 2·P[Binomial(b + c, ½) ≤ min(b, c)]). 1 when b + c = 0.
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // Σ_{i≤k} C(n, i) / 2ⁿ in log space, so n in the thousands does not overflow.
  let logC = 0;
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

/** Discordant pairs of 0/1 items: b = variant right and baseline wrong, c = the reverse. */
export function discordant(variant: readonly number[], baseline: readonly number[]): { b: number; c: number } {
  let b = 0;
  let c = 0;
  for (let i = 0; i < variant.length; i++) {
    if (variant[i] === 1 && baseline[i] === 0) b++;
    else if (variant[i] === 0 && baseline[i] === 1) c++;
  }
  return { b, c };
}

/**
 * Holm's step-down adjustment of a family of p-values (nulls stay null and do not count):
 * sorted ascending, p₍ⱼ₎ becomes max over i ≤ j of min(1, (m − i + 1)·p₍ᵢ₎). Controls the
 * family-wise error rate without assuming independence.
 */
export function holm(pValues: ReadonlyArray<number | null>): Array<number | null> {
  const idx = pValues.map((p, i) => [p, i] as const).filter((x): x is readonly [number, number] => x[0] !== null);
  idx.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const m = idx.length;
  const out: Array<number | null> = pValues.map(() => null);
  let running = 0;
  idx.forEach(([p, i], j) => {
    running = Math.max(running, Math.min(1, (m - j) * p));
    out[i] = running;
  });
  return out;
}

/** The q-quantile of `xs` (sorted in place) by linear interpolation between order statistics (numpy's default). */
export function quantile(xs: Float64Array, q: number): number {
  xs.sort();
  const h = (xs.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(xs.length - 1, lo + 1);
  return xs[lo] + (h - lo) * (xs[hi] - xs[lo]);
}

/**
 * One seed's items as flat columns, so a resample sums numbers instead of building arrays: for
 * mean the values (count 1), for perplexity / bits per byte the logprobs and counts. Median keeps
 * the items (it needs the whole resample).
 */
interface Columns {
  n: number;
  vLp: Float64Array;
  vCount: Float64Array;
  bLp: Float64Array;
  bCount: Float64Array;
}

function columns(aggregation: Aggregation, s: PairedSeed): Columns {
  const n = s.variant.length;
  const c: Columns = { n, vLp: new Float64Array(n), vCount: new Float64Array(n), bLp: new Float64Array(n), bCount: new Float64Array(n) };
  if (aggregation === 'median') return c;
  const put = (x: MetricItem, lp: Float64Array, count: Float64Array, i: number): void => {
    if (typeof x === 'number') {
      lp[i] = x;
      count[i] = 1;
    } else {
      lp[i] = x[0];
      count[i] = x[1];
    }
  };
  for (let i = 0; i < n; i++) {
    put(s.variant[i], c.vLp, c.vCount, i);
    put(s.baseline[i], c.bLp, c.bCount, i);
  }
  return c;
}

/** The aggregate from column sums: Σ value / n for a mean, the corpus formulas for the pairs. */
function fromSums(aggregation: Aggregation, lp: number, count: number): number {
  if (aggregation === 'mean') return lp / count;
  if (aggregation === 'perplexity') return Math.exp(-lp / count);
  return -lp / (count * Math.LN2);
}

/** Variant and baseline aggregates of one seed's documents at `idx` (a resample), or swapped where `swap[i]`. */
function resampled(t: PairedTask, s: PairedSeed, c: Columns, idx: Int32Array | null, swap: Uint8Array | null): [number, number] {
  if (t.aggregation === 'median') {
    const vs: MetricItem[] = new Array(c.n);
    const bs: MetricItem[] = new Array(c.n);
    for (let i = 0; i < c.n; i++) {
      const j = idx ? idx[i] : i;
      const flip = swap !== null && swap[i] === 1;
      vs[i] = flip ? s.baseline[j] : s.variant[j];
      bs[i] = flip ? s.variant[j] : s.baseline[j];
    }
    return [aggregateItems('median', vs), aggregateItems('median', bs)];
  }
  let vl = 0;
  let vc = 0;
  let bl = 0;
  let bc = 0;
  for (let i = 0; i < c.n; i++) {
    const j = idx ? idx[i] : i;
    if (swap !== null && swap[i] === 1) {
      vl += c.bLp[j];
      vc += c.bCount[j];
      bl += c.vLp[j];
      bc += c.vCount[j];
    } else {
      vl += c.vLp[j];
      vc += c.vCount[j];
      bl += c.bLp[j];
      bc += c.bCount[j];
    }
  }
  return [fromSums(t.aggregation, vl, vc), fromSums(t.aggregation, bl, bc)];
}

/** Point values: per task the mean over seeds of each seed's aggregate; then the mean over tasks. */
function pointValues(tasks: readonly PairedTask[]): { v: number; b: number } {
  let v = 0;
  let b = 0;
  for (const t of tasks) {
    v += mean(t.seeds.map((s) => aggregateItems(t.aggregation, s.variant)));
    b += mean(t.seeds.map((s) => aggregateItems(t.aggregation, s.baseline)));
  }
  return { v: v / tasks.length, b: b / tasks.length };
}

/**
 * Bootstrap replicates of (variant value, baseline value). Each replicate draws S seed indices
 * with replacement (only when S > 1: the hierarchical level, so the spread includes
 * training-run variance), then for every drawn seed and every task n document indices with
 * replacement, applied to both models. Tasks must share their seed list (checked by the caller).
 */
export function bootstrapReplicates(tasks: readonly PairedTask[], iters: number, seed: number): { v: Float64Array; b: Float64Array } {
  const rand = mulberry32(seed);
  const nSeeds = tasks[0].seeds.length;
  const cols = tasks.map((t) => t.seeds.map((s) => columns(t.aggregation, s)));
  const idx = tasks.map((t) => t.seeds.map((s) => new Int32Array(s.variant.length)));
  const v = new Float64Array(iters);
  const b = new Float64Array(iters);
  const drawn: number[] = new Array(nSeeds);
  for (let it = 0; it < iters; it++) {
    for (let k = 0; k < nSeeds; k++) drawn[k] = nSeeds > 1 ? Math.floor(rand() * nSeeds) : k;
    let vSum = 0;
    let bSum = 0;
    for (let ti = 0; ti < tasks.length; ti++) {
      const t = tasks[ti];
      let vt = 0;
      let bt = 0;
      for (const k of drawn) {
        const ix = idx[ti][k];
        const n = ix.length;
        for (let i = 0; i < n; i++) ix[i] = Math.floor(rand() * n);
        const [va, ba] = resampled(t, t.seeds[k], cols[ti][k], ix, null);
        vt += va;
        bt += ba;
      }
      vSum += vt / nSeeds;
      bSum += bt / nSeeds;
    }
    v[it] = vSum / tasks.length;
    b[it] = bSum / tasks.length;
  }
  return { v, b };
}

/**
 * Paired sign-flip permutation p-value (one seed): under "no difference" the two models' items of
 * a document are exchangeable, so each replicate swaps them with probability ½ per document
 * (jointly in every task) and re-aggregates. p = (1 + #{|T*| ≥ |T|}) / (1 + iters), T = delta.
 */
export function permutationPValue(tasks: readonly PairedTask[], iters: number, seed: number): number {
  const rand = mulberry32(seed);
  const { v, b } = pointValues(tasks);
  const observed = Math.abs(v - b);
  // Replicates equal to the observed |T| up to rounding count as "as extreme".
  const tol = 1e-12 * Math.max(1, observed);
  const cols = tasks.map((t) => columns(t.aggregation, t.seeds[0]));
  const swaps = tasks.map((t) => new Uint8Array(t.seeds[0].variant.length));
  let extreme = 0;
  for (let it = 0; it < iters; it++) {
    let t = 0;
    for (let ti = 0; ti < tasks.length; ti++) {
      const swap = swaps[ti];
      for (let i = 0; i < swap.length; i++) swap[i] = rand() < 0.5 ? 1 : 0;
      const [va, ba] = resampled(tasks[ti], tasks[ti].seeds[0], cols[ti], null, swap);
      t += va - ba;
    }
    if (Math.abs(t / tasks.length) >= observed - tol) extreme++;
  }
  return (1 + extreme) / (1 + iters);
}

/**
 * Compares a variant with its baseline over one task (or the average of several tasks): the
 * difference of the aggregated metric, its relative size, a paired bootstrap CI (hierarchical over
 * seeds when there are several) and a p-value:
 *   - one task, one seed, 0/1 items under a mean (accuracy): exact McNemar;
 *   - otherwise with one seed: paired sign-flip permutation;
 *   - several seeds: the hierarchical bootstrap's two-sided p = min(1, 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)))
 *     with the +1 correction, since neither McNemar nor a document permutation sees training-run variance.
 * Throws a ContractError when the tasks do not share their seeds, a seed's two lists differ in
 * length, or `iters` is out of range.
 */
export function comparePaired(tasks: readonly PairedTask[], opts: PairedOptions): PairedComparison {
  checkIters(opts.iters);
  const level = opts.level ?? 0.95;
  if (tasks.length === 0) throw new ContractError('comparePaired needs at least one task');
  const seedList = tasks[0].seeds.map((s) => s.seed).join(',');
  for (const t of tasks) {
    if (t.seeds.length === 0) throw new ContractError(`comparePaired: task '${t.task}' has no seeds`);
    if (t.seeds.map((s) => s.seed).join(',') !== seedList) {
      throw new ContractError(`comparePaired: task '${t.task}' has seeds [${t.seeds.map((s) => s.seed).join(', ')}], task '${tasks[0].task}' has [${seedList}]; an average needs the same seeds in every task`);
    }
    for (const s of t.seeds) {
      if (s.variant.length !== s.baseline.length) throw new ContractError(`comparePaired: task '${t.task}' seed ${s.seed} pairs ${s.variant.length} variant items with ${s.baseline.length} baseline items`);
      if (s.variant.length === 0) throw new ContractError(`comparePaired: task '${t.task}' seed ${s.seed} has no paired documents`);
    }
  }
  const { v, b } = pointValues(tasks);
  const delta = v - b;
  const rel = (x: number, base: number): number => ((x - base) / Math.abs(base)) * 100;
  const relOk = b !== 0;
  const nSeeds = tasks[0].seeds.length;
  const nDocs = Math.min(...tasks[0].seeds.map((_, k) => tasks.reduce((s, t) => s + t.seeds[k].variant.length, 0)));
  const resamplable = opts.iters >= 2 && tasks.every((t) => t.seeds.every((s) => s.variant.length >= 2));

  let ciLow: number | null = null;
  let ciHigh: number | null = null;
  let relCiLow: number | null = null;
  let relCiHigh: number | null = null;
  let bootP: number | null = null;
  if (resamplable) {
    const reps = bootstrapReplicates(tasks, opts.iters, opts.seed);
    const d = new Float64Array(opts.iters);
    const r = new Float64Array(opts.iters);
    let le = 0;
    let ge = 0;
    for (let i = 0; i < opts.iters; i++) {
      d[i] = reps.v[i] - reps.b[i];
      r[i] = rel(reps.v[i], reps.b[i]);
      if (d[i] <= 0) le++;
      if (d[i] >= 0) ge++;
    }
    const a = (1 - level) / 2;
    ciLow = quantile(d, a);
    ciHigh = quantile(d, 1 - a);
    if (relOk && r.every(Number.isFinite)) {
      relCiLow = quantile(r, a);
      relCiHigh = quantile(r, 1 - a);
    }
    bootP = Math.min(1, (2 * (1 + Math.min(le, ge))) / (1 + opts.iters));
  }

  let pValue: number | null = null;
  let test: PairedTest = 'none';
  if (nSeeds > 1) {
    pValue = bootP;
    test = bootP === null ? 'none' : 'bootstrap';
  } else if (tasks.length === 1 && isBinary(tasks[0].aggregation, tasks[0].seeds)) {
    const { b: nb, c: nc } = discordant(tasks[0].seeds[0].variant as number[], tasks[0].seeds[0].baseline as number[]);
    pValue = mcnemarExact(nb, nc);
    test = 'mcnemar';
  } else if (opts.iters >= 1) {
    // A different stream from the bootstrap's, so the two do not share draws.
    pValue = permutationPValue(tasks, opts.iters, (opts.seed ^ 0x5bd1e995) >>> 0);
    test = 'permutation';
  }
  return { value: v, baselineValue: b, delta, relDelta: relOk ? rel(v, b) : null, ciLow, ciHigh, relCiLow, relCiHigh, pValue, test, nDocs, nSeeds };
}
