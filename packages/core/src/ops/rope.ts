/**
 * RoPE's rotation (model/rope.ts has the reference and the layout) as one pass: each head of
 * x [B, T, H, Dh] turns its pairs (x[i], x[i + R/2]), i < R/2, by position t's angles, and copies
 * dimensions R..Dh-1 (partial rotary). The rotation is orthogonal, so its gradient is the same pass
 * turning the other way (sin → −sin):
 *
 *     y1 = x1·c − x2·s;   y2 = x2·c + x1·s;   ∂x1 = dy1·c + dy2·s;   ∂x2 = dy2·c − dy1·s
 *
 * Why: as tfjs ops the forward is two Slices, four Multiply, a Sub, an Add and a Concat (and a
 * Slice and a Concat more under partial rotary), and autodiff's backward as many again, among
 * them PadV2s for the slices' gradients, each a pass over [B, T, H, Dh] on wasm. On wasm this is
 * bam's `BamRope` kernel (ops/kernels.ts), float64 inside with one rounding per value, so it agrees
 * with the ops to float32 rounding. Callers pick it with `fusedOnWasm('rope', ...)`
 * (ops/settings.ts); elsewhere the reference ops run. The tables get no gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { ROPE } from './kernels.ts';

const rotate = (x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, transpose: boolean): tf.Tensor =>
  tf.engine().runKernel(ROPE, { x, cos, sin }, { transpose } as unknown as tf.NamedAttrMap) as tf.Tensor; // x's shape

/** x [B, T, H, Dh] rotated by cos/sin [T, R/2] (R ≤ Dh, even) on bam's wasm kernel → [B, T, H, Dh]. */
export function ropeFused(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const [, T, , Dh] = x.shape;
  const half = cos.shape[1];
  if (cos.shape[0] !== T || 2 * half > Dh) throw new ShapeError('RoPE cos table', [T, Math.floor(Dh / 2)], cos.shape, 'applyRope');
  if (sin.shape[0] !== cos.shape[0] || sin.shape[1] !== half) throw new ShapeError('RoPE sin table', cos.shape, sin.shape, 'applyRope');
  const f = tf.customGrad(((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    // Saved (kept copies), as the forward's tidy may dispose the tables before the backward runs.
    save([cos, sin]);
    return { value: rotate(xs, cos, sin, false), gradFunc: (dy: tf.Tensor, [c, s]: tf.Tensor[]) => [rotate(dy, c, s, true)] };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
  return f(x) as tf.Tensor4D;
}
