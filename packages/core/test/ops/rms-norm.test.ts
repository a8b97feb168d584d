import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { rmsNorm } from '../../src/model/norm.ts';
import { rmsNormFused, setOpsSettings } from '../../src/ops/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

// x [2, 3, 8]: rows of different scales (one near zero, where eps matters), both signs.
const shape = [2, 3, 8];
const D = 8;
const rows = 6;
const xv = Array.from({ length: rows * D }, (_, i) => Math.sin(1.3 * i) * (Math.floor(i / D) === 2 ? 1e-3 : 1 + Math.floor(i / D)));
const wv = Array.from({ length: D }, (_, j) => 0.5 + 0.25 * j - (j === 3 ? 2 : 0));
const dyv = Array.from({ length: rows * D }, (_, i) => Math.cos(0.7 * i) + 0.2);
const eps = 1e-5;

/** Σ dy·RMSNorm(x)·w in float64, the function whose gradient the kernels write out. */
function objective(x: number[], w: number[]): number {
  let total = 0;
  for (let n = 0; n < rows; n++) {
    let ss = 0;
    for (let j = 0; j < D; j++) ss += x[n * D + j] ** 2;
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let j = 0; j < D; j++) total += dyv[n * D + j] * x[n * D + j] * r * w[j];
  }
  return total;
}

/** RMSNorm(x) and the gradients of Σ dy·RMSNorm(x) w.r.t. x and the scale, under one `rmsnorm` setting. */
function run(which: 'fused' | 'ops'): { value: number[]; dx: number[]; dw: number[] } {
  const prev = setOpsSettings({ rmsnorm: which });
  try {
    return tf.tidy(() => {
      const x = tf.tensor(xv, shape);
      const w = tf.tensor1d(wv);
      const dy = tf.tensor(dyv, shape);
      const f = (a: tf.Tensor, s: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, { scale: s as tf.Tensor1D }, eps), dy));
      const [dx, dw] = tf.grads(f)([x, w]);
      return { value: Array.from(rmsNorm(x, { scale: w }, eps).dataSync()), dx: Array.from(dx!.dataSync()), dw: Array.from(dw!.dataSync()) };
    });
  } finally {
    setOpsSettings(prev);
  }
}

const close = (a: number[], b: number[], rel: number) => a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(b[i]))));

describe('RMSNorm with its gradient written out', () => {
  it('matches x·w/sqrt(mean(x²) + eps) computed in float64, rows near zero included', () => {
    const { value } = run('fused');
    for (let n = 0; n < rows; n++) {
      const row = xv.slice(n * D, (n + 1) * D);
      const r = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / D + eps);
      row.forEach((v, j) => expect(value[n * D + j]).toBeCloseTo(v * r * wv[j], 5));
    }
  });

  it("gives the tfjs ops' values and autodiff gradients to float32 rounding", () => {
    const fused = run('fused');
    const ops = run('ops');
    for (const key of ['value', 'dx', 'dw'] as const) close(fused[key], ops[key], 2e-6);
  });

  it('has the gradient of finite differences (central, float64 formula)', () => {
    const { dx, dw } = run('fused');
    const h = 1e-6;
    const bump = (v: number[], i: number, d: number) => v.map((a, k) => (k === i ? a + d : a));
    // The near-zero row's gradient is ~1/eps·‖dy‖-sized; a relative tolerance covers it.
    xv.forEach((_, i) => {
      const fd = (objective(bump(xv, i, h), wv) - objective(bump(xv, i, -h), wv)) / (2 * h);
      expect(Math.abs(dx[i] - fd)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(fd)));
    });
    wv.forEach((_, j) => {
      const fd = (objective(xv, bump(wv, j, h)) - objective(xv, bump(wv, j, -h))) / (2 * h);
      expect(Math.abs(dw[j] - fd)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(fd)));
    });
  });

  it('runs the written-out gradient on wasm only (fewer kernels, ∂w as a product), and the ops on cpu with equal values', async () => {
    /** Kernels of one forward + backward under an `rmsnorm` setting. */
    const kernels = async (which: 'fused' | 'ops') => {
      const prev = setOpsSettings({ rmsnorm: which });
      const [x, w] = [tf.tensor(xv, shape), tf.tensor1d(wv)];
      try {
        return (await tf.profile(() => tf.tidy(() => tf.grads((a: tf.Tensor, s: tf.Tensor) => tf.sum(rmsNorm(a, { scale: s as tf.Tensor1D }, eps)))([x, w])))).kernels.map((k) => k.name);
      } finally {
        tf.dispose([x, w]);
        setOpsSettings(prev);
      }
    };
    const [fusedKernels, opsKernels] = [await kernels('fused'), await kernels('ops')];
    expect(fusedKernels.length).toBeLessThan(opsKernels.length);
    expect(fusedKernels).toContain('BatchMatMul'); // ∂w as the product 1ᵀ·(dy⊙x̂)
    expect(opsKernels).not.toContain('BatchMatMul');
    const wasm = run('fused');
    await tf.setBackend('cpu');
    try {
      expect((await kernels('fused')).length).toBe((await kernels('ops')).length);
      const cpu = run('fused');
      for (const key of ['value', 'dx', 'dw'] as const) close(wasm[key], cpu[key], 2e-6);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('rejects a scale whose length is not the last axis of x, naming it', () => {
    expect(() => tf.tidy(() => rmsNormFused(tf.zeros([2, 3]), tf.ones([4]) as tf.Tensor1D, eps))).toThrow(/RMSNorm scale.*expected \[3\], got \[4\]/);
  });
});
