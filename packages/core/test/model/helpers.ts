import * as tf from '@tensorflow/tfjs';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from '../../src/model/config.ts';

/** A tiny dense config (V=64, D=16, H=2, L=2, F=32, T=8) with overrides. */
export function tinyConfig(overrides: Partial<ModelConfigInput> = {}): ModelConfig {
  return parseModelConfig({ vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxSeqLen: 8, ...overrides });
}

/** Deterministic pseudo-random int32 tokens [B, T] in [0, V). */
export function tokens(B: number, T: number, V: number, seed = 1): tf.Tensor2D {
  let s = seed >>> 0;
  const out = new Int32Array(B * T);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % V;
  }
  return tf.tensor2d(out, [B, T], 'int32');
}

/** Largest |a − b| over two equally shaped tensors. */
export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = [await a.data(), await b.data()];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}
