/** Shared helpers of the inference tests: tiny variant configs and a full-recompute greedy reference. */
import * as tf from '@tensorflow/tfjs';
import { forward, parseModelConfig, type BamModel, type KvCache, type ModelConfig, type ModelConfigInput } from '../../src/model/index.ts';
import { variantConfig, type Variant } from '../model/variants.ts';

/**
 * Tiny base (V=64, D=16, H=2, L=2, F=32, maxSeqLen=16). initStd 0.5 instead of 0.02 so the
 * random-init logits are well separated (std ≈ 2) and greedy choices are not near-ties.
 */
export const BASE: ModelConfigInput = { vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxSeqLen: 16, initStd: 0.5 };

/** The tiny base as one of the paper's variants (4 experts, top-1 FFN, soft MoA), with overrides. */
export function variant(v: Variant, overrides: Partial<ModelConfigInput> = {}): ModelConfig {
  return parseModelConfig({ ...variantConfig(BASE, v), ...overrides }, `tiny ${v}`);
}

/** Deterministic pseudo-random ids in [0, V). */
export function randomIds(n: number, V: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % V;
  });
}

/** Index of the largest entry (first on ties). */
export function argmaxOf(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * Greedy decoding the slow, obvious way: the full `forward` on the whole sequence at every step,
 * the next token the argmax of the last position's logits. Returns the tokens and each step's logits.
 */
export function greedyByRecompute(model: BamModel, prompt: number[], steps: number): { tokens: number[]; logits: Float32Array[] } {
  const seq = [...prompt];
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    const last = tf.tidy(() => {
      const input = tf.tensor2d(Int32Array.from(seq), [1, seq.length], 'int32');
      const l = forward(model, input).logits; // [1, T, V]
      return tf.reshape(tf.slice(l, [0, seq.length - 1, 0], [1, 1, model.config.vocabSize]), [-1]);
    });
    const row = last.dataSync() as Float32Array;
    last.dispose();
    const next = argmaxOf(row);
    tokens.push(next);
    logits.push(row);
    seq.push(next);
  }
  return { tokens, logits };
}

/** ln softmax of the full forward on one sequence: [T][V] as arrays (the scoring reference). */
export function logSoftmaxRows(model: BamModel, seq: number[]): Float32Array[] {
  const t = tf.tidy(() => {
    const input = tf.tensor2d(Int32Array.from(seq), [1, seq.length], 'int32');
    return tf.logSoftmax(tf.reshape(forward(model, input).logits, [seq.length, model.config.vocabSize]));
  });
  const data = t.dataSync() as Float32Array;
  t.dispose();
  const V = model.config.vocabSize;
  return Array.from({ length: seq.length }, (_, i) => data.slice(i * V, (i + 1) * V));
}

/** Largest |a[i] − b[i]|. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The logits [B, T, V] of `forward` with the KV cache (the router losses disposed); the caller owns them. */
export function cachedLogits(model: BamModel, tokens: tf.Tensor2D, cache: KvCache): tf.Tensor3D {
  const r = forward(model, tokens, { cache });
  tf.dispose([r.aux.loadBalance, r.aux.zLoss]);
  return r.logits;
}
