/**
 * Metrics and aggregations, with lm-evaluation-harness semantics (`lm_eval/api/metrics.py`):
 * acc / acc_norm for multiple choice, word / byte / token perplexity and bits-per-byte from
 * rolling loglikelihoods, mean with its standard error, and seeded bootstrap standard errors for
 * corpus-level metrics. All logprobs are natural logs.
 */
import { ContractError } from './errors.ts';
import type { LoglikelihoodResult, RollingResult } from './api/model.ts';
import type { MetricItem, MetricSpec, TaskResponse } from './api/task.ts';
import { fnv1a32, mulberry32 } from '@bam/utils';

/** How per-document values become one number. */
export const AGGREGATIONS = ['mean', 'median', 'perplexity', 'bits_per_byte'] as const;
/** `mean`/`median` take numbers; `perplexity`/`bits_per_byte` take `[logprob, count]` pairs. */
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Arithmetic mean; NaN for no values. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator); NaN for fewer than 2 values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/** Standard error of the mean: sample std / √n (lm-eval `mean_stderr`); NaN for fewer than 2 values. */
export function meanStderr(xs: readonly number[]): number {
  return sampleStd(xs) / Math.sqrt(xs.length);
}

/** Median (mean of the two middle values for an even count); NaN for no values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Corpus perplexity from `[logprob, count]` pairs: exp(−Σ logprob / Σ count). With count = tokens
 * it is token perplexity, with words word perplexity, with bytes byte perplexity (lm-eval
 * `weighted_perplexity`); with count = 1 per document it is lm-eval's `perplexity`, exp(−mean ll).
 */
export function perplexity(items: ReadonlyArray<readonly [number, number]>): number {
  const [lp, n] = sums(items);
  return Math.exp(-lp / n);
}

/** Bits per byte from `[logprob, bytes]` pairs: −Σ logprob / (Σ bytes · ln 2) (lm-eval `bits_per_byte`). */
export function bitsPerByte(items: ReadonlyArray<readonly [number, number]>): number {
  const [lp, n] = sums(items);
  return -lp / (n * Math.LN2);
}

function sums(items: ReadonlyArray<readonly [number, number]>): [number, number] {
  let lp = 0;
  let n = 0;
  for (const [a, b] of items) {
    lp += a;
    n += b;
  }
  return [lp, n];
}

const encoder = new TextEncoder();

/** Length of `text` in UTF-8 bytes (what bits-per-byte and acc_norm divide by). */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Word count as lm-eval's wikitext counts it: the number of pieces of `re.split(r"\s+", text)`. */
export function wordCount(text: string): number {
  return text.split(/\s+/).length;
}

/** Index of the largest value (the first one on ties, like numpy's argmax). */
export function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Accuracy of one multiple-choice document: 1 if the choice with the highest loglikelihood is `gold`. */
export function acc(logprobs: readonly number[], gold: number): number {
  return argmax(logprobs) === gold ? 1 : 0;
}

/**
 * Length-normalised accuracy (lm-eval `acc_norm`): each choice's loglikelihood is divided by the
 * continuation's length in UTF-8 **bytes** before the argmax, so longer answers are not penalised
 * for having more tokens. (lm-eval divides by `len(choice)`, which is the same for ASCII text.)
 */
export function accNorm(logprobs: readonly number[], continuations: readonly string[], gold: number): number {
  if (logprobs.length !== continuations.length) {
    throw new ContractError(`acc_norm got ${logprobs.length} loglikelihoods for ${continuations.length} choices`);
  }
  return argmax(logprobs.map((lp, i) => lp / Math.max(1, utf8Bytes(continuations[i])))) === gold ? 1 : 0;
}

function isLoglikelihood(r: TaskResponse): r is LoglikelihoodResult {
  return typeof r === 'object' && r !== null && typeof (r as LoglikelihoodResult).isGreedy === 'boolean';
}

/**
 * Scores a multiple-choice document from the `loglikelihood` responses of its choices (one per
 * choice, in order): `{ acc, acc_norm }`. Declare both with `aggregation: 'mean'`.
 */
export function scoreMultipleChoice(
  responses: readonly TaskResponse[],
  choices: readonly string[],
  gold: number,
): { acc: number; acc_norm: number } {
  if (responses.length !== choices.length || !responses.every(isLoglikelihood)) {
    throw new ContractError(`scoreMultipleChoice needs one loglikelihood response per choice (${choices.length}), got ${responses.length}`);
  }
  const lls = (responses as LoglikelihoodResult[]).map((r) => r.logprob);
  return { acc: acc(lls, gold), acc_norm: accNorm(lls, choices, gold) };
}

/**
 * Scores a document from its `loglikelihood_rolling` response as lm-eval's wikitext does:
 * `[logprob, count]` pairs for word, byte and token perplexity and bits per byte. Declare
 * word_perplexity/byte_perplexity/token_perplexity with `aggregation: 'perplexity'` and
 * bits_per_byte with `aggregation: 'bits_per_byte'`, all `higherIsBetter: false`.
 */
