/**
 * Router auxiliary losses. Pure functions of router outputs; each returns a scalar owned by the
 * caller. The model adds Σ_layers (α·loadBalance + β·zLoss) to the NLL (docs/method.md, Loss).
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { oneHotFloat } from './routers/no-grad.ts';
import type { Routing } from './routers/types.ts';

/**
 * Load-balance loss N·Σ_i f_i·P_i — Switch Transformer (Fedus et al. 2021), eq. 4 — with f_i the
 * fraction of tokens whose top choice is expert i (from `topIdx`, no gradient) and P_i the mean
 * router probability of i (the gradient flows through P). `probs` [N, E]; `topIdx` [N] or [N, K]
 * int32 whose first column is each token's top choice. Equals 1 under perfectly uniform routing.
 */
export function loadBalanceLoss(probs: tf.Tensor2D, topIdx: tf.Tensor1D | tf.Tensor2D): tf.Scalar {
  if (probs.rank !== 2) throw new ShapeError('router probs', [-1, -1], probs.shape, 'loadBalanceLoss');
  const [N, E] = probs.shape;
  if (topIdx.shape[0] !== N) throw new ShapeError('top expert indices', [N], topIdx.shape, 'loadBalanceLoss');
  return tf.tidy(() => {
    const top = (topIdx.rank === 2 ? tf.reshape(tf.slice(topIdx, [0, 0], [N, 1]), [N]) : topIdx) as tf.Tensor1D; // [N]
    const f = tf.mean(oneHotFloat(tf.cast(top, 'int32'), E), 0); // [E]
    const P = tf.mean(probs, 0); // [E]
    return tf.mul(E, tf.sum(tf.mul(f, P))) as tf.Scalar;
  });
}

/**
 * Router z-loss mean_tokens (logsumexp(logits))² — ST-MoE (Zoph et al. 2022), eq. 5. Penalises
 * large router logits; `logits` [N, E].
 */
export function routerZLoss(logits: tf.Tensor2D): tf.Scalar {
  if (logits.rank !== 2) throw new ShapeError('router logits', [-1, -1], logits.shape, 'routerZLoss');
  return tf.tidy(() => tf.mean(tf.square(tf.logSumExp(logits, 1))) as tf.Scalar);
}

/** The router losses of one mixture layer, unweighted (the model applies α and β). */
export type RouterLosses = {
  /** Switch load-balance loss (0 for expert-choice and hash routing). */
  loadBalance: tf.Scalar;
  /** ST-MoE router z-loss (0 for hash routing, which has no logits). */
  zLoss: tf.Scalar;
};

/**
 * The auxiliary losses that apply to a routing decision: token-choice (top-k) and soft routers
 * get both (f_i uses each token's top choice); expert-choice is balanced by construction, so only
 * the z-loss; hash routing has no router weights, so neither (zeros). Returns scalars owned by the
 * caller.
 */
export function routerLosses(routing: Routing): RouterLosses {
  return tf.tidy(() => {
    switch (routing.kind) {
      case 'topk':
      case 'soft':
        return { loadBalance: loadBalanceLoss(routing.probs, routing.indices), zLoss: routerZLoss(routing.logits) };
      case 'expert-choice':
        return { loadBalance: tf.scalar(0), zLoss: routerZLoss(routing.logits) };
      case 'hash':
        return { loadBalance: tf.scalar(0), zLoss: tf.scalar(0) };
    }
  });
}
