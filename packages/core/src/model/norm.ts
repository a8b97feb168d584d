/**
 * Scale-only RMSNorm (Zhang & Sennrich 2019), as in the BAM paper's seed models (PaLM-style,
 * no bias, no mean-centering): y = x / sqrt(mean(x²) + eps) · scale.
 */
import * as tf from '@tensorflow/tfjs';

/** Weights: one scale vector [D], initialised to ones. */
export interface RmsNormWeights {
  scale: tf.Tensor1D; // [D]
}

/** RMSNorm over the last axis of x [..., D]; returns a new tensor of x's shape. */
export function rmsNorm<T extends tf.Tensor>(x: T, w: RmsNormWeights, eps: number): T {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w.scale) as T; // [..., D]
  });
}
