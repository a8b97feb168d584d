/**
 * One AdamW update of one parameter as a single pass (Loshchilov & Hutter 2019, Algorithm 2, in
 * torch.optim.AdamW's form — the same arithmetic as train/adamw.ts):
 *
 *     g ← s·g;   p ← p·(1 − lr·λ);   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
 *     p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * Why: written with tfjs ops, the update is ~12 element-wise kernels per parameter; for the tiny
 * preset (1.8M parameters, 44 tensors) clipping + AdamW took ~90–130 ms of a ~1 s training step
 * on wasm. On wasm this is one JavaScript pass over zero-copy heap views per parameter (bam's
 * `BamAdamW` kernel); on other backends the same formula runs as tfjs ops. The arithmetic is done
 * in float64 and rounded to float32 once per value, so it agrees with the op-by-op float32 form
 * to float32 rounding, not bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { ADAMW_STEP } from './kernels.ts';

/** Hyper-parameters of one `adamwStep`; `lr` and `t` (1-based step) change every step. */
export interface AdamWStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay λ of this parameter (0 for parameters that are not decayed). */
  weightDecay: number;
  /** The 1-based step number t of the bias corrections. */
  t: number;
  /** Multiplies the gradient first (the clip coefficient); a borrowed scalar. */
  gradScale?: tf.Scalar;
}

/**
 * The new parameter and moments after one AdamW step: p, m, v, g of one shape (borrowed) →
 * `{p, m, v}` new tensors owned by the caller (assign them to the variables).
 */
export function adamwStep(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, o: AdamWStepOptions): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  for (const [name, t] of [['m', m], ['v', v], ['gradient', g]] as const) {
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) throw new ShapeError(`AdamW ${name}`, p.shape, t.shape, 'adamwStep');
  }
  const bc1 = 1 - o.beta1 ** o.t;
  const bc2 = 1 - o.beta2 ** o.t;
  if (tf.getBackend() === 'wasm' && p.dtype === 'float32') {
    const scale = o.gradScale ?? tf.scalar(1);
    try {
      const attrs = { lr: o.lr, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, weightDecay: o.weightDecay, bc1, bc2 };
      const [np, nm, nv] = tf.engine().runKernel(ADAMW_STEP, { p, m, v, g, scale }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return { p: np, m: nm, v: nv };
    } finally {
      if (!o.gradScale) scale.dispose();
    }
  }
  return tf.tidy(() => {
    const gs = o.gradScale ? tf.mul(g, o.gradScale) : g;
    const m1 = tf.add(tf.mul(m, o.beta1), tf.mul(gs, 1 - o.beta1));
    const v1 = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(gs), 1 - o.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), o.epsilon);
    const decayed = o.weightDecay ? tf.mul(p, 1 - o.lr * o.weightDecay) : p;
    return { p: tf.sub(decayed, tf.mul(tf.div(m1, denom), o.lr / bc1)), m: m1, v: v1 };
  });
}
