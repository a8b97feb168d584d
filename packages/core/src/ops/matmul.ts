/**
 * Matrix products that are fast on the tfjs wasm backend.
 *
 * Measured on wasm (one thread): a plain 2-D `matMul` runs at 15–25 GFLOP/s, while a batched or
 * transposed one (`transposeA`/`transposeB`) runs near 1 GFLOP/s. TF.js's built-in matMul gradient
 * uses transposed products (dy·Bᵀ, Aᵀ·dy), so training spends most of its time there. These ops
 * carry a custom gradient that transposes explicitly (`tf.transpose`, a cheap copy) and then
 * does plain 2-D products. See benchmarks/ops-microbench.ts for the numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { blasActive } from './blas.ts';
import { opsSettings } from './settings.ts';

/**
 * Whether to use tf.matMul with its own gradient: asked for (`builtin`), or BLAS runs wasm's
 * products (ops/blas.ts), where transposed products are as fast as plain ones.
 */
const plainTfMatMul = (): boolean => opsSettings().matmulGradient === 'builtin' || blasActive();

const matmul2d = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), // [M, N]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(sb) as tf.Tensor2D), // [M, K]
        tf.matMul(tf.transpose(sa) as tf.Tensor2D, dy as tf.Tensor2D), // [K, N]
      ];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * `a · b` for 2-D tensors [M, K] · [K, N] → [M, N], with a gradient made of explicit transposes
 * and plain 2-D products (fast on wasm). Returns a new tensor owned by the caller.
 */
export function matmul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
    throw new ShapeError('matmul operand b', [a.shape[a.rank - 1] ?? -1, b.shape[b.rank - 1] ?? -1], b.shape, 'matmul');
  }
  if (plainTfMatMul()) return tf.matMul(a, b);
  return matmul2d(a, b) as tf.Tensor2D;
}

/**
 * `a · bᵀ` for [M, K] and [N, K] → [M, N], as an explicit transpose then a plain product
 * (a transposed matMul is ~20× slower on wasm).
 */
export function matmulBt(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (plainTfMatMul()) return tf.matMul(a, b, false, true);
  return matmul(a, tf.transpose(b) as tf.Tensor2D);
}

/**
 * A linear map without bias: `x · W` with x [..., Din] and W [Din, Dout] → [..., Dout].
 * The leading axes are flattened so the product is one plain 2-D matmul.
 */
export function linear<R extends tf.Rank>(x: tf.Tensor<R>, w: tf.Tensor2D): tf.Tensor<R> {
  const dIn = x.shape[x.rank - 1];
  if (w.rank !== 2 || w.shape[0] !== dIn) {
    throw new ShapeError('linear weight', [dIn, w.shape[1] ?? -1], w.shape, 'linear');
  }
  if (x.rank === 2) return matmul(x as tf.Tensor2D, w) as unknown as tf.Tensor<R>;
  const lead = x.shape.slice(0, -1);
  const x2 = tf.reshape(x, [-1, dIn]) as tf.Tensor2D; // [N, Din]
  return tf.reshape(matmul(x2, w), [...lead, w.shape[1]]) as unknown as tf.Tensor<R>; // [..., Dout]
}

/** x·W + b for x [..., in], W [in, out], b [out] (`linear` plus a bias; no add without one). */
export function affine<R extends tf.Rank>(x: tf.Tensor<R>, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor<R> {
  const y = linear(x, w); // [..., out]
  return b ? (tf.add(y, b) as tf.Tensor<R>) : y;
}

const bmm3d = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D), // [G, M, N]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [
        tf.matMul(dy as tf.Tensor3D, tf.transpose(sb, [0, 2, 1]) as tf.Tensor3D), // [G, M, K]
        tf.matMul(tf.transpose(sa, [0, 2, 1]) as tf.Tensor3D, dy as tf.Tensor3D), // [G, K, N]
      ];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * Batched product [G, M, K] · [G, K, N] → [G, M, N] whose gradient uses explicit transposes
 * instead of transposed batched products.
 */
export function batchMatmul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new ShapeError('batchMatmul operand b', [a.shape[0], a.shape[2], b.shape[2] ?? -1], b.shape, 'batchMatmul');
  }
  if (plainTfMatMul()) return tf.matMul(a, b);
  return bmm3d(a, b) as tf.Tensor3D;
}
