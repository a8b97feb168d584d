/**
 * The routing decision every router returns, and the one convention all mixture layers read.
 *
 * Shapes use N = B·T tokens (rows of the flattened hidden states), E experts, K chosen per token.
 */
import type * as tf from '@tensorflow/tfjs';

/** Which rule made a routing decision (it decides which auxiliary losses apply). */
export type RouterKind = 'topk' | 'soft' | 'expert-choice' | 'hash';

/**
 * A routing decision for N tokens over E experts. All tensors belong to whoever called the
 * router; layers that take a `Routing` only borrow it.
 *
 * - `gates`   [N, E] float32: the combine weights, exactly 0 where an expert was not chosen.
 * - `mask`    [N, E] float32: 1 where the expert was chosen for the token, else 0. Layers dispatch
 *   by `mask` (not by `gates != 0`, since a chosen expert's weight may underflow to 0).
 * - `indices` [N, K] int32: the chosen experts, best first (top-k: K = k; soft: K = E, all experts
 *   by probability; expert-choice: K = 1, the token's own top preference, since there a token may
 *   be taken by 0..E experts and `mask` is the assignment; hash: K = 1). No gradient.
 * - `probs`   [N, E] float32: softmax over all E logits (hash: the one-hot assignment).
 * - `logits`  [N, E] float32: router logits (hash: zeros; it has no router weights).
 */
export type Routing = {
  kind: RouterKind;
  gates: tf.Tensor2D;
  mask: tf.Tensor2D;
  indices: tf.Tensor2D;
  probs: tf.Tensor2D;
  logits: tf.Tensor2D;
};
