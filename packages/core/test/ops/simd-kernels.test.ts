/**
 * bam's wasm SIMD kernels (ops/simd) against what they replace — AdamW's and RoPE's JavaScript
 * loops (float64 arithmetic), SwiGLU's and RMSNorm's chains of tfjs ops (float32) — doing the same
 * operations in the same order, so every output bit must agree: over lengths with odd tails,
 * partial rotary, an odd half, the transpose (RoPE's gradient), weight decay and a gradient scale,
 * forward values and gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { adamwStep, opsSettings, setOpsSettings } from '../../src/ops/index.ts';
import { ropeFused } from '../../src/ops/rope.ts';
import { rmsNormFused } from '../../src/ops/rms-norm.ts';
import { siluMul } from '../../src/ops/swiglu.ts';
import { groupedCausalAttention } from '../../src/ops/attention.ts';
import { simdKernels } from '../../src/ops/simd/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});
afterAll(() => {
  setOpsSettings({ wasmKernels: 'simd' });
});

/** Runs f under each implementation; returns the values each gave. */
function both(f: () => tf.Tensor[]): Record<'js' | 'simd', Float32Array[]> {
  const out = {} as Record<'js' | 'simd', Float32Array[]>;
  for (const impl of ['js', 'simd'] as const) {
    setOpsSettings({ wasmKernels: impl });
    const ts = f();
    out[impl] = ts.map((t) => t.dataSync() as Float32Array);
    tf.dispose(ts);
  }
  setOpsSettings({ wasmKernels: 'simd' });
  return out;
}

/** Indices where a and b differ as bits (NaN equals NaN). */
function differing(a: Float32Array, b: Float32Array): number[] {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (ia[i] !== ib[i]) out.push(i);
  return out;
}

