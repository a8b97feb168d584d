import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { setOpsSettings, siluMul } from '../../src/ops/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

// Gate values across silu's range (deep negative, around 0, large positive); up values of both signs.
const gate = Array.from({ length: 4 * 6 }, (_, i) => (i - 11.5) * 0.9);
const up = Array.from({ length: 4 * 6 }, (_, i) => Math.cos(i) * 2);
const dyv = Array.from({ length: 4 * 6 }, (_, i) => 1 + Math.sin(i));

/** silu(gate)·up and the gradients of Σ dy·silu(gate)·up w.r.t. gate and up, under one `swiglu` setting. */
function run(which: 'fused' | 'ops'): { value: number[]; dGate: number[]; dUp: number[] } {
  const prev = setOpsSettings({ swiglu: which });
  try {
    return tf.tidy(() => {
      const g = tf.tensor2d(gate, [4, 6]);
      const u = tf.tensor2d(up, [4, 6]);
      const dy = tf.tensor2d(dyv, [4, 6]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(siluMul(a, b), dy));
      const [dGate, dUp] = tf.grads(f)([g, u]);
      return { value: Array.from(siluMul(g, u).dataSync()), dGate: Array.from(dGate!.dataSync()), dUp: Array.from(dUp!.dataSync()) };
    });
  } finally {
    setOpsSettings(prev);
  }
}

describe('siluMul (SwiGLU element-wise part)', () => {
  it('matches the formula g·σ(g)·u computed in float64', () => {
    const { value } = run('fused');
    gate.forEach((g, i) => expect(value[i]).toBeCloseTo((g * up[i]) / (1 + Math.exp(-g)), 5));
  });

  it("gives the tfjs ops' values and autodiff gradients to float32 rounding", () => {
    const fused = run('fused');
    const ops = run('ops');
    for (const key of ['value', 'dGate', 'dUp'] as const) {
      fused[key].forEach((v, i) => expect(Math.abs(v - ops[key][i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ops[key][i]))));
    }
  });

  it('has the gradient of finite differences (central, float64 formula)', () => {
    const { dGate, dUp } = run('fused');
    const f = (g: number, u: number) => (g * u) / (1 + Math.exp(-g));
    const h = 1e-4;
    gate.forEach((g, i) => {
      expect(dGate[i]).toBeCloseTo((dyv[i] * (f(g + h, up[i]) - f(g - h, up[i]))) / (2 * h), 4);
      expect(dUp[i]).toBeCloseTo((dyv[i] * (f(g, up[i] + h) - f(g, up[i] - h))) / (2 * h), 4);
    });
  });

  it("runs the written-out gradient on wasm only (fewer kernels than autodiff's), and the ops on cpu with equal values", async () => {
    /** Kernels of one forward + backward under a `swiglu` setting. */
    const kernelCount = async (which: 'fused' | 'ops') => {
      const prev = setOpsSettings({ swiglu: which });
      const [g, u] = [tf.tensor1d(gate), tf.tensor1d(up)];
      try {
        return (await tf.profile(() => tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(siluMul(a, b)))([g, u])))).kernels.length;
      } finally {
        tf.dispose([g, u]);
        setOpsSettings(prev);
      }
    };
    expect(await kernelCount('fused')).toBeLessThan(await kernelCount('ops'));
    const wasm = run('fused');
    await tf.setBackend('cpu');
    try {
      expect(await kernelCount('fused')).toBe(await kernelCount('ops'));
      const cpu = run('fused');
      for (const key of ['value', 'dGate', 'dUp'] as const) {
        wasm[key].forEach((v, i) => expect(Math.abs(v - cpu[key][i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('rejects gate and up of different shapes, naming them', () => {
    expect(() => tf.tidy(() => siluMul(tf.zeros([2, 3]), tf.zeros([3, 2])))).toThrow(/SwiGLU up projection.*expected \[2, 3\], got \[3, 2\]/);
  });
});
