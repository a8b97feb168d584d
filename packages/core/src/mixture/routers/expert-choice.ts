/**
 * Expert-choice routing (Zhou et al. 2022, "Mixture-of-Experts with Expert Choice Routing").
 *
 * Scores S = softmax over experts of the router logits [N, E]. Each expert e takes the C tokens
 * with the highest S[:, e]; a token's combine weight for e is S[t, e] (not renormalised), and a
 * token may be taken by 0..E experts. Capacity C = ceil(capacityFactor · N / E) clamped to
 * [1, N] (the paper's k = n·c/e with c = capacityFactor, the mean number of experts per token).
 * Every expert processes exactly C tokens, so load is balanced by construction and no load-balance
 * loss applies. Note: a token's routing depends on the other tokens in the batch (future ones
 * included), so it is not causal at inference; it is here as a training-time comparison.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../../errors.ts';
import { checkLogits } from './check.ts';
import { oneHotFloat, topKIndices } from './no-grad.ts';
import type { Routing } from './types.ts';

/**
 * Tokens each expert takes: C = min(N, max(1, ceil(capacityFactor · N / E))).
 * Throws a `BamError` for a non-positive factor or empty inputs.
 */
export function expertCapacity(tokens: number, numExperts: number, capacityFactor: number): number {
  if (!(capacityFactor > 0) || !Number.isFinite(capacityFactor)) {
    throw new BamError(`capacityFactor must be a positive number, got ${capacityFactor}`, 'E_ROUTER', 'set ffn.router.capacityFactor, e.g. 1 or 2');
  }
  if (!(tokens >= 1) || !(numExperts >= 1)) {
    throw new BamError(`expert-choice needs at least one token and one expert (got ${tokens}, ${numExperts})`, 'E_ROUTER');
  }
  return Math.min(tokens, Math.max(1, Math.ceil((capacityFactor * tokens) / numExperts)));
}

/**
 * Expert-choice routing of N tokens by logits [N, E] with the given capacity factor. `mask` has
 * exactly C ones per column (never more); `indices` [N, 1] holds each token's own top expert
 * (for statistics; the assignment is `mask`). Returns a new `Routing` owned by the caller.
 */
export function expertChoiceRoute(logits: tf.Tensor2D, opts: { capacityFactor: number }): Routing {
  const [N, E] = checkLogits(logits, 'expertChoiceRoute');
  const C = expertCapacity(N, E, opts.capacityFactor);
  return tf.tidy(() => {
    const probs = tf.softmax(logits) as tf.Tensor2D; // [N, E]
    const chosen = topKIndices(tf.transpose(probs) as tf.Tensor2D, C); // [E, C] token indices per expert
    const maskT = tf.sum(oneHotFloat(chosen, N), 1); // [E, C, N] → [E, N]
    const mask = tf.transpose(maskT) as tf.Tensor2D; // [N, E]
    return {
      kind: 'expert-choice' as const,
      gates: tf.mul(probs, mask) as tf.Tensor2D, // [N, E]
      mask,
      indices: topKIndices(probs, 1), // [N, 1] int32
      probs,
      logits: tf.clone(logits),
    };
  });
}
