/** Shared helpers of the mixture tests: wasm backend, seeded tensors, tiny SwiGLU experts. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { linear } from '../../src/ops/index.ts';

/** Runs the tests on the wasm backend (the embedded default), so missing kernels show up here. */
export async function useWasm(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`expected the wasm backend, got ${tf.getBackend()}`);
}

/** A seeded normal tensor (deterministic across runs). */
export function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed);
}

export interface SwigluWeights {
  wGate: tf.Variable; // [D, F]
  wUp: tf.Variable; // [D, F]
  wDown: tf.Variable; // [F, D]
}

/** Seeded SwiGLU weights [D, F], [D, F], [F, D]. */
export function swigluWeights(D: number, F: number, seed: number, name: string): SwigluWeights {
  return {
    wGate: tf.variable(randn([D, F], seed, 0.3), true, `${name}.w_gate`),
    wUp: tf.variable(randn([D, F], seed + 1, 0.3), true, `${name}.w_up`),
    wDown: tf.variable(randn([F, D], seed + 2, 0.3), true, `${name}.w_down`),
  };
}

/** SwiGLU: (silu(x·Wg) ⊙ (x·Wu))·Wd, [n, D] → [n, D]. */
export function swiglu(w: SwigluWeights): (x: tf.Tensor2D) => tf.Tensor2D {
  return (x) =>
    tf.tidy(() => {
      const g = linear(x, w.wGate as unknown as tf.Tensor2D); // [n, F]
      const u = linear(x, w.wUp as unknown as tf.Tensor2D); // [n, F]
      return linear(tf.mul(tf.mul(g, tf.sigmoid(g)), u) as tf.Tensor2D, w.wDown as unknown as tf.Tensor2D); // [n, D]
    });
}

/** Max |a − b| over all entries. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Max |x| over all entries. */
export function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}
