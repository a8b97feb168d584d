/**
 * Router logits: the one learned part of a router, `h · W_router` ([N, D] · [D, E] → [N, E]),
 * per token or per example (routing.perExample in the model config).
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../../errors.ts';
import { linear } from '../../ops/index.ts';

/**
 * Per-token router logits h · W ([N, D] · [D, E] → [N, E]) as one plain 2-D matmul with the
 * wasm-fast gradient. Returns a new tensor owned by the caller.
 */
export function routerLogits(h: tf.Tensor2D, wRouter: tf.Tensor2D): tf.Tensor2D {
  if (h.rank !== 2) throw new ShapeError('router input h', [-1, wRouter.shape[0]], h.shape, 'routerLogits');
  return linear(h, wRouter);
}

/**
 * Per-example router logits: each example is routed by the mean of its first `prefixTokens`
 * hidden states, and that decision is repeated for all of its T tokens. h is [B·T, D] (rows
 * example-major); returns [B·T, E], owned by the caller. The prefix rows see one another, so the
 * first `prefixTokens` positions are routed with a little look-ahead inside the prefix.
 */
export function perExampleLogits(
  h: tf.Tensor2D,
  wRouter: tf.Tensor2D,
  shape: { batch: number; seqLen: number; prefixTokens: number },
): tf.Tensor2D {
  const { batch: B, seqLen: T, prefixTokens: P } = shape;
  if (h.rank !== 2 || h.shape[0] !== B * T) {
    throw new ShapeError('router input h', [B * T, wRouter.shape[0]], h.shape, 'perExampleLogits');
  }
  if (!Number.isInteger(P) || P < 1 || P > T) {
    throw new BamError(`prefixTokens must be an integer in [1, ${T}], got ${P}`, 'E_ROUTER', 'set routing.perExample.prefixTokens ≤ the sequence length');
  }
  return tf.tidy(() => {
    const D = h.shape[1];
    const E = wRouter.shape[1];
    const h3 = tf.reshape(h, [B, T, D]); // [B, T, D]
    const prefix = tf.slice(h3, [0, 0, 0], [B, P, D]); // [B, P, D]
    const pooled = tf.mean(prefix, 1) as tf.Tensor2D; // [B, D]
    const perExample = linear(pooled, wRouter); // [B, E]
    const tiled = tf.tile(tf.reshape(perExample, [B, 1, E]), [1, T, 1]); // [B, T, E]
    return tf.reshape(tiled, [B * T, E]) as tf.Tensor2D; // [B·T, E]
  });
}
