import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import {
  attentionKeyValues,
  attentionQueries,
  causalAttention,
  causalAttentionReference,
  multiHeadAttention,
  type AttentionDims,
} from '../../src/model/attention.ts';
import { swiglu } from '../../src/model/ffn.ts';
import { rmsNorm } from '../../src/model/norm.ts';
import { applyRope, ropeTables } from '../../src/model/rope.ts';
import { maxAbsDiff } from './helpers.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

const rand = (shape: number[], seed: number, std = 1) => tf.randomNormal(shape, 0, std, 'float32', seed);

describe('RMSNorm', () => {
  it('divides by the root mean square and multiplies by the scale', async () => {
    const y = rmsNorm(tf.tensor2d([[3, 4], [1, -1]]), { scale: tf.tensor1d([2, 0.5]) }, 0);
    const r0 = Math.sqrt((9 + 16) / 2);
    const v = (await y.array()) as number[][];
    expect(v[0][0]).toBeCloseTo((3 / r0) * 2, 5);
    expect(v[0][1]).toBeCloseTo((4 / r0) * 0.5, 5);
    expect(v[1]).toEqual([2, -0.5]);
  });

  it('does not leak tensors', () => {
    const x = rand([4, 8], 1);
    const s = tf.ones([8]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    rmsNorm(x, { scale: s }, 1e-6).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('RoPE', () => {
  const T = 12;
  const Dh = 8;
  let cos: tf.Tensor2D;
  let sin: tf.Tensor2D;
  beforeAll(() => {
    ({ cos, sin } = ropeTables(T, Dh, 10000));
  });

  it('leaves position 0 unchanged and keeps the norm of every head vector', async () => {
    const x = rand([2, T, 3, Dh], 2) as tf.Tensor4D;
    const y = applyRope(x, cos, sin);
    const nx = (await tf.norm(x, 'euclidean', -1).data()) as Float32Array;
    const ny = (await tf.norm(y, 'euclidean', -1).data()) as Float32Array;
    for (let i = 0; i < nx.length; i++) expect(ny[i]).toBeCloseTo(nx[i], 4);
    const at0 = (t: tf.Tensor4D) => tf.slice(t, [0, 0, 0, 0], [2, 1, 3, Dh]);
    expect(await maxAbsDiff(at0(y), at0(x))).toBeLessThan(1e-7);
    expect(await maxAbsDiff(y, x)).toBeGreaterThan(0.1);
  });

  it('is relative: q·k depends only on the position difference', async () => {
    // The same q and k vectors placed at every position.
    const qv = await rand([Dh], 3).data();
    const kv = await rand([Dh], 4).data();
    const tile = (v: Float32Array | Int32Array | Uint8Array) =>
      tf.tensor4d(Float32Array.from({ length: T * Dh }, (_, i) => v[i % Dh]), [1, T, 1, Dh]);
    const q = (await applyRope(tile(qv as Float32Array), cos, sin).array()) as number[][][][];
    const k = (await applyRope(tile(kv as Float32Array), cos, sin).array()) as number[][][][];
    const dot = (i: number, j: number) => q[0][i][0].reduce((s, a, d) => s + a * k[0][j][0][d], 0);
    for (const delta of [0, 1, 3, 7]) {
      const ref = dot(delta, 0);
      for (let j = 1; j + delta < T; j++) expect(dot(j + delta, j)).toBeCloseTo(ref, 4);
    }
    expect(Math.abs(dot(3, 0) - dot(0, 0))).toBeGreaterThan(1e-3);
  });

  it('rotates pair (x[i], x[i + Dh/2]) by t·base^(-2i/Dh)', async () => {
    const x = tf.tensor4d(Float32Array.from({ length: T * Dh }, (_, i) => (i % Dh === 1 ? 1 : 0)), [1, T, 1, Dh]);
    const y = (await applyRope(x, cos, sin).array()) as number[][][][];
    const theta = Math.pow(10000, -2 / Dh);
    // (x1, x2) = (1, 0) rotated by angle a is (cos a, sin a).
    expect(y[0][5][0][1]).toBeCloseTo(Math.cos(5 * theta), 5);
    expect(y[0][5][0][1 + Dh / 2]).toBeCloseTo(Math.sin(5 * theta), 5);
  });
});

describe('causal attention', () => {
  const cases: [string, AttentionDims][] = [
    ['multi-head', { batch: 2, seqLen: 6, nHeads: 4, nKvHeads: 4, headDim: 4 }],
    ['grouped-query (4 query heads on 2 kv heads)', { batch: 2, seqLen: 6, nHeads: 4, nKvHeads: 2, headDim: 4 }],
  ];
  for (const [name, d] of cases) {
    it(`fast per-head path equals the batched reference, values and gradients (${name})`, async () => {
      const { batch: B, seqLen: T, nHeads: H, nKvHeads: Hkv, headDim: Dh } = d;
      const q = rand([B * H, T, Dh], 5) as tf.Tensor3D;
      const k = rand([B * Hkv, T, Dh], 6) as tf.Tensor3D;
      const v = rand([B * Hkv, T, Dh], 7) as tf.Tensor3D;
      const w = rand([B * H, T, Dh], 8);
      expect(await maxAbsDiff(causalAttention(q, k, v, d), causalAttentionReference(q, k, v, d))).toBeLessThan(1e-5);
      const loss = (f: typeof causalAttention) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, d), w));
      const g = tf.grads(loss(causalAttention))([q, k, v]);
      const r = tf.grads(loss(causalAttentionReference))([q, k, v]);
      for (let i = 0; i < 3; i++) expect(await maxAbsDiff(g[i], r[i])).toBeLessThan(1e-4);
    });
  }

  it('is causal: outputs before position t do not change when tokens at t and later change', async () => {
    const d: AttentionDims = { batch: 1, seqLen: 6, nHeads: 2, nKvHeads: 2, headDim: 4 };
    const D = 8;
    const wts = { wq: rand([D, D], 9, 0.3), wk: rand([D, D], 10, 0.3), wv: rand([D, D], 11, 0.3), wo: rand([D, D], 12, 0.3) } as {
      wq: tf.Tensor2D;
      wk: tf.Tensor2D;
      wv: tf.Tensor2D;
      wo: tf.Tensor2D;
    };
    const rope = ropeTables(6, 4, 10000);
    const h1 = rand([6, D], 13) as tf.Tensor2D;
    const h2 = tf.concat([tf.slice(h1, [0, 0], [4, D]), rand([2, D], 14)]) as tf.Tensor2D;
    const y1 = multiHeadAttention(h1, wts, d, rope);
    const y2 = multiHeadAttention(h2, wts, d, rope);
    expect(await maxAbsDiff(tf.slice(y1, [0, 0], [4, D]), tf.slice(y2, [0, 0], [4, D]))).toBeLessThan(1e-6);
    expect(await maxAbsDiff(tf.slice(y1, [4, 0], [2, D]), tf.slice(y2, [4, 0], [2, D]))).toBeGreaterThan(1e-3);
  });

  it('attends only to itself at position 0: output row 0 is v₀·Wo', async () => {
    const d: AttentionDims = { batch: 1, seqLen: 3, nHeads: 1, nKvHeads: 1, headDim: 4 };
    const w = { wq: rand([4, 4], 15), wk: rand([4, 4], 16), wv: rand([4, 4], 17), wo: rand([4, 4], 18) } as {
      wq: tf.Tensor2D;
      wk: tf.Tensor2D;
      wv: tf.Tensor2D;
      wo: tf.Tensor2D;
    };
    const h = rand([3, 4], 19) as tf.Tensor2D;
    const y = multiHeadAttention(h, w, d, ropeTables(3, 4, 10000));
    const expected = tf.matMul(tf.matMul(tf.slice(h, [0, 0], [1, 4]), w.wv), w.wo);
    expect(await maxAbsDiff(tf.slice(y, [0, 0], [1, 4]), expected)).toBeLessThan(1e-5);
  });

  it('query and key/value projections have the per-head layout [B·H, T, Dh]', () => {
    const d: AttentionDims = { batch: 2, seqLen: 3, nHeads: 4, nKvHeads: 2, headDim: 2 };
    const rope = ropeTables(3, 2, 10000);
    const h = rand([6, 8], 20) as tf.Tensor2D;
    expect(attentionQueries(h, rand([8, 8], 21) as tf.Tensor2D, d, rope).shape).toEqual([8, 3, 2]);
    const { k, v } = attentionKeyValues(h, rand([8, 4], 22) as tf.Tensor2D, rand([8, 4], 23) as tf.Tensor2D, d, rope);
    expect([k.shape, v.shape]).toEqual([[4, 3, 2], [4, 3, 2]]);
  });

  it('does not leak tensors across a forward and a gradient', () => {
    const d: AttentionDims = { batch: 2, seqLen: 4, nHeads: 2, nKvHeads: 1, headDim: 4 };
    const q = rand([4, 4, 4], 24) as tf.Tensor3D;
    const k = rand([2, 4, 4], 25) as tf.Tensor3D;
    const v = rand([2, 4, 4], 26) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    tf.tidy(() => causalAttention(q, k, v, d)).dispose();
    tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(causalAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, d)))([q, k, v]));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('SwiGLU FFN', () => {
  it('computes (silu(h·Wg) ⊙ (h·Wu))·Wd', async () => {
    const h = tf.tensor2d([[1, -2]]);
    const w = {
      w_gate: tf.tensor2d([[0.5, 1], [0.25, -1]]),
      w_up: tf.tensor2d([[1, 0], [0, 1]]),
      w_down: tf.tensor2d([[1, 2], [3, 4]]),
    };
    const silu = (z: number) => z / (1 + Math.exp(-z));
    const g = [1 * 0.5 - 2 * 0.25, 1 * 1 + -2 * -1]; // [0, 3]
    const a = [silu(g[0]) * 1, silu(g[1]) * -2];
    const y = (await swiglu(h, w).array()) as number[][];
    expect(y[0][0]).toBeCloseTo(a[0] * 1 + a[1] * 3, 5);
    expect(y[0][1]).toBeCloseTo(a[0] * 2 + a[1] * 4, 5);
  });
});
