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
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { kvCacheSupport } from '../model/kv-cache.ts';
import { checkTokenIds, forward, type BamModel } from '../model/model.ts';

/** Options of `scoreTokens`. */
export interface ScoreOptions {
  /** Sequences per forward (default 8). Results do not depend on it. */
  batchSize?: number;
}

/** Scores of one sequence of n tokens: n − 1 entries, entry i for token i + 1. */
export interface TokenScores {
  /** logprobs[i] = ln p(tokens[i+1] | tokens[0..i]). */
  logprobs: number[];
  /** greedy[i] = tokens[i+1] is the argmax (first on ties) of the model's next-token distribution after tokens[0..i]. */
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
  const out: TokenScores[] = sequences.map(() => ({ logprobs: [], greedy: [] }));
  // Longest first, so each batch pads to lengths close to its own; ties keep the caller's order.
  const order = sequences.map((_, i) => i).filter((i) => sequences[i].length > 1);
  order.sort((a, b) => sequences[b].length - sequences[a].length || a - b);
  const size = batchCoupled(config) ? 1 : batchSize;
  for (let start = 0; start < order.length; start += size) {
    const rows = order.slice(start, start + size);
    const B = rows.length;
    const T = sequences[rows[0]].length - 1; // the batch's longest input
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    rows.forEach((idx, b) => {
      const s = sequences[idx];
      for (let t = 0; t < s.length - 1; t++) {
        inputs[b * T + t] = s[t];
        targets[b * T + t] = s[t + 1];
      }
    });
    const input = tf.tensor2d(inputs, [B, T], 'int32');
    const [logp, best] = tf.tidy(() => {
      const { logits } = forward(model, input);
      const V = config.vocabSize;
      const N = B * T;
      const flat = tf.reshape(logits, [N, V]) as tf.Tensor2D; // [N, V]
      // A gather at n·V + target on the flattened logits, instead of a [N, V] one-hot product.
      const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), tf.tensor1d(targets, 'int32')); // [N]
      const picked = tf.gather(tf.reshape(flat, [N * V]), flatIdx); // [N]
      return [tf.sub(picked, tf.logSumExp(flat, 1)), tf.argMax(flat, 1)]; // [N] each
    });
    input.dispose();
    let lp: Float32Array | Int32Array | Uint8Array;
    let am: Float32Array | Int32Array | Uint8Array;
    try {
      [lp, am] = await Promise.all([logp.data(), best.data()]);
    } finally {
      tf.dispose([logp, best]);
    }
    rows.forEach((idx, b) => {
      const n = sequences[idx].length - 1;
      const r = out[idx];
      for (let t = 0; t < n; t++) {
        r.logprobs.push(lp[b * T + t]);
        r.greedy.push(am[b * T + t] === targets[b * T + t]);
      }
    });
  }
  return out;
}
