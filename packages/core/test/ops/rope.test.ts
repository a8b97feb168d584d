import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { applyRope, ropeTables } from '../../src/model/rope.ts';
import { ROPE, ropeFused, setOpsSettings } from '../../src/ops/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

// x [B=2, T=5, H=3, Dh=8]; rotary over all 8 dimensions, or over the first R = 4 (partial rotary).
const [B, T, H, Dh] = [2, 5, 3, 8];
const shape: [number, number, number, number] = [B, T, H, Dh];
const size = B * T * H * Dh;
const xv = Array.from({ length: size }, (_, i) => Math.sin(0.37 * i) * (1 + (i % 7)));
const dyv = Array.from({ length: size }, (_, i) => Math.cos(0.53 * i) + 0.1);
const base = 10000;

/** x rotated in float64, from the angles t·base^(-2i/R): the definition model/rope.ts states. */
function rotate64(x: number[], R: number): number[] {
  const out = [...x];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * Dh;
        for (let i = 0; i < R / 2; i++) {
          const a = t * Math.pow(base, (-2 * i) / R);
          const [x1, x2] = [x[o + i], x[o + R / 2 + i]];
          out[o + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
          out[o + R / 2 + i] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
      }
    }
  }
  return out;
}

/** RoPE(x) over R dimensions and the gradient of Σ dy·RoPE(x) w.r.t. x, under one `rope` setting. */
function run(which: 'fused' | 'ops', R: number): { value: number[]; dx: number[] } {
  const prev = setOpsSettings({ rope: which });
  try {
    return tf.tidy(() => {
      const { cos, sin } = ropeTables(T, R, base);
      const x = tf.tensor4d(xv, shape);
      const dy = tf.tensor(dyv, shape);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(applyRope(a as tf.Tensor4D, cos, sin), dy)))(x);
      return { value: Array.from(applyRope(x, cos, sin).dataSync()), dx: Array.from(dx.dataSync()) };
    });
  } finally {
    setOpsSettings(prev);
  }
}

const close = (a: number[], b: number[], tol: number) => a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]))));

describe("RoPE on bam's fused wasm kernel", () => {
  it('rotates pairs (x[i], x[i + R/2]) by t·base^(-2i/R) and passes dimensions past R through', () => {
    for (const R of [Dh, 4]) close(run('fused', R).value, rotate64(xv, R), 1e-5);
  });

  it("gives the tfjs ops' values and autodiff gradients to float32 rounding, full and partial rotary", () => {
    for (const R of [Dh, 4]) {
      const fused = run('fused', R);
      const ops = run('ops', R);
      close(fused.value, ops.value, 1e-6);
      close(fused.dx, ops.dx, 1e-6);
    }
  });

  it('has the gradient of finite differences (central, float64 rotation)', () => {
    const { dx } = run('fused', 4);
    const objective = (x: number[]) => rotate64(x, 4).reduce((a, v, i) => a + v * dyv[i], 0);
    const h = 1e-6;
    xv.forEach((_, i) => {
      const fd = (objective(xv.map((v, k) => (k === i ? v + h : v))) - objective(xv.map((v, k) => (k === i ? v - h : v)))) / (2 * h);
      expect(dx[i]).toBeCloseTo(fd, 5);
    });
  });

  it('keeps every head vector\'s norm', () => {
    const { value } = run('fused', Dh);
    for (let o = 0; o < size; o += Dh) {
      const norm = (v: number[]) => Math.hypot(...v.slice(o, o + Dh));
      expect(norm(value)).toBeCloseTo(norm(xv), 4);
    }
  });

  it('runs the fused kernel on wasm only under the fused setting, and the ops on cpu with equal values', async () => {
    const kernels = async (which: 'fused' | 'ops') => {
      const prev = setOpsSettings({ rope: which });
      try {
        const { cos, sin } = ropeTables(T, Dh, base);
        const x = tf.tensor4d(xv, shape);
        const info = await tf.profile(() => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(applyRope(a as tf.Tensor4D, cos, sin)))(x)));
        tf.dispose([x, cos, sin]);
        // Forward and gradient both on the fused kernel: no Slice or Concat left.
        if (which === 'fused' && tf.getBackend() === 'wasm') {
          expect(info.kernels.filter((k) => k.name === ROPE)).toHaveLength(2);
          expect(info.kernelNames).not.toContain('Slice');
          expect(info.kernelNames).not.toContain('Concat');
        }
        return info.kernelNames;
      } finally {
        setOpsSettings(prev);
      }
    };
    expect(await kernels('fused')).toContain(ROPE);
    expect(await kernels('ops')).not.toContain(ROPE);
    const wasm = run('fused', 4);
    await tf.setBackend('cpu');
    try {
      expect(await kernels('fused')).not.toContain(ROPE);
      const cpu = run('fused', 4);
      close(wasm.value, cpu.value, 1e-6);
      close(wasm.dx, cpu.dx, 1e-6);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('rejects tables whose length is not the sequence length, naming them', () => {
    expect(() => tf.tidy(() => {
      const { cos, sin } = ropeTables(T + 1, Dh, base);
      return ropeFused(tf.zeros(shape) as tf.Tensor4D, cos, sin);
    })).toThrow(/RoPE cos table.*expected \[5, 4\], got \[6, 4\]/);
  });
});
