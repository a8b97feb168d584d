/**
 * Batched scoring of token sequences: the log-probability of every token given the ones before
 * it, as lm-evaluation-harness's `_loglikelihood_tokens` computes it (one forward on tokens[:-1],
 * log-softmax, pick each next token; greedy = the next token is the argmax).
 *
 * Batching: sequences are sorted longest first (so a batch pads little), cut into batches of
 * `batchSize`, right-padded to the batch's longest with token 0, and run through `forward`. The
 * model is causal, so padding after a sequence changes none of its scores; the padded positions
 * are never read. Results come back in the caller's order. Scores do not depend on the batch
 * size (to float error) for every config whose routing is per token. Expert-choice FFN routing
 * and per-example routing couple the tokens of a batch (or of a padded row), so for those configs
 * each sequence is scored on its own, unpadded.
 *
 * Only the scored positions go through the LM head: the blocks run on the whole padded batch, then
 * the rows of the final hidden states [B·T, D] that a caller asked for (`ScoreOptions.scored`, by
 * default every real position, never padding) are gathered, and the head and its log-softmax run on
 * those alone. At `tiny` the head is [D = 128] × [V = 4096], about a third of the forward's FLOPs,
 * and the log-softmax's exp over V is the largest element-wise pass of all; a loglikelihood request
 * scores ~14 continuation tokens of a window of up to 129, so skipping the rest is most of its cost.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { kvCacheSupport } from '../model/kv-cache.ts';
import { checkTokenIds, forwardHidden, lmHead, type BamModel } from '../model/model.ts';
import { targetNll } from '../ops/index.ts';

/** Options of `scoreTokens`. */
export interface ScoreOptions {
  /** Sequences per forward (default 8). Results do not depend on it. */
  batchSize?: number;
  /**
   * Per sequence, how many of its LAST predictions to compute (default: all n − 1): sequence i's
   * `TokenScores` then holds only those, entry j for token n − scored[i] + j. The others cost the
   * blocks' work but not the LM head's (a continuation's few tokens after a long context).
   */
  scored?: readonly number[];
  /**
   * Whether to find each scored position's argmax for `TokenScores.greedy` (default true). A
   * perplexity needs only the log-probabilities: false skips the argmax over the vocabulary
   * (≈ 8% of a rolling batch at `tiny`) and leaves `greedy` empty.
   */
  greedy?: boolean;
}

/** Scores of one sequence of n tokens: n − 1 entries, entry i for token i + 1 (the last `scored` entries with `ScoreOptions.scored`). */
export interface TokenScores {
  /** logprobs[i] = ln p(tokens[i+1] | tokens[0..i]). */
  logprobs: number[];
  /**
   * greedy[i] = tokens[i+1] is the argmax (first on ties) of the model's next-token distribution
   * after tokens[0..i]; empty under `ScoreOptions.greedy: false`.
   */
  greedy: boolean[];
}

/** Whether a token's output depends on other tokens of its batch or padding (then score one sequence at a time). */
function batchCoupled(config: ModelConfig): boolean {
  return !kvCacheSupport(config).ok;
}

/**
 * Scores every sequence: for a sequence of n tokens (1 ≤ n ≤ maxSeqLen + 1; the last token is
 * only a target, never an input), the natural-log probability of tokens 1..n−1, each given all
 * tokens before it, and whether each was the greedy choice. Returns one `TokenScores` per
 * sequence, in the caller's order; plain numbers (no tensor escapes). Reads each batch's results
 * back with `await t.data()` (never a synchronous read, which the webgpu backend cannot do in
 * Node), so it runs on every backend. Input checks throw before anything runs (the promise
 * rejects).
 */
