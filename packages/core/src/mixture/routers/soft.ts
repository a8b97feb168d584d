/**
 * Soft routing: every token uses every expert, weighted by a softmax over the router logits.
 * The BAM paper's attention router (§3.2): g(h) = softmax(h · W_attn_router), MoA = Σ_j g_j·MHA_j.
 */
import * as tf from '@tensorflow/tfjs';
import { checkLogits } from './check.ts';
import { topKIndices } from './no-grad.ts';
import type { Routing } from './types.ts';

/**
 * Soft routing of N tokens by logits [N, E]: gates = probs = softmax(logits), mask all ones,
 * indices [N, E] = every expert, most probable first. Returns a new `Routing` owned by the caller.
 */
export function softRoute(logits: tf.Tensor2D): Routing {
  const [N, E] = checkLogits(logits, 'softRoute');
  return tf.tidy(() => {
    const probs = tf.softmax(logits) as tf.Tensor2D; // [N, E]
    return {
      kind: 'soft' as const,
      gates: tf.clone(probs),
      mask: tf.ones([N, E]) as tf.Tensor2D,
      indices: topKIndices(probs, E), // [N, E] int32
      probs,
      logits: tf.clone(logits),
    };
  });
}
