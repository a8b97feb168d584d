/**
 * silu(gate) ⊙ up, the element-wise half of SwiGLU (model/ffn.ts), with its gradient written out:
 *
 *     s = σ(g);   out = g·s·u;   ∂u = dy·g·s;   ∂g = dy·u·s·(1 + g·(1 − s))
 *
 * Why: as tfjs ops the forward is three kernels (Sigmoid, two Multiply) and autodiff's backward
 * eight more (the sigmoid's gradient, four products, a subtraction, an addition), each a separate
 * pass over [N, F] on wasm. On wasm this is one JavaScript pass over zero-copy heap views each way
 * (bam's `BamSiluMul` and `BamSiluMulGrad` kernels, ops/kernels.ts); on other backends, or with
 * `opsSettings().swiglu === 'ops'`, the reference tfjs ops run. The kernels compute in float64 and
 * round once per value, so they agree with the op-by-op float32 form to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { SILU_MUL, SILU_MUL_GRAD } from './kernels.ts';
import { fusedOnWasm } from './settings.ts';

/** The reference: silu(gate) ⊙ up as tfjs ops (autodiff gradient). */
function siluMulOps(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

const siluMulFused = tf.customGrad(((gate: tf.Tensor, up: tf.Tensor, save: tf.GradSaveFunc) => {
  const sig = tf.sigmoid(gate);
  save([gate, sig, up]);
  return {
    value: tf.engine().runKernel(SILU_MUL, { gate, sig, up }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [g, s, u] = saved;
      return tf.engine().runKernel(SILU_MUL_GRAD, { dy, gate: g, sig: s, up: u }) as tf.Tensor[]; // [∂gate, ∂up]
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (gate: tf.Tensor, up: tf.Tensor) => tf.Tensor;

/** silu(gate) ⊙ up of two float32 tensors of one shape → a tensor of that shape. */
export function siluMul<T extends tf.Tensor>(gate: T, up: T): T {
  if (gate.shape.length !== up.shape.length || gate.shape.some((d, i) => d !== up.shape[i])) throw new ShapeError('SwiGLU up projection', gate.shape, up.shape, 'siluMul');
  return (fusedOnWasm('swiglu', gate, up) ? siluMulFused(gate, up) : siluMulOps(gate, up)) as T;
}
