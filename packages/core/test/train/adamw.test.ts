import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { ConfigError, CheckpointError } from '../../src/errors.ts';
import { AdamW } from '../../src/train/adamw.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

function makeParams(): Map<string, tf.Variable> {
  return new Map<string, tf.Variable>([
    ['w', tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]), true)],
    ['norm.scale', tf.variable(tf.tensor1d([1, -0.5]), true)],
  ]);
}

/** AdamW in float64 on plain arrays, straight from Loshchilov & Hutter / torch.optim.AdamW. */
function reference(p: number[], grads: number[][], lrs: number[], decayed: boolean, hp = { b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 }): number[] {
  const x = [...p];
  const m = x.map(() => 0);
  const v = x.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k];
    for (let i = 0; i < x.length; i++) {
      if (decayed) x[i] *= 1 - lr * hp.wd;
      m[i] = hp.b1 * m[i] + (1 - hp.b1) * g[i];
      v[i] = hp.b2 * v[i] + (1 - hp.b2) * g[i] * g[i];
      const mhat = m[i] / (1 - hp.b1 ** t);
      const vhat = v[i] / (1 - hp.b2 ** t);
      x[i] -= (lr * mhat) / (Math.sqrt(vhat) + hp.eps);
    }
  });
  return x;
}

const dispose = (params: Map<string, tf.Variable>) => params.forEach((v) => v.dispose());

