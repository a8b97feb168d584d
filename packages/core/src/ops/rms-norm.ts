/**
 * Scale-only RMSNorm over the last axis (model/norm.ts has the reference) with its gradient
 * written out: per row of x [..., D], with r = 1/sqrt(mean(x²) + eps),
 *
 *     y = x·r·w;   ∂x = r·w⊙dy − (r³/D)·x·Σ_k w_k·dy_k·x_k;   ∂w = Σ_rows dy⊙x·r
 *
 * Why: as tfjs ops the forward is six kernels (Square, Mean, Add, Rsqrt, two Multiply) and
 * autodiff's backward a dozen more, among them a Sum over the rows for ∂w that wasm runs as a
 * Transpose and a reduction. On wasm this is one JavaScript pass over zero-copy heap views each way
 * (bam's `BamRmsNorm` and `BamRmsNormGrad` kernels, ops/kernels.ts), float64 inside with one
 * rounding per value, so it agrees with the op-by-op float32 form to float32 rounding. Callers pick
 * it with `fusedOnWasm('rmsnorm', ...)` (ops/settings.ts); elsewhere the reference ops run.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { RMS_NORM, RMS_NORM_GRAD } from './kernels.ts';

/** RMSNorm of x [..., D] with scale [D] on bam's wasm kernels → a tensor of x's shape. */
export function rmsNormFused<T extends tf.Tensor>(x: T, scale: tf.Tensor1D, eps: number): T {
  const D = x.shape[x.shape.length - 1];
  if (scale.shape.length !== 1 || scale.shape[0] !== D) throw new ShapeError('RMSNorm scale', [D], scale.shape, 'rmsNorm');
  const f = tf.customGrad(((xs: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, r] = tf.engine().runKernel(RMS_NORM, { x: xs, scale: w }, { eps } as unknown as tf.NamedAttrMap) as tf.Tensor[]; // x's shape, [rows]
    save([xs, w, r]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xSaved, wSaved, rSaved] = saved;
        return tf.engine().runKernel(RMS_NORM_GRAD, { dy, x: xSaved, scale: wSaved, r: rSaved }) as tf.Tensor[]; // [∂x, ∂scale]
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
  return f(x, scale) as T;
}
