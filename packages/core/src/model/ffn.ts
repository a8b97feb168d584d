/**
 * Feed-forward layers. The BAM paper's FFN is SwiGLU (Shazeer 2020, "GLU Variants Improve
 * Transformer", eq. 6): FFN(h) = (silu(h·Wg) ⊙ (h·Wu))·Wd. F is the hidden width (half the paper's
 * Table 8 "FFN dimension", which counts gate and up concatenated). Imported GPT-NeoX models use
 * the two-matrix GeLU MLP: FFN(h) = gelu(h·Wu + bu)·Wd + bd (config `mlp`: 'gelu' exact, with
 * erf, or 'gelu-tanh', the tanh approximation), optionally with biases (config `ffnBias`).
 */
import * as tf from '@tensorflow/tfjs';
import { affine, linear, siluMul } from '../ops/index.ts';
import type { ModelConfig } from './config.ts';
import type { FfnWeight } from './param-names.ts';

/** Weights of one SwiGLU FFN (stored [in, out]); also the shape of each MoE expert. */
export interface FfnWeights {
  w_gate: tf.Tensor2D; // [D, F]
  w_up: tf.Tensor2D; // [D, F]
  w_down: tf.Tensor2D; // [F, D]
}

/** Weights of an FFN of any `mlp` kind: no gate for the GeLU MLP, biases when `ffnBias`. */
export interface AnyFfnWeights {
  w_gate?: tf.Tensor2D; // [D, F]
  w_up: tf.Tensor2D; // [D, F]
  w_down: tf.Tensor2D; // [F, D]
  b_gate?: tf.Tensor1D; // [F]
  b_up?: tf.Tensor1D; // [F]
  b_down?: tf.Tensor1D; // [D]
}

/** The weight names of one FFN (dense or an expert) under the config's `mlp` and `ffnBias`. */
export function ffnWeightNames(config: ModelConfig): FfnWeight[] {
  const gated = (config.mlp ?? 'swiglu') === 'swiglu';
  const names: FfnWeight[] = gated ? ['w_gate', 'w_up', 'w_down'] : ['w_up', 'w_down'];
  if (config.ffnBias) names.push(...(gated ? (['b_gate', 'b_up', 'b_down'] as const) : (['b_up', 'b_down'] as const)));
  return names;
}

/** SwiGLU of h [N, D] → [N, D]. Call inside the forward's tidy. */
export function swiglu(h: tf.Tensor2D, w: FfnWeights): tf.Tensor2D {
  return swigluFromProjections(linear(h, w.w_gate), linear(h, w.w_up), w.w_down); // [N, D]
}

/** (silu(gate) ⊙ up)·Wd from the projections gate, up [N, F] → [N, D]. */
export function swigluFromProjections(gate: tf.Tensor2D, up: tf.Tensor2D, wDown: tf.Tensor2D): tf.Tensor2D {
  const act = siluMul(gate, up); // silu(gate) ⊙ up, [N, F]
  return linear(act, wDown); // [N, D]
}

/** GeLU, exact 0.5·x·(1 + erf(x/√2)) or the tanh approximation (PyTorch's approximate='tanh'). */
function gelu(x: tf.Tensor2D, tanh: boolean): tf.Tensor2D {
  if (tanh) {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner))) as tf.Tensor2D;
  }
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as tf.Tensor2D;
}

/**
 * The FFN of h [N, D] → [N, D] under the config's `mlp`: SwiGLU (the paper's; exactly `swiglu`
 * when there are no biases) or the GeLU MLP. Call inside the forward's tidy.
 */
export function ffnForward(h: tf.Tensor2D, w: AnyFfnWeights, mlp: ModelConfig['mlp']): tf.Tensor2D {
  const kind = mlp ?? 'swiglu';
  if (kind === 'swiglu') {
    if (!w.b_gate && !w.b_up && !w.b_down) return swiglu(h, w as FfnWeights);
    const gate = affine(h, w.w_gate!, w.b_gate); // [N, F]
    const act = siluMul(gate, affine(h, w.w_up, w.b_up)); // silu(gate) ⊙ up, [N, F]
    return affine(act, w.w_down, w.b_down); // [N, D]
  }
  return affine(gelu(affine(h, w.w_up, w.b_up), kind === 'gelu-tanh'), w.w_down, w.b_down); // [N, D]
}
