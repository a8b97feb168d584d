import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRoutingStats, routingStats, routingStatTensors, softRoute, topKRoute, hashRoute, type Routing } from '../../src/mixture/index.ts';
import { useWasm } from './helpers.ts';

beforeAll(useWasm);

const L2 = Math.log(2);
const L3 = Math.log(3);
const L4 = Math.log(4);
// FFN probabilities per row: [4/6, 1/6, 1/6], [1/4, 1/2, 1/4], [4/6, 1/6, 1/6], [1/4, 1/4, 1/2]; top-1: 0, 1, 0, 2.
const FFN_LOGITS = [
  [L4, 0, 0],
  [0, L2, 0],
  [L4, 0, 0],
  [0, 0, L2],
];
// Attention probabilities: a permutation of [3/5, 1/5, 1/5] per row; top: 0, 2, 1, 2.
const ATTN_LOGITS = [
  [L3, 0, 0],
  [0, 0, L3],
  [0, L3, 0],
  [0, 0, L3],
];
const H = (p: number[]) => -p.reduce((s, x) => s + x * Math.log(x), 0);

function dispose(r: Routing): void {
  tf.dispose([r.gates, r.mask, r.indices, r.probs, r.logits]);
}

describe('routing statistics', () => {
  it('gives token fractions, mean gates, entropies and attention/FFN agreement on a hand example', async () => {
    const fl = tf.tensor2d(FFN_LOGITS);
    const al = tf.tensor2d(ATTN_LOGITS);
    const ffn = topKRoute(fl, { k: 1, normalize: 'before' });
    const attn = softRoute(al);
    const before = tf.memory().numTensors;
    const s = await routingStats({ ffn, attn });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.tokens).toBe(4);
    expect(s.ffn!.tokenFraction).toEqual([0.5, 0.25, 0.25]);
    [4 / 6, 1 / 2, 1 / 2].forEach((g, e) => expect(s.ffn!.meanGate[e]).toBeCloseTo(g, 6));
    const ffnH = (2 * H([4 / 6, 1 / 6, 1 / 6]) + H([1 / 4, 1 / 2, 1 / 4]) + H([1 / 4, 1 / 4, 1 / 2])) / 4;
    expect(s.ffn!.entropy).toBeCloseTo(ffnH, 5);
    expect(s.ffn!.entropyRatio).toBeCloseTo(ffnH / Math.log(3), 5);
    [0.3, 0.3, 0.4].forEach((w, e) => expect(s.attn!.meanWeight[e]).toBeCloseTo(w, 6));
    expect(s.attn!.entropy).toBeCloseTo(H([3 / 5, 1 / 5, 1 / 5]), 5);
    expect(s.agreement).toBe(0.5);
    tf.dispose([fl, al]);
    [ffn, attn].forEach(dispose);
  });

  it('reports zero entropy and whole tokens for hash routing, and a mean gate of 0 for an unused expert', async () => {
    const r = hashRoute([0, 0, 0, 0], 3);
    const s = await routingStats({ ffn: r });
    const e = r.indices.arraySync()[0][0];
    const want = [0, 0, 0];
    want[e] = 1;
    expect(s.ffn!.tokenFraction).toEqual(want);
    expect(s.ffn!.meanGate).toEqual(want);
    expect(s.ffn!.entropy).toBe(0);
    expect(s.attn).toBeUndefined();
    expect(s.agreement).toBeUndefined();
    dispose(r);
  });

  it('reads per-layer stat tensors keyed like the model forward returns them', async () => {
    const fl = tf.tensor2d(FFN_LOGITS);
    const ffn = topKRoute(fl, { k: 2, normalize: 'after' });
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(routingStatTensors(ffn, 'ffn'))) tensors[`layers.3.ffn.${k}`] = v;
    tensors['layers.1.other'] = tf.scalar(1);
    const [s, ...rest] = await readRoutingStats(tensors);
    expect(rest).toEqual([]);
    expect(s.layer).toBe(3);
    // Top-2 fractions sum to k = 2.
    expect(s.ffn!.tokenFraction.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 6);
    tf.dispose([fl, ...Object.values(tensors)]);
    dispose(ffn);
  });
});
