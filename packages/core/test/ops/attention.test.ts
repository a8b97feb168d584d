import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { blasActive, enableBlas, groupedCausalAttention, setOpsSettings } from '../../src/ops/index.ts';
import { causalAttention, causalAttentionReference, type AttentionDims } from '../../src/model/index.ts';
import { needs } from '../../../../tools/test/components.ts';

// BAM_BLAS=auto means OpenBLAS here: without it that case is skipped (and named in the run's last line; CI=true fails).
const hasOpenBlas = await needs('openblas');

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** softmax(scale·q_g·k_m(g)ᵀ + mask)·v_m(g) by plain batched ops (gather the kv groups). */
function reference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, kvOf: number[], scale: number, mask: tf.Tensor2D): tf.Tensor {
  const idx = tf.tensor1d(kvOf, 'int32');
  const scores = tf.mul(tf.matMul(q as tf.Tensor3D, tf.gather(k, idx) as tf.Tensor3D, false, true), scale); // [G, T, S]
  return tf.matMul(tf.softmax(tf.add(scores, mask)), tf.gather(v, idx) as tf.Tensor3D); // [G, T, Dh]
}

describe('grouped causal attention as one op with a written-out gradient', () => {
  // Two implementations: one gemmBatch kernel per pass when OpenBLAS runs wasm's products, 2-D
  // products per group on XNNPACK otherwise.
  for (const library of ['auto', 'off'] as const) {
    it.runIf(library === 'off' || hasOpenBlas)(`equals the batched reference in values and in the gradients of q, k and v (S > T, uneven groups; BAM_BLAS=${library})`, () => {
      enableBlas({ library });
      expect(blasActive()).toBe(library === 'auto');
      // 5 query groups on 3 kv groups, 3 new positions attending to 5 keys (2 cached).
      const [G, Gkv, T, S, Dh] = [5, 3, 3, 5, 4];
      const kvOf = [0, 0, 1, 2, 2];
      const m = new Float32Array(T * S);
      for (let i = 0; i < T; i++) for (let j = 2 + i + 1; j < S; j++) m[i * S + j] = -1e9;
      const mask = tf.tensor2d(m, [T, S]);
      const q = rand([G, T, Dh], 1);
      const k = rand([Gkv, S, Dh], 2);
      const v = rand([Gkv, S, Dh], 3);
      const w = rand([G, T, Dh], 4);
      const before = tf.memory().numTensors;
      const fused = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        groupedCausalAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, { kvOf, scale: 0.5, mask });
      const ref = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => reference(a, b, c, kvOf, 0.5, mask);
      const yf = fused(q, k, v);
      const yr = tf.tidy(() => ref(q, k, v));
      expect(maxAbsDiff(yf, yr)).toBeLessThan(1e-5);
      const gf = tf.grads((a, b, c) => tf.sum(tf.mul(fused(a, b, c), w)))([q, k, v]);
      const gr = tf.grads((a, b, c) => tf.sum(tf.mul(ref(a, b, c), w)))([q, k, v]);
      for (let i = 0; i < 3; i++) {
        expect(tf.tidy(() => tf.max(tf.abs(gr[i])).dataSync()[0])).toBeGreaterThan(0.01);
        expect(maxAbsDiff(gf[i], gr[i])).toBeLessThan(1e-5);
      }
      tf.dispose([yf, yr, ...gf, ...gr]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([mask, q, k, v, w]);
      enableBlas();
    });
  }

  it('names a kv group map that does not fit', () => {
    const q = rand([2, 3, 4], 1) as tf.Tensor3D;
    const k = rand([1, 3, 4], 2) as tf.Tensor3D;
    const mask = tf.zeros([3, 3]) as tf.Tensor2D;
    expect(() => groupedCausalAttention(q, k, k, { kvOf: [0, 1], scale: 1, mask })).toThrow(/kvOf must list, for each of the 2 query groups, a key\/value group in \[0, 1\)/);
    tf.dispose([q, k, mask]);
  });

  it('gives the model the same attention in every ops setting (fused, per-head, batched)', () => {
    const d: AttentionDims = { batch: 2, seqLen: 6, nHeads: 4, nKvHeads: 2, headDim: 4 };
    const q = rand([8, 6, 4], 5) as tf.Tensor3D;
    const k = rand([4, 6, 4], 6) as tf.Tensor3D;
    const v = rand([4, 6, 4], 7) as tf.Tensor3D;
    const ref = causalAttentionReference(q, k, v, d);
    for (const mode of ['fused', 'per-head', 'batched'] as const) {
      const prev = setOpsSettings({ attention: mode });
      const y = causalAttention(q, k, v, d);
      setOpsSettings(prev);
      expect(maxAbsDiff(y, ref), mode).toBeLessThan(1e-5);
      y.dispose();
    }
    tf.dispose([q, k, v, ref]);
  });
});
