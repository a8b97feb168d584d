/**
 * Row gather and scatter-add with gradients that run on the tfjs wasm backend natively.
 *
 * `tf.gather`'s gradient is an `UnsortedSegmentSum` (wasm has none; ops/kernels.ts registers a
 * JavaScript one), and `tf.scatterND` has no gradient at all. For MoE dispatch the gathered rows
 * are distinct per expert, so the pair below is exact: the gradient of a row gather is a
 * scatter-add (`ScatterNd`, a native wasm kernel, duplicates summed) and the gradient of a
 * scatter-add is a row gather (`GatherV2`).
 */
import * as tf from '@tensorflow/tfjs';

/** A one-input custom-gradient op (tf.customGrad's typing wants a rest parameter). */
type UnaryGradFn = (x: tf.Tensor, save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor;
};
const customUnary = (f: UnaryGradFn) =>
  tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/**
 * `x[idx]`: rows of x [N, D] picked by `idx` [M] int32 → [M, D]. The gradient w.r.t. x is the
 * scatter-add of dy into the rows named by idx. Returns a new tensor owned by the caller.
 */
export function gatherRows(x: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor2D {
  const [N, D] = x.shape;
  const op = customUnary((xx, save) => {
    save([idx]);
    return {
      value: tf.gather(xx, idx), // [M, D]
      gradFunc: (dy, saved) =>
        tf.scatterND(tf.reshape(saved[0], [-1, 1]), dy, [N, D]), // [N, D]
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * Scatter-add: out [N, D] with out[idx[m]] += y[m] for y [M, D], idx [M] int32 (repeated indices
 * are summed). The gradient w.r.t. y is dy[idx]. Returns a new tensor owned by the caller.
 */
export function scatterAddRows(y: tf.Tensor2D, idx: tf.Tensor1D, numRows: number): tf.Tensor2D {
  const D = y.shape[1];
  const op = customUnary((yy, save) => {
    save([idx]);
    return {
      value: tf.scatterND(tf.reshape(idx, [-1, 1]), yy, [numRows, D]), // [N, D]
      gradFunc: (dy, saved) => tf.gather(dy, saved[0]), // [M, D]
    };
  });
  return op(y) as tf.Tensor2D;
}
