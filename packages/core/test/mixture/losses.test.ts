import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBalanceLoss, routerLosses, routerZLoss, topKRoute, hashRoute, expertChoiceRoute } from '../../src/mixture/index.ts';
import { useWasm } from './helpers.ts';

beforeAll(useWasm);

describe('load-balance loss', () => {
  it('equals N·Σ f_i·P_i on a hand-computed example', () => {
    // f = [2/4, 1/4, 1/4] (top choices 0, 1, 2, 0); P = column means = [0.40, 0.35, 0.25];
    // loss = 3 · (0.5·0.40 + 0.25·0.35 + 0.25·0.25) = 3 · 0.35 = 1.05.
    const probs = tf.tensor2d([
      [0.7, 0.2, 0.1],
      [0.1, 0.6, 0.3],
      [0.2, 0.3, 0.5],
      [0.6, 0.3, 0.1],
    ]);
    const top = tf.tensor2d([[0, 1], [1, 2], [2, 1], [0, 1]], [4, 2], 'int32');
    const before = tf.memory().numTensors;
    const lb = loadBalanceLoss(probs, top);
    expect(lb.dataSync()[0]).toBeCloseTo(1.05, 6);
    const top1 = tf.tensor1d([0, 1, 2, 0], 'int32');
    const lb1 = loadBalanceLoss(probs, top1);
    expect(lb1.dataSync()[0]).toBeCloseTo(1.05, 6);
    tf.dispose([lb, lb1, top1]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([probs, top]);
  });

  it('is 1 for perfectly uniform routing', () => {
    const probs = tf.fill([4, 4], 0.25) as tf.Tensor2D;
    const top = tf.tensor1d([0, 1, 2, 3], 'int32');
    const lb = loadBalanceLoss(probs, top);
    expect(lb.dataSync()[0]).toBeCloseTo(1, 6);
    tf.dispose([probs, top, lb]);
  });

  it('has the gradient N·f_i/T with respect to each probability', () => {
    const probs = tf.tensor2d([
      [0.7, 0.2, 0.1],
      [0.1, 0.6, 0.3],
      [0.2, 0.3, 0.5],
      [0.6, 0.3, 0.1],
    ]);
    const top = tf.tensor1d([0, 1, 2, 0], 'int32');
    const g = tf.grad((p: tf.Tensor) => loadBalanceLoss(p as tf.Tensor2D, top))(probs);
    // d/dp[t,i] = N · f_i / T = 3 · f_i / 4.
    const want = [0.5, 0.25, 0.25].map((f) => (3 * f) / 4);
    for (const row of g.arraySync() as number[][]) row.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    tf.dispose([probs, top, g]);
  });
});

describe('router z-loss', () => {
  it('equals the mean of squared logsumexp on a hand-computed example', () => {
    // Row 0: logsumexp(0, 0) = ln 2. Row 1: logsumexp(ln 3, 0) = ln 4 = 2·ln 2.
    // mean((ln 2)², (2 ln 2)²) = 2.5·(ln 2)² = 1.2011325348...
    const logits = tf.tensor2d([
      [0, 0],
      [Math.log(3), 0],
    ]);
    const z = routerZLoss(logits);
    expect(z.dataSync()[0]).toBeCloseTo(2.5 * Math.LN2 ** 2, 6);
    tf.dispose([logits, z]);
  });

  it('stays finite for large logits', () => {
    const logits = tf.tensor2d([[100, 0, -100]]);
    const z = routerZLoss(logits);
    expect(z.dataSync()[0]).toBeCloseTo(10000, 1);
    tf.dispose([logits, z]);
  });
});

describe('router losses by router kind', () => {
  it('applies both to top-k, only z to expert-choice and neither to hash routing', () => {
    const logits = tf.tensor2d([
      [2, 0, 0, 0],
      [0, 2, 0, 0],
      [2, 0, 0, 0],
      [0, 0, 0, 2],
    ]);
    const lse = Math.log(Math.exp(2) + 3);
    const p = Math.exp(2) / (Math.exp(2) + 3);
    const q = 1 / (Math.exp(2) + 3);
    // top-1 choices 0, 1, 0, 3: f = [0.5, 0.25, 0, 0.25]; P = [(2p + 2q)/4, (p + 3q)/4, q, (p + 3q)/4].
    const P = [(2 * p + 2 * q) / 4, (p + 3 * q) / 4, q, (p + 3 * q) / 4];
    const wantLb = 4 * (0.5 * P[0] + 0.25 * P[1] + 0 * P[2] + 0.25 * P[3]);
    const tk = topKRoute(logits, { k: 1, normalize: 'before' });
    const a = routerLosses(tk);
    expect(a.loadBalance.dataSync()[0]).toBeCloseTo(wantLb, 6);
    expect(a.zLoss.dataSync()[0]).toBeCloseTo(lse * lse, 5);
    const ec = expertChoiceRoute(logits, { capacityFactor: 1 });
    const b = routerLosses(ec);
    expect(b.loadBalance.dataSync()[0]).toBe(0);
    expect(b.zLoss.dataSync()[0]).toBeCloseTo(lse * lse, 5);
    const hr = hashRoute([1, 2, 3, 4], 4);
    const c = routerLosses(hr);
    expect([c.loadBalance.dataSync()[0], c.zLoss.dataSync()[0]]).toEqual([0, 0]);
    for (const r of [tk, ec, hr]) tf.dispose([r.gates, r.mask, r.indices, r.probs, r.logits]);
    tf.dispose([logits, a.loadBalance, a.zLoss, b.loadBalance, b.zLoss, c.loadBalance, c.zLoss]);
  });
});
