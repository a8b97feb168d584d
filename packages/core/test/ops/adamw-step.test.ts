import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { adamwStep } from '../../src/ops/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

const hp = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8 };

/** Three AdamW steps in float64 on plain arrays (torch.optim.AdamW's arithmetic). */
function reference(p0: number[], grads: number[][], lrs: number[], wd: number, scale: number): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * scale;
      p[i] *= 1 - lrs[k] * wd;
      m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * gi;
      v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * gi * gi;
      p[i] -= (lrs[k] * (m[i] / (1 - hp.beta1 ** t))) / (Math.sqrt(v[i] / (1 - hp.beta2 ** t)) + hp.epsilon);
    }
  });
  return p;
}

async function run(backend: 'wasm' | 'cpu', p0: number[], grads: number[][], lrs: number[], wd: number, scale: number): Promise<number[]> {
  await tf.setBackend(backend);
  let p: tf.Tensor = tf.tensor1d(p0);
  let m: tf.Tensor = tf.zerosLike(p);
  let v: tf.Tensor = tf.zerosLike(p);
  const s = tf.scalar(scale);
  for (let k = 0; k < grads.length; k++) {
    const g = tf.tensor1d(grads[k]);
    const next = adamwStep(p, m, v, g, { ...hp, lr: lrs[k], weightDecay: wd, t: k + 1, gradScale: s });
    tf.dispose([p, m, v, g]);
    ({ p, m, v } = next);
  }
  const out = Array.from(await p.data());
  tf.dispose([p, m, v, s]);
  await tf.setBackend('wasm');
  return out;
}

describe('one-pass AdamW step', () => {
  const p0 = [0.5, -1, 2, 0.25, 0, 3e-3];
  const grads = [
    [0.1, -0.2, 0.3, 0, 5, -1e-4],
    [-0.3, 0.1, 0.2, 1, -5, 2e-4],
    [0.05, 0.05, -0.4, 0.5, 1, 0],
  ];
  const lrs = [1e-2, 5e-3, 2e-3];

  it('agrees with a float64 reference over three steps, with decay and a gradient scale (wasm kernel)', async () => {
    const before = tf.memory().numTensors;
    const got = await run('wasm', p0, grads, lrs, 0.1, 0.7);
    const want = reference(p0, grads, lrs, 0.1, 0.7);
    got.forEach((x, i) => expect(Math.abs(x - want[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(want[i]))));
    expect(Math.abs(got[0] - p0[0])).toBeGreaterThan(1e-3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the same steps with the tfjs-ops form on the cpu backend, and without decay', async () => {
    for (const wd of [0.1, 0]) {
      const wasm = await run('wasm', p0, grads, lrs, wd, 1);
      const cpu = await run('cpu', p0, grads, lrs, wd, 1);
      const want = reference(p0, grads, lrs, wd, 1);
      wasm.forEach((x, i) => {
        expect(Math.abs(x - cpu[i])).toBeLessThan(1e-6);
        expect(Math.abs(x - want[i])).toBeLessThan(1e-6);
      });
    }
  });

  it('names a gradient whose shape differs from the parameter', () => {
    const p = tf.zeros([2, 3]);
    const g = tf.zeros([3, 2]);
    expect(() => adamwStep(p, p, p, g, { ...hp, lr: 1e-3, weightDecay: 0, t: 1 })).toThrow(/AdamW gradient.*expected \[2, 3\], got \[3, 2\]/);
    tf.dispose([p, g]);
  });
});