describe('AdamW', () => {
  it('matches a hand-computed first step: decay on matrices, a sign step of size lr, no decay on 1-D scales', async () => {
    const params = makeParams();
    const opt = new AdamW(params);
    expect(opt.isDecayed('w')).toBe(true);
    expect(opt.isDecayed('norm.scale')).toBe(false);
    const grads = { w: tf.tensor2d([[0.3, -0.2], [1e-3, 4]]), 'norm.scale': tf.tensor1d([-0.7, 0.1]) };
    opt.apply(grads, 0.01);
    // Step 1: m̂ = g and v̂ = g², so the step is lr·g/(|g|+ε) ≈ lr·sign(g); decay multiplies by 1 − lr·0.1.
    const w = Array.from(await params.get('w')!.data());
    const expectW = [0.5 * 0.999 - 0.01, -1 * 0.999 + 0.01, 2 * 0.999 - 0.01, 0.25 * 0.999 - 0.01];
    w.forEach((x, i) => expect(x).toBeCloseTo(expectW[i], 6));
    const s = Array.from(await params.get('norm.scale')!.data());
    expect(s[0]).toBeCloseTo(1 + 0.01, 6);
    expect(s[1]).toBeCloseTo(-0.5 - 0.01, 6);
    expect(opt.step).toBe(1);
    Object.values(grads).forEach((g) => g.dispose());
    opt.dispose();
    dispose(params);
  });

  it('agrees with a float64 reference over three steps with changing LR and gradients', async () => {
    const params = makeParams();
    const opt = new AdamW(params, { beta1: 0.8, beta2: 0.9, weightDecay: 0.3 });
    const gw = [[0.3, -0.2, 1e-3, 4], [-0.1, 0.5, 0.2, -2], [0.05, 0.05, -0.3, 1]];
    const gs = [[-0.7, 0.1], [0.2, 0.2], [1.5, -0.4]];
    const lrs = [0.05, 0.02, 0.01];
    for (let k = 0; k < 3; k++) {
      const g = { w: tf.tensor2d(gw[k], [2, 2]), 'norm.scale': tf.tensor1d(gs[k]) };
      opt.apply(g, lrs[k]);
      Object.values(g).forEach((t) => t.dispose());
    }
    const hp = { b1: 0.8, b2: 0.9, eps: 1e-8, wd: 0.3 };
    const expW = reference([0.5, -1, 2, 0.25], gw, lrs, true, hp);
    const expS = reference([1, -0.5], gs, lrs, false, hp);
    Array.from(await params.get('w')!.data()).forEach((x, i) => expect(Math.abs(x - expW[i])).toBeLessThan(1e-6));
    Array.from(await params.get('norm.scale')!.data()).forEach((x, i) => expect(Math.abs(x - expS[i])).toBeLessThan(1e-6));
    opt.dispose();
    dispose(params);
  });

  it('scales gradients by gradScale before the moments (clip coefficient)', async () => {
    const params = makeParams();
    const opt = new AdamW(params, { weightDecay: 0 });
    const scale = tf.scalar(0.25);
    const g = { w: tf.tensor2d([[4, 4], [4, 4]]), 'norm.scale': tf.tensor1d([4, 4]) };
    opt.apply(g, 0.1, scale);
    opt.apply(g, 0.1);
    // Step 1 sees g/4 = 1, step 2 sees 4: m = 0.9·0.1·1 + 0.1·4 = 0.49, v = 0.95·0.05·1 + 0.05·16 = 0.8475.
    const m = 0.49 / (1 - 0.81);
    const v = 0.8475 / (1 - 0.9025);
    const expected = 0.5 - 0.1 - (0.1 * m) / (Math.sqrt(v) + 1e-8);
    expect((await params.get('w')!.data())[0]).toBeCloseTo(expected, 6);
    scale.dispose();
    Object.values(g).forEach((t) => t.dispose());
    opt.dispose();
    dispose(params);
  });

  it('multiplies the learning rate of the parameters lrScale names (decay and step both scale) and rejects a negative scale', async () => {
    const params = makeParams();
    const opt = new AdamW(params, { lrScale: (n) => (n === 'w' ? 3 : 1) });
    const grads = { w: tf.tensor2d([[0.3, -0.2], [1e-3, 4]]), 'norm.scale': tf.tensor1d([-0.7, 0.1]) };
    opt.apply(grads, 0.01);
    // As the hand-computed first step above, with lr 0.03 for w: decay 1 − 0.03·0.1, step ±0.03.
    const expectW = [0.5 * 0.997 - 0.03, -1 * 0.997 + 0.03, 2 * 0.997 - 0.03, 0.25 * 0.997 - 0.03];
    Array.from(await params.get('w')!.data()).forEach((x, i) => expect(x).toBeCloseTo(expectW[i], 6));
    const s = Array.from(await params.get('norm.scale')!.data());
    expect(s[0]).toBeCloseTo(1 + 0.01, 6);
    expect(s[1]).toBeCloseTo(-0.5 - 0.01, 6);
    expect(() => new AdamW(params, { lrScale: () => -1 })).toThrow(/lrScale\(w\).*>= 0/);
    Object.values(grads).forEach((g) => g.dispose());
    opt.dispose();
    dispose(params);
  });

  it('updates only the trainable set and leaves frozen parameters bit-identical', async () => {
    const params = makeParams();
    const before = Array.from(await params.get('norm.scale')!.data());
    const byList = new AdamW(params, { trainable: ['w'] });
    const byPredicate = new AdamW(params, { trainable: (n) => !n.startsWith('norm') });
    expect(byList.trainableNames).toEqual(['w']);
    expect(byPredicate.trainableNames).toEqual(['w']);
    const g = { w: tf.ones([2, 2]), 'norm.scale': tf.ones([2]) };
    byList.apply(g, 0.1);
    expect(Array.from(await params.get('norm.scale')!.data())).toEqual(before);
    expect((await params.get('w')!.data())[0]).toBeCloseTo(0.5 * 0.99 - 0.1, 6);
    expect(() => new AdamW(params, { trainable: ['w', 'wq'] })).toThrow(ConfigError);
    Object.values(g).forEach((t) => t.dispose());
    byList.dispose();
    byPredicate.dispose();
    dispose(params);
  });

  it('skips a parameter that has no gradient (no decay, no moment update)', async () => {
    const params = makeParams();
    const opt = new AdamW(params);
    const g = { 'norm.scale': tf.ones([2]) };
    opt.apply(g, 0.1);
    expect(Array.from(await params.get('w')!.data())).toEqual([0.5, -1, 2, 0.25]);
    const state = await opt.getState();
    expect(Array.from(state.m.get('w')!.data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(state.m.get('norm.scale')!.data).map((x) => Math.fround(x))).toEqual([Math.fround(0.1), Math.fround(0.1)]);
    Object.values(g).forEach((t) => t.dispose());
    opt.dispose();
    dispose(params);
  });

  it('continues identically after its state is saved and restored into a new optimizer', async () => {
    const run = async (restoreAfter?: number) => {
      const params = makeParams();
      let opt = new AdamW(params);
      for (let k = 0; k < 4; k++) {
        if (restoreAfter === k) {
          const state = await opt.getState();
          opt.dispose();
          opt = new AdamW(params);
          opt.setState(state);
          expect(opt.step).toBe(k);
        }
        const g = { w: tf.tensor2d([[k, -1], [0.5, k * k]]), 'norm.scale': tf.tensor1d([1 - k, 2]) };
        opt.apply(g, 0.05);
        Object.values(g).forEach((t) => t.dispose());
      }
      const out = [...(await params.get('w')!.data()), ...(await params.get('norm.scale')!.data())];
      opt.dispose();
      dispose(params);
      return out;
    };
    expect(await run(2)).toEqual(await run());
  });

  it('rejects a state for a different parameter set naming the tensor', async () => {
    const params = makeParams();
    const opt = new AdamW(params);
    const state = await opt.getState();
    state.m.delete('w');
    expect(() => opt.setState(state, 'x/optimizer.safetensors')).toThrow(CheckpointError);
    expect(() => opt.setState(state, 'x/optimizer.safetensors')).toThrow(/x\/optimizer\.safetensors.*'m\.w' is missing/);
    opt.dispose();
    dispose(params);
  });

  it('keeps the tensor count steady across steps and frees its moments on dispose', () => {
    const params = makeParams();
    const start = tf.memory().numTensors;
    const opt = new AdamW(params);
    const afterCreate = tf.memory().numTensors;
    expect(afterCreate - start).toBe(4); // m and v for two parameters
    const g = { w: tf.ones([2, 2]), 'norm.scale': tf.ones([2]) };
    opt.apply(g, 0.1);
    const afterOne = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) opt.apply(g, 0.1);
    expect(tf.memory().numTensors).toBe(afterOne);
    Object.values(g).forEach((t) => t.dispose());
    opt.dispose();
    expect(tf.memory().numTensors).toBe(start);
    dispose(params);
  });
});
