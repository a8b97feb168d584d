/**
 * `segmentLinear`: x·W_s on each row segment s of x, one weight matrix per segment, with its
 * gradient written out; a mixture's experts, each on its own tokens (mixture/moe-ffn.ts):
 *
 *     y[seg s] = x[seg s]·W_s;   ∂x[seg s] = dy[seg s]·W_sᵀ;   ∂W_s = x[seg s]ᵀ·dy[seg s]
 *
 * Why: one `tf.matMul` per expert is one kernel (and one wait for the product threads) per expert
 * and direction, on a few hundred rows each. Here each direction is ONE kernel (`BamGemmSegments`,
 * ./blas.ts) whose blocks of every segment share the threads. Each segment's product is planned
 * exactly as `tf.matMul` of that segment alone (and the gradient's transposed forms as tfjs's own
 * matMul gradient asks for them), so the values are the per-segment products' bits.
 */
import * as tf from '@tensorflow/tfjs';
import { gemmSegments, gemmSegmentsOuter } from './blas.ts';

/**
 * x [M, K] · W_s [K, N] on the consecutive row segments of x (`counts[s]` rows each, summing to M)
 * → [M, N], with gradients for x and every W_s. Needs BLAS active on wasm (`blasActive()`); returns
 * a new tensor owned by the caller.
 */
export function segmentLinear(x: tf.Tensor2D, weights: readonly tf.Tensor2D[], counts: readonly number[]): tf.Tensor2D {
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xx, ...ws] = args as tf.Tensor2D[];
    save([xx, ...ws]);
    return {
      value: gemmSegments(xx, ws, counts), // [M, N]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, ...sw] = saved as tf.Tensor2D[];
        const d = dy as tf.Tensor2D;
        return [gemmSegments(d, sw, counts, true), ...gemmSegmentsOuter(sx, d, counts)]; // [∂x [M, K], ∂W_s [K, N]...]
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...t: tf.Tensor[]) => tf.Tensor;
  return op(x, ...weights) as tf.Tensor2D;
}
