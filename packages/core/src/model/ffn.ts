/**
 * SwiGLU feed-forward (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6), the BAM paper's
 * FFN: FFN(h) = (silu(h·Wg) ⊙ (h·Wu))·Wd. F is the hidden width (half the paper's Table 8 "FFN
 * dimension", which counts gate and up concatenated).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../ops/index.ts';

/** Weights of one SwiGLU FFN (stored [in, out]); also the shape of each MoE expert. */
export interface FfnWeights {
  w_gate: tf.Tensor2D; // [D, F]
  w_up: tf.Tensor2D; // [D, F]
  w_down: tf.Tensor2D; // [F, D]
}

/** SwiGLU of h [N, D] → [N, D]. Call inside the forward's tidy. */
export function swiglu(h: tf.Tensor2D, w: FfnWeights): tf.Tensor2D {
  return swigluFromProjections(linear(h, w.w_gate), linear(h, w.w_up), w.w_down); // [N, D]
}

/** (silu(gate) ⊙ up)·Wd from the projections gate, up [N, F] → [N, D]. */
export function swigluFromProjections(gate: tf.Tensor2D, up: tf.Tensor2D, wDown: tf.Tensor2D): tf.Tensor2D {
  const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D; // silu(gate) ⊙ up, [N, F]
  return linear(act, wDown); // [N, D]
}
