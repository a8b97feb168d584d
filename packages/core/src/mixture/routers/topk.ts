/**
 * Token-choice top-k routing (Shazeer et al. 2017; Switch Transformer; BTX; BAM paper §3).
 *
 * Each token picks its k most probable experts. Two normalisations, both used in the literature:
 * - `before`: p = softmax over all E logits, then top-k; the gates are the chosen p, NOT
 *   renormalised (they sum to < 1). The BAM paper's top-1 and its BTX baseline.
 * - `after`: the gates are a softmax over the k chosen logits only (= the chosen p renormalised
 *   to sum to 1). The original BTX paper's top-2 (as in Mixtral).
 * - `straight-through`: the gates' values are `after`'s, their gradient is `before`'s
 *   (g = p·m + stopGradient(renormalised − p·m)). For k = 1 `after` makes the gate exactly 1, a
 *   constant: the router would get no gradient from the language-model loss, only from the
 *   auxiliary losses. Straight-through keeps the renormalised forward (a mixture of identical
 *   experts equals them) and lets the loss reach the router as under `before`.
 */
import * as tf from '@tensorflow/tfjs';
import { checkK, checkLogits } from './check.ts';
import { indicesToMask, stopGradient, topKIndices } from './no-grad.ts';
import type { Routing } from './types.ts';

/** Options of `topKRoute`. */
export interface TopKRouteOptions {
  /** Experts per token, 1 ≤ k ≤ E. */
  k: number;
  /**
   * `before`: softmax over all then top-k (no renormalisation); `after`: softmax over the top-k;
   * `straight-through`: `after`'s values with `before`'s gradient.
   */
  normalize: 'before' | 'after' | 'straight-through';
}

/**
 * Routes N tokens by their router logits [N, E] to their top-k experts. Gradients reach the
 * logits through the gates (the chosen indices are constants). Returns a new `Routing` owned by
 * the caller (`logits` is a copy, so the caller may dispose its own).
 */
export function topKRoute(logits: tf.Tensor2D, opts: TopKRouteOptions): Routing {
  const [, E] = checkLogits(logits, 'topKRoute');
  checkK(opts.k, E, 'topKRoute');
  return tf.tidy(() => {
    const probs = tf.softmax(logits) as tf.Tensor2D; // [N, E]
    const indices = topKIndices(probs, opts.k); // [N, K] int32
    const mask = indicesToMask(indices, E); // [N, E]
    const chosen = tf.mul(probs, mask) as tf.Tensor2D; // [N, E]
    if (opts.normalize === 'before') return { kind: 'topk' as const, gates: chosen, mask, indices, probs, logits: tf.clone(logits) };
    // Softmax over the chosen logits: the others get -1e9, whose exp is exactly 0 in float32.
    const masked = tf.add(logits, tf.mul(tf.sub(1, mask), -1e9)); // [N, E]
    const renormalised = tf.mul(tf.softmax(masked), mask) as tf.Tensor2D; // [N, E]
    const gates =
      opts.normalize === 'after'
        ? renormalised
        : (tf.add(chosen, stopGradient(tf.sub(renormalised, chosen))) as tf.Tensor2D); // [N, E]
    return { kind: 'topk' as const, gates, mask, indices, probs, logits: tf.clone(logits) };
  });
}
