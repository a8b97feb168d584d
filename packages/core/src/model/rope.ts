/**
 * Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer", §3.4), as used by the BAM paper's
 * seed models. We rotate the two halves of each head (the GPT-NeoX / Hugging Face Llama layout):
 * for i < Dh/2, the pair (x[i], x[i + Dh/2]) is rotated by angle t·base^(-2i/Dh) at position t.
 * The PyTorch peer must use the same half-split layout (not the interleaved one).
 */
import * as tf from '@tensorflow/tfjs';

/** cos and sin tables for positions 0..T-1, each [T, Dh/2]; plain numbers, no gradient. */
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
 * Rotates x [B, T, H, Dh] by position (positions 0..T-1 along axis 1). cos/sin are [T, Dh/2]
 * from `ropeTables`. Returns a new tensor [B, T, H, Dh]; norms of every head vector are kept.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, T, H, Dh] = x.shape;
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
