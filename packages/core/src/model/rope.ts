/**
 * Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer", §3.4), as used by the BAM paper's
 * seed models. We rotate the two halves of each head (the GPT-NeoX / Hugging Face Llama layout):
 * for i < Dh/2, the pair (x[i], x[i + Dh/2]) is rotated by angle t·base^(-2i/Dh) at position t.
 * The PyTorch peer must use the same half-split layout (not the interleaved one).
 *
 * Partial rotary (GPT-NeoX's rotary_pct; config `rotaryFraction`): only the first R = `ropeDims`
 * dimensions of each head are rotated, with the same half-split over those R (angles
 * t·base^(-2i/R)); dimensions R..Dh-1 pass through. The tables' width R/2 tells `applyRope` R.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOnWasm, ropeFused } from '../ops/index.ts';

/**
 * cos and sin tables for positions 0..T-1, each [T, R/2] for R = `rotaryDims` (Dh, or fewer
 * under partial rotary: `ropeDims(config)`); plain numbers, no gradient.
 */
export function ropeTables(seqLen: number, headDim: number, base: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      // Angles in float64, rounded once to float32: large t·θ stays accurate.
      const angle = t * Math.pow(base, (-2 * i) / headDim);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [seqLen, half]), sin: tf.tensor2d(sin, [seqLen, half]) };
}

/**
 * Rotates x [B, T, H, Dh] by position (positions 0..T-1 along axis 1). cos/sin are [T, R/2]
 * from `ropeTables`; with R < Dh only the first R dimensions rotate. Returns a new tensor
 * [B, T, H, Dh]; norms of every head vector are kept. On wasm one fused pass each way
 * (ops/rope.ts, `opsSettings().rope`); the ops below are the reference.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  if (fusedOnWasm('rope', x, cos, sin)) return ropeFused(x, cos, sin);
  const [B, T, H, Dh] = x.shape;
  const rotary = 2 * cos.shape[1];
  if (rotary < Dh) {
    return tf.tidy(() => {
      const rotated = applyRope(tf.slice(x, [0, 0, 0, 0], [B, T, H, rotary]), cos, sin); // [B, T, H, R]
      return tf.concat([rotated, tf.slice(x, [0, 0, 0, rotary], [B, T, H, Dh - rotary])], 3) as tf.Tensor4D; // [B, T, H, Dh]
    });
  }
  return tf.tidy(() => {
    const half = Dh / 2;
    const c = tf.reshape(cos, [1, T, 1, half]); // [1, T, 1, Dh/2]
    const s = tf.reshape(sin, [1, T, 1, half]); // [1, T, 1, Dh/2]
    const x1 = tf.slice(x, [0, 0, 0, 0], [B, T, H, half]); // [B, T, H, Dh/2]
    const x2 = tf.slice(x, [0, 0, 0, half], [B, T, H, half]); // [B, T, H, Dh/2]
    const r1 = tf.sub(tf.mul(x1, c), tf.mul(x2, s));
    const r2 = tf.add(tf.mul(x2, c), tf.mul(x1, s));
    return tf.concat([r1, r2], 3) as tf.Tensor4D; // [B, T, H, Dh]
  });
}
