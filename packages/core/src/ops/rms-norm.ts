/**
 * Scale-only RMSNorm over the last axis (model/norm.ts has the reference) with its gradient
 * written out: per row of x [..., D], with r = 1/sqrt(mean(x²) + eps) and x̂ = x·r,
 *
 *     y = x̂·w;   ∂x = r·(g − x̂·mean(g⊙x̂))  with g = dy⊙w;   ∂w = Σ_rows dy⊙x̂
 *
 * Why: autodiff's backward of the reference ops is a dozen kernels, among them a Transpose and a
 * Sum for the reduction over rows in ∂w. Here the backward is six element-wise kernels and one
 * product 1ᵀ·(dy⊙x̂) for ∂w (on BLAS when it runs wasm's products), and the forward keeps x̂ and r
 * for it. Where bam's wasm SIMD module runs (ops/simd), each direction is one kernel doing the
 * ops' float32 operations in their order, row sums left to right as tfjs's Mean does (the same
 * bits): the forward's Square, Mean, Add, Rsqrt and two Multiplys, the backward's six
 * element-wise kernels and Mean. A version that made each direction one
 * JavaScript pass over wasm-heap views measured slower (forward+backward at [1024, 128]: ops
 * 2.8 ms, JavaScript 2.4 ms, this 1.6 ms; benchmarks/RESULTS.md, round three). Callers pick it
 * with `fusedOnWasm('rmsnorm', ...)` (ops/settings.ts); elsewhere the reference ops run. Both are
 * float32 ops, so they agree to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { chainsOnWasm, runChain } from './kernels.ts';

/** RMSNorm of x [..., D] with scale [D], its gradient written out → a tensor of x's shape. */
export function rmsNormFused<T extends tf.Tensor>(x: T, scale: tf.Tensor1D, eps: number): T {
  const D = x.shape[x.shape.length - 1];
  if (scale.shape.length !== 1 || scale.shape[0] !== D) throw new ShapeError('RMSNorm scale', [D], scale.shape, 'rmsNorm');
  const rows = D === 0 ? 0 : x.size / D;
  const f = tf.customGrad(((xs: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    if (chainsOnWasm()) {
      // The forward's six ops in one pass and the backward's element-wise ops and row Mean in
      // another, with the same float32 operations in the same order: the same bits.
      const [xHat, r, y] = runChain('rmsNormForward', [xs, w], { eps });
      save([xHat, r, w]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sHat, sr, sw] = saved;
          const [dx, dyHat] = runChain('rmsNormBackward', [dy, sw, sHat, sr]); // dyHat = dy⊙x̂
          return [dx, tf.reshape(tf.matMul(tf.ones([1, rows]), tf.reshape(dyHat, [rows, D])), [D])]; // ∂w: Σ over rows, [D]
        },
      };
    }
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xs), -1, true), eps)); // [..., 1]
    const xHat = tf.mul(xs, r); // [..., D]
    save([xHat, r, w]);
    return {
      value: tf.mul(xHat, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sHat, sr, sw] = saved;
        const g = tf.mul(dy, sw); // [..., D]
        const dx = tf.mul(sr, tf.sub(g, tf.mul(sHat, tf.mean(tf.mul(g, sHat), -1, true)))); // [..., D]
        const dw = tf.reshape(tf.matMul(tf.ones([1, rows]), tf.reshape(tf.mul(dy, sHat), [rows, D])), [D]); // Σ over rows, [D]
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
  return f(x, scale) as T;
}
