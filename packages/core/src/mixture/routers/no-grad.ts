/**
 * Index selections that sit outside the gradient.
 *
 * TF.js registers no gradient for `TopK`, and its tape backpropagates through every node on a path
 * from a variable to the loss, int32 ones included: a `tf.topk` on router probabilities makes
 * `variableGrads` throw even when only the (integer) indices are used. Wrapping the selection in a
 * `tf.customGrad` whose gradient is zero cuts the path: the indices are constants to the tape, and
 * the probabilities still receive their gradient through the gates gathered with a one-hot mask.
 */
import * as tf from '@tensorflow/tfjs';

const topKIndicesOp = (k: number) =>
  tf.customGrad(((x: tf.Tensor) => ({
    value: tf.topk(x, k, true).indices, // [..., k] int32, best first
    gradFunc: () => tf.zerosLike(x),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);

const stopGradientOp = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: () => tf.zerosLike(x),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** `x` as a value with no gradient (PyTorch's `detach`); returns a new tensor owned by the caller. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

/**
 * Indices of the k largest entries of each row of `x` ([R, C] → [R, k] int32, best first, ties
 * to the lower index), with no gradient. Returns a new tensor owned by the caller.
 */
export function topKIndices(x: tf.Tensor2D, k: number): tf.Tensor2D {
  return topKIndicesOp(k)(x) as tf.Tensor2D;
}

/**
 * One-hot rows as float32: `indices` [...S] int32 → [...S, depth]. Built as an int32 one-hot and
 * cast, because the tfjs 4.22 wasm `OneHot` kernel ignores `dtype: 'float32'` and writes int32
 * bit patterns (1 reads back as 1.4e-45). Returns a new tensor owned by the caller.
 */
export function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  // tf.oneHot rejects depth 1 (e.g. expert-choice over a single token); every index is then 0.
  if (depth === 1) return tf.ones([...indices.shape, 1]);
  return tf.tidy(() => tf.cast(tf.oneHot(indices, depth), 'float32'));
}

/**
 * A 0/1 float32 mask [R, C] of the given column indices per row (`indices` [R, K] int32, distinct
 * within a row), built in-graph. Returns a new tensor owned by the caller.
 */
export function indicesToMask(indices: tf.Tensor2D, numColumns: number): tf.Tensor2D {
  return tf.tidy(() => tf.sum(oneHotFloat(indices, numColumns), 1) as tf.Tensor2D); // [R, K, C] → [R, C]
}