describe("bam's wasm SIMD kernels", () => {
  it("load on the wasm backend's heap, and are the default", () => {
    expect(simdKernels(tf.backend())).toBeDefined();
    expect(opsSettings().wasmKernels).toBe('simd');
  });

  it('AdamW gives the JavaScript loop\'s bits (lengths 1, 2, 7 and 10001, decay and a gradient scale)', () => {
    for (const n of [1, 2, 7, 10_001]) {
      const [p, m, g] = [1, 2, 3].map((seed) => tf.randomNormal([n], 0, 1, 'float32', seed));
      const v = tf.abs(tf.randomNormal([n], 0, 0.1, 'float32', 4));
      const scale = tf.scalar(0.37);
      const got = both(() => {
        const r = adamwStep(p, m, v, g, { lr: 3e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1, t: 5, gradScale: scale });
        return [r.p, r.m, r.v];
      });
      got.js.forEach((js, i) => {
        expect(differing(js, got.simd[i]), `n=${n}, output ${'pmv'[i]}`).toEqual([]);
        expect(Array.from(js).some((x, j) => x !== [p, m, v][i].dataSync()[j])).toBe(true); // the step changed something
      });
      tf.dispose([p, m, v, g, scale]);
    }
  });

  it("RoPE and its transpose give the JavaScript loop's bits (full and partial rotary, odd half)", () => {
    for (const [B, T, H, Dh, half] of [[2, 16, 4, 32, 16], [1, 5, 3, 10, 3], [2, 7, 2, 8, 1], [1, 3, 1, 12, 4]]) {
      const x = tf.randomNormal([B, T, H, Dh], 0, 1, 'float32', 7) as tf.Tensor4D;
      const cos = tf.randomNormal([T, half], 0, 1, 'float32', 8) as tf.Tensor2D;
      const sin = tf.randomNormal([T, half], 0, 1, 'float32', 9) as tf.Tensor2D;
      const w = tf.randomNormal([B, T, H, Dh], 0, 1, 'float32', 10);
      const got = both(() => [ropeFused(x, cos, sin), tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(ropeFused(xs as tf.Tensor4D, cos, sin), w)))(x)]);
      expect(differing(got.js[0], got.simd[0]), `forward ${[B, T, H, Dh, half]}`).toEqual([]);
      expect(differing(got.js[1], got.simd[1]), `transpose ${[B, T, H, Dh, half]}`).toEqual([]);
      // dimensions past 2·half are copied unchanged
      const xv = x.dataSync();
      for (let r = 0; r < B * T * H; r++) for (let j = 2 * half; j < Dh; j++) expect(got.simd[0][r * Dh + j]).toBe(xv[r * Dh + j]);
      tf.dispose([x, cos, sin, w]);
    }
  });

  it("SwiGLU's forward and gradients give the tfjs ops' bits (sizes 1, 6 and 1024×343)", () => {
    for (const shape of [[1], [2, 3], [1024, 343]]) {
      const gate = tf.randomNormal(shape, 0, 2, 'float32', 11);
      const up = tf.randomNormal(shape, 0, 1, 'float32', 12);
      const w = tf.randomNormal(shape, 0, 1, 'float32', 13);
      const got = both(() => {
        const [dg, du] = tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(tf.mul(siluMul(g, u), w)))([gate, up]);
        return [siluMul(gate, up), dg, du];
      });
      ['forward', '∂gate', '∂up'].forEach((what, i) => expect(differing(got.js[i], got.simd[i]), `${what} ${shape}`).toEqual([]));
      tf.dispose([gate, up, w]);
    }
  });

  it("RMSNorm's forward and gradients give the tfjs ops' bits (D = 128, 6 and 1)", () => {
    for (const [rows, D] of [[64, 128], [5, 6], [3, 1]]) {
      const x = tf.randomNormal([rows, D], 0, 3, 'float32', 14);
      const scale = tf.randomNormal([D], 1, 0.2, 'float32', 15) as tf.Tensor1D;
      const w = tf.randomNormal([rows, D], 0, 1, 'float32', 16);
      const got = both(() => {
        const [dx, ds] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(rmsNormFused(a, b as tf.Tensor1D, 1e-6), w)))([x, scale]);
        return [rmsNormFused(x, scale, 1e-6), dx, ds];
      });
      ['forward', '∂x', '∂scale'].forEach((what, i) => expect(differing(got.js[i], got.simd[i]), `${what} ${rows}×${D}`).toEqual([]));
      tf.dispose([x, scale, w]);
    }
  });

  it("causal attention's mask add and softmax backward give the tfjs ops' bits (values and all three gradients)", () => {
    for (const [G, Gkv, T, Dh] of [[8, 8, 16, 8], [6, 2, 7, 5]]) {
      const q = tf.randomNormal([G, T, Dh], 0, 1, 'float32', 17) as tf.Tensor3D;
      const k = tf.randomNormal([Gkv, T, Dh], 0, 1, 'float32', 18) as tf.Tensor3D;
      const v = tf.randomNormal([Gkv, T, Dh], 0, 1, 'float32', 19) as tf.Tensor3D;
      const w = tf.randomNormal([G, T, Dh], 0, 1, 'float32', 20);
      const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9)) as tf.Tensor2D;
      const opts = { kvOf: Array.from({ length: G }, (_, g) => Math.floor((g * Gkv) / G)), scale: 1 / Math.sqrt(Dh), mask };
      const got = both(() => {
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(groupedCausalAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, opts), w)))([q, k, v]);
        return [groupedCausalAttention(q, k, v, opts), ...grads];
      });
      ['output', '∂q', '∂k', '∂v'].forEach((what, i) => expect(differing(got.js[i], got.simd[i]), `${what} G=${G}`).toEqual([]));
      tf.dispose([q, k, v, w, mask]);
    }
  });

  it("Transpose [0, 2, 1, 3] copies whole runs (float32, int32, odd sizes), and other perms still run wasm's own kernel", () => {
    for (const [shape, dtype] of [[[2, 3, 5, 7], 'float32'], [[8, 16, 4, 32], 'float32'], [[2, 3, 4, 5], 'int32'], [[1, 1, 1, 1], 'float32']] as const) {
      const x = dtype === 'int32' ? tf.randomUniformInt([...shape], -1000, 1000, 21) : tf.randomNormal([...shape], 0, 1, 'float32', 21);
      const got = both(() => [tf.cast(tf.transpose(x, [0, 2, 1, 3]), 'float32'), tf.cast(tf.transpose(x, [3, 1, 0, 2]), 'float32')]);
      expect(differing(got.js[0], got.simd[0]), `${shape} ${dtype}`).toEqual([]);
      expect(differing(got.js[1], got.simd[1]), `${shape} ${dtype}, perm 3,1,0,2`).toEqual([]);
      const xv = x.dataSync();
      const [A, B, C, D] = shape;
      expect(got.simd[0][((0 * C + (C - 1)) * B + (B - 1)) * D + (D - 1)]).toBe(xv[((0 * B + (B - 1)) * C + (C - 1)) * D + (D - 1)]);
      x.dispose();
    }
  });
});
