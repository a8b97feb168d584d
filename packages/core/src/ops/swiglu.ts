/**
 * silu(gate) ⊙ up, the element-wise half of SwiGLU (model/ffn.ts), with its gradient written out:
 *
 *     s = σ(g);   gs = g·s;   out = gs·u;   ∂u = dy·gs;   ∂g = (dy·u)·(s + gs − gs·s)
 *
 * Why: autodiff's backward of the three forward ops (Sigmoid, two Multiply) is eight kernels (the
 * sigmoid's own gradient among them) plus the tape's bookkeeping; the written-out one is six
 * element-wise kernels (Multiply, Sub, Add) over tensors the forward kept (s, gs, u). Where bam's
 * wasm SIMD module runs (ops/simd), the forward's two Multiplys are one pass and the backward's
 * six kernels one pass, with the same float32 operations in the same order, so the same bits. (A
 * first version ran each direction as one JavaScript pass over wasm-heap views; wasm's own kernels
 * measured 3× faster forward and 1.7× faster backward at [1024, 344]: benchmarks/RESULTS.md.) On wasm with `opsSettings().swiglu === 'fused'`
 * this runs; elsewhere the reference ops with autodiff's gradient. Both are float32 ops, so they
 * agree to float32 rounding (the forward values are identical).
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { chainsOnWasm, runChain } from './kernels.ts';
import { fusedOnWasm } from './settings.ts';

/** The reference: silu(gate) ⊙ up as tfjs ops (autodiff gradient). */
function siluMulOps(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

const siluMulFused = tf.customGrad(((gate: tf.Tensor, up: tf.Tensor, save: tf.GradSaveFunc) => {
  const sig = tf.sigmoid(gate);
  // gs = gate·σ and gs·up: one SIMD pass with the two Multiplys' bits where bam's wasm module runs.
  const [gs, value] = chainsOnWasm() ? runChain('swigluForward', [gate, sig, up]) : [tf.mul(gate, sig), undefined];
  save([sig, gs, up]);
  return {
    value: value ?? tf.mul(gs, up),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [s, gs, u] = saved; // σ(gate), gate·σ(gate), up
      if (chainsOnWasm()) return runChain('swigluBackward', [dy, s, gs, u]); // the five ops below in one pass, same bits
      return [tf.mul(tf.mul(dy, u), tf.add(s, tf.sub(gs, tf.mul(gs, s)))), tf.mul(dy, gs)]; // [∂gate, ∂up]
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (gate: tf.Tensor, up: tf.Tensor) => tf.Tensor;

/** silu(gate) ⊙ up of two float32 tensors of one shape → a tensor of that shape. */
export function siluMul<T extends tf.Tensor>(gate: T, up: T): T {
  if (gate.shape.length !== up.shape.length || gate.shape.some((d, i) => d !== up.shape[i])) throw new ShapeError('SwiGLU up projection', gate.shape, up.shape, 'siluMul');
  return (fusedOnWasm('swiglu', gate, up) ? siluMulFused(gate, up) : siluMulOps(gate, up)) as T;
}