export async function scoreTokens(model: BamModel, sequences: ReadonlyArray<readonly number[]>, opts: ScoreOptions = {}): Promise<TokenScores[]> {
  const { config } = model;
  const batchSize = opts.batchSize ?? 8;
  const wantGreedy = opts.greedy ?? true;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new BamError(`batchSize must be a positive integer, got ${batchSize}`, 'E_INFERENCE', 'use e.g. batchSize: 8');
  }
  sequences.forEach((s, i) => {
    if (s.length < 1 || s.length > config.maxSeqLen + 1) {
      throw new BamError(
        `sequence ${i} has ${s.length} tokens; scoring takes 1 to maxSeqLen + 1 = ${config.maxSeqLen + 1}`,
        'E_SEQ_LEN',
        'cut long sequences into windows (the language model does this for rolling loglikelihood)',
      );
    }
    checkTokenIds(config, s, `sequence ${i}`);
  });
  const { scored } = opts;
  if (scored !== undefined) {
    if (scored.length !== sequences.length) {
      throw new BamError(`scored has ${scored.length} entries for ${sequences.length} sequences`, 'E_INFERENCE', 'give one count per sequence');
    }
    scored.forEach((k, i) => {
      const predictions = sequences[i].length - 1; // ≥ 0: lengths were checked above
      if (!Number.isInteger(k) || k < 0 || k > predictions) {
        throw new BamError(`scored[${i}] = ${k}, but sequence ${i} has ${predictions} predictions`, 'E_INFERENCE', 'count 0 to n − 1 of a sequence of n tokens');
      }
    });
  }
  const count = (i: number) => scored?.[i] ?? sequences[i].length - 1; // predictions computed for sequence i
  const out: TokenScores[] = sequences.map(() => ({ logprobs: [], greedy: [] }));
  // Longest first, so each batch pads to lengths close to its own; ties keep the caller's order.
  const order = sequences.map((_, i) => i).filter((i) => count(i) > 0);
  order.sort((a, b) => sequences[b].length - sequences[a].length || a - b);
  const size = batchCoupled(config) ? 1 : batchSize;
  for (let start = 0; start < order.length; start += size) {
    const rows = order.slice(start, start + size);
    const B = rows.length;
    const T = sequences[rows[0]].length - 1; // the batch's longest input
    const inputs = new Int32Array(B * T);
    const P = rows.reduce((p, idx) => p + count(idx), 0); // positions through the head
    const positions = new Int32Array(P); // row b·T + t of the hidden states, per scored position
    const targets = new Int32Array(P);
    let p = 0;
    rows.forEach((idx, b) => {
      const s = sequences[idx];
      inputs.set(s.slice(0, s.length - 1), b * T);
      for (let t = s.length - 1 - count(idx); t < s.length - 1; t++, p++) {
        positions[p] = b * T + t;
        targets[p] = s[t + 1];
      }
    });
    const input = tf.tensor2d(inputs, [B, T], 'int32');
    const [logp, best] = tf.tidy((): [tf.Tensor, tf.Tensor | undefined] => {
      const { hidden } = forwardHidden(model, input); // [B·T, D]
      const logits = lmHead(model, tf.gather(hidden, tf.tensor1d(positions, 'int32'))); // [P, V]
      // log p(target) = −NLL, read off the softmax (ops/cross-entropy.ts) rather than tf.logSumExp.
      const nll = targetNll(logits, tf.tensor1d(targets, 'int32'));
      return [tf.neg(nll), wantGreedy ? tf.argMax(logits, 1) : undefined]; // [P] each
    });
    input.dispose();
    let lp: Float32Array | Int32Array | Uint8Array;
    let am: Float32Array | Int32Array | Uint8Array | undefined;
    try {
      [lp, am] = await Promise.all([logp.data(), best?.data()]);
    } finally {
      tf.dispose(best ? [logp, best] : [logp]);
    }
    p = 0;
    for (const idx of rows) {
      const r = out[idx];
      for (let j = 0; j < count(idx); j++, p++) {
        r.logprobs.push(lp[p]);
        if (am) r.greedy.push(am[p] === targets[p]);
      }
    }
  }
  return out;
}