export function scoreRolling(response: TaskResponse, text: string): {
  word_perplexity: [number, number];
  byte_perplexity: [number, number];
  token_perplexity: [number, number];
  bits_per_byte: [number, number];
} {
  const r = response as RollingResult;
  if (typeof r !== 'object' || r === null || typeof r.logprob !== 'number' || typeof r.tokens !== 'number') {
    throw new ContractError('scoreRolling needs a loglikelihood_rolling response { logprob, tokens }');
  }
  const bytes = utf8Bytes(text);
  return {
    word_perplexity: [r.logprob, wordCount(text)],
    byte_perplexity: [r.logprob, bytes],
    token_perplexity: [r.logprob, r.tokens],
    bits_per_byte: [r.logprob, bytes],
  };
}

/**
 * Bootstrap standard error of `statistic` (lm-eval `bootstrap_stderr`): `iters` resamples of the
 * n items with replacement, drawn from a PRNG seeded by `seed`; returns the sample std of the
 * resampled statistics. NaN for fewer than 2 items or iters < 2.
 */
export function bootstrapStderr<T>(
  items: readonly T[],
  statistic: (sample: T[]) => number,
  opts: { iters: number; seed: number },
): number {
  const n = items.length;
  if (n < 2 || opts.iters < 2) return NaN;
  const rand = mulberry32(opts.seed);
  const stats: number[] = new Array(opts.iters);
  const sample: T[] = new Array(n);
  for (let it = 0; it < opts.iters; it++) {
    for (let i = 0; i < n; i++) sample[i] = items[Math.floor(rand() * n)];
    stats[it] = statistic(sample);
  }
  return sampleStd(stats);
}

/** One aggregated metric: its value, its standard error (null when undefined) and the document count. */
export interface Aggregate {
  value: number;
  stderr: number | null;
  n: number;
}

/** Options of `aggregate`: the job seed and metric name seed the bootstrap; iters 0 disables it. */
export interface AggregateOptions {
  seed: number;
  metric: string;
  bootstrapIters: number;
}

/**
 * Aggregates one metric's per-document items. `mean` uses the analytic stderr (std/√n); the
 * corpus-level aggregations use a bootstrap seeded by (seed, metric), so re-aggregating the same
 * items gives the same stderr.
 */
export function aggregate(aggregation: Aggregation, items: readonly MetricItem[], opts: AggregateOptions): Aggregate {
  const n = items.length;
  const where = `metric '${opts.metric}' (aggregation ${aggregation})`;
  if (n === 0) throw new ContractError(`${where}: no documents to aggregate`, 'check that the task yields documents and that limit > 0');
  const bootSeed = fnv1a32(`${opts.seed}:${opts.metric}`);
  const fin = (x: number): number | null => (Number.isNaN(x) ? null : x);
  if (aggregation === 'mean' || aggregation === 'median') {
    const xs = items.map((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new ContractError(`${where}: document ${i} has ${String(x)}; expected a finite number`);
      return x;
    });
    if (aggregation === 'mean') return { value: mean(xs), stderr: fin(meanStderr(xs)), n };
    return { value: median(xs), stderr: fin(bootstrapStderr(xs, median, { iters: opts.bootstrapIters, seed: bootSeed })), n };
  }
  const pairs = items.map((x, i) => {
    if (!Array.isArray(x) || x.length !== 2 || !Number.isFinite(x[0]) || !Number.isFinite(x[1]) || x[1] < 0) {
      throw new ContractError(`${where}: document ${i} has ${Array.isArray(x) ? `[${x.join(', ')}]` : String(x)}; expected a pair [logprob, count] of finite numbers with count ≥ 0`);
    }
    return x as readonly [number, number];
  });
  if (sums(pairs)[1] <= 0) throw new ContractError(`${where}: the documents cover 0 units (Σ count = 0)`);
  const stat = aggregation === 'perplexity' ? perplexity : bitsPerByte;
  return { value: stat(pairs), stderr: fin(bootstrapStderr(pairs, stat, { iters: opts.bootstrapIters, seed: bootSeed })), n };
}

/**
 * Aggregates every declared metric over per-document scores (in document order). Items that are
 * `null` (the metric does not apply to that document) are left out, and `n` counts the rest; a
 * metric that is `null` in every document gets no aggregate at all (and so no result row).
 */
export function aggregateScores(
  metrics: Record<string, MetricSpec>,
  docs: ReadonlyArray<Record<string, MetricItem | null>>,
  opts: { seed: number; bootstrapIters: number },
): Record<string, Aggregate> {
  const out: Record<string, Aggregate> = {};
  for (const [name, spec] of Object.entries(metrics)) {
    const items = docs.map((d) => d[name]);
    const applicable = items.filter((x): x is MetricItem => x !== null);
    if (docs.length > 0 && applicable.length === 0) continue;
    out[name] = aggregate(spec.aggregation, applicable, { seed: opts.seed, metric: name, bootstrapIters: opts.bootstrapIters });
  }
  return out;
}
