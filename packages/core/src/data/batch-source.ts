/**
 * Batch sources: `batch(step)` is a pure function of the step index (docs/internals.md), so a
 * resumed run sees exactly the batches the uninterrupted run saw.
 *
 * Row b of step s: a PRNG seeded by sha256(seed, s) picks the row's domain by the mixture
 * weights, then a start offset uniformly among every window of T+1 tokens in that domain's
 * split stream (`tokensOf`); inputs are the first T tokens, targets the last T (shifted by one).
 */
import { ConfigError, DataError } from '../errors.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { parseMixSpec, mixEntries, type DataMixture, type MixOptions, type MixSpec } from './mixture.ts';
import { rngFor } from './rng.ts';
import { tokensOf, type TokenArray } from './tokens.ts';
import type { Domain, Split } from './types.ts';

/** Options of `createBatchSource`. */
export interface BatchSourceOptions extends MixOptions {
  tokenizer: Tokenizer;
  /** The mixture (parsed by `parseMixSpec` when given as text or a plain object). */
  mix: MixSpec | DataMixture;
  split: Split;
  /** B: rows per batch. */
  batchSize: number;
  /** T: tokens per row. */
  seqLen: number;
  /** Any integer; the same seed gives the same batches. */
  seed: number;
  /** Token streams that replace a domain's corpus split (e.g. the user's own text, `readTextFile` then `encodeDocs`). */
  streams?: Partial<Record<Domain, TokenArray>>;
}

/** One batch, row-major [B, T]; `domains[b]` says which domain row b came from. */
export interface MixBatch {
  inputs: Int32Array; // [B, T]
  targets: Int32Array; // [B, T]
  batchSize: number;
  seqLen: number;
  domains: Domain[]; // [B]
}

/** A deterministic source of mixed-domain batches (structurally a trainer `BatchSource`). */
export interface MixBatchSource {
  /** The batch for optimizer step `step` (an integer >= 0); the same step always gives equal arrays. */
  batch(step: number): MixBatch;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly split: Split;
  readonly mix: DataMixture;
  readonly tokenizerId: string;
  readonly seed: number;
}

function posInt(v: number, name: string, issues: Array<{ path: string; message: string }>): void {
  if (!Number.isInteger(v) || v < 1) issues.push({ path: name, message: `must be a positive integer, got ${String(v)}` });
}

/**
 * Builds a batch source over `split` of the mixture's domains. Tokenizes each domain split once
 * (cached); throws a DataError if a domain's stream is shorter than seqLen + 1 tokens.
 */
export function createBatchSource(opts: BatchSourceOptions): MixBatchSource {
  const issues: Array<{ path: string; message: string }> = [];
  posInt(opts.batchSize, 'batchSize', issues);
  posInt(opts.seqLen, 'seqLen', issues);
  if (!Number.isInteger(opts.seed)) issues.push({ path: 'seed', message: `must be an integer, got ${String(opts.seed)}` });
  if (issues.length) throw new ConfigError('batch source options', issues);
  const mix = parseMixSpec(opts.mix, { allowOod: opts.allowOod });
  const entries = mixEntries(mix);
  const streams: TokenArray[] = entries.map((e) => opts.streams?.[e.domain] ?? tokensOf(e.domain, opts.split, opts.tokenizer));
  const { batchSize: B, seqLen: T, seed } = opts;
  entries.forEach((e, i) => {
    if (streams[i].length < T + 1) {
      const what = opts.streams?.[e.domain] ? `the given ${e.domain} text` : `${e.domain}/${opts.split}`;
      throw new DataError(`${what} has ${streams[i].length} tokens, fewer than seqLen + 1 = ${T + 1}`, opts.streams?.[e.domain] ? 'give more text' : 'use a shorter seqLen');
    }
  });
  // Cumulative weights; the last is forced to 1 so rounding never leaves a gap.
  const cumulative: number[] = [];
  let acc = 0;
  for (const e of entries) cumulative.push((acc += e.weight));
  cumulative[cumulative.length - 1] = 1;

  return {
    batchSize: B,
    seqLen: T,
    split: opts.split,
    mix,
    tokenizerId: opts.tokenizer.id,
    seed,
    batch(step: number): MixBatch {
      if (!Number.isInteger(step) || step < 0) throw new DataError(`batch step must be an integer >= 0, got ${String(step)}`);
      const rng = rngFor('bam-batch-v1', seed, step);
      const inputs = new Int32Array(B * T);
      const targets = new Int32Array(B * T);
      const domains: Domain[] = [];
      for (let b = 0; b < B; b++) {
        const u = rng();
        let k = 0;
        while (u >= cumulative[k]) k++;
        const stream = streams[k];
        const start = Math.floor(rng() * (stream.length - T));
        inputs.set(stream.subarray(start, start + T), b * T);
        targets.set(stream.subarray(start + 1, start + T + 1), b * T);
        domains.push(entries[k].domain);
      }
      return { inputs, targets, batchSize: B, seqLen: T, domains };
    },
  };
}
