/**
 * Norms. The BAM paper's seed models use scale-only RMSNorm (Zhang & Sennrich 2019; PaLM-style,
 * no bias, no mean-centering): y = x / sqrt(mean(x²) + eps) · scale — also Llama's RMSNorm.
 * Imported GPT-NeoX models use LayerNorm (Ba et al. 2016) with a bias:
 * y = (x − mean(x)) / sqrt(var(x) + eps) · scale + bias. The config's `norm` picks one for every
 * norm of the model.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOnWasm, rmsNormFused } from '../ops/index.ts';

/** Weights: one scale vector [D], initialised to ones. */
export interface RmsNormWeights {
  scale: tf.Tensor1D; // [D]
}

/** Weights of either norm: LayerNorm also has a bias [D], initialised to zeros. */
export interface NormWeights extends RmsNormWeights {
  bias?: tf.Tensor1D; // [D]
}

/**
 * RMSNorm over the last axis of x [..., D]; returns a new tensor of x's shape. On wasm with its
 * gradient written out (ops/rms-norm.ts, `opsSettings().rmsnorm`); these ops are the reference.
 */
export function rmsNorm<T extends tf.Tensor>(x: T, w: RmsNormWeights, eps: number): T {
  if (fusedOnWasm('rmsnorm', x, w.scale)) return rmsNormFused(x, w.scale, eps);
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w.scale) as T; // [..., D]
  });
}

/** LayerNorm over the last axis of x [..., D] (biased variance, as PyTorch); a new tensor of x's shape. */
export function layerNorm<T extends tf.Tensor>(x: T, w: NormWeights, eps: number): T {
  return tf.tidy(() => {
    const centred = tf.sub(x, tf.mean(x, -1, true)); // [..., D]
    const variance = tf.mean(tf.square(centred), -1, true); // [..., 1]
    const y = tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), w.scale); // [..., D]
    return (w.bias ? tf.add(y, w.bias) : y) as T;
  });
}

/** The norm of `kind` (the config's `norm`; undefined = 'rms') over the last axis of x. */
export function applyNorm<T extends tf.Tensor>(x: T, w: NormWeights, kind: 'rms' | 'layernorm' | undefined, eps: number): T {
  return kind === 'layernorm' ? layerNorm(x, w, eps) : rmsNorm(x, w, eps);
}
