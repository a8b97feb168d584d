import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionRoute,
  expertCapacity,
  expertChoiceRoute,
  ffnRoute,
  hashExpert,
  hashRoute,
  perExampleLogits,
  routerLogits,
  softRoute,
  topKRoute,
  type Routing,
} from '../../src/mixture/index.ts';
import { maxAbs, randn, useWasm } from './helpers.ts';

beforeAll(useWasm);

const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

function disposeRouting(r: Routing): void {
  tf.dispose([r.gates, r.mask, r.indices, r.probs, r.logits]);
}

// Two tokens over four experts, chosen so that every top-k is unambiguous.
const LOGITS = [
  [1.0, 3.0, 0.5, 2.0],
  [0.2, -1.0, 2.5, 2.4],
];

describe('top-k router', () => {
  it('with normalize "before" keeps the softmax over all experts for the top-k, unrenormalised', () => {
    const logits = tf.tensor2d(LOGITS);
    const r = topKRoute(logits, { k: 2, normalize: 'before' });
    const p0 = softmax(LOGITS[0]);
    const p1 = softmax(LOGITS[1]);
    expect(r.indices.dtype).toBe('int32');
    expect(r.indices.arraySync()).toEqual([
      [1, 3],
      [2, 3],
    ]);
    const g = r.gates.arraySync();
    const want = [
      [0, p0[1], 0, p0[3]],
      [0, 0, p1[2], p1[3]],
    ];
    for (let t = 0; t < 2; t++) for (let e = 0; e < 4; e++) expect(g[t][e]).toBeCloseTo(want[t][e], 6);
    expect(r.mask.arraySync()).toEqual([
      [0, 1, 0, 1],
      [0, 0, 1, 1],
    ]);
    expect(g[0][1] + g[0][3]).toBeLessThan(1);
    disposeRouting(r);
    logits.dispose();
  });

  it('with normalize "after" takes a softmax over the chosen logits only (gates sum to 1)', () => {
    const logits = tf.tensor2d(LOGITS);
    const r = topKRoute(logits, { k: 2, normalize: 'after' });
    const a0 = softmax([LOGITS[0][1], LOGITS[0][3]]);
    const a1 = softmax([LOGITS[1][2], LOGITS[1][3]]);
    const g = r.gates.arraySync();
    expect(g[0][1]).toBeCloseTo(a0[0], 6);
    expect(g[0][3]).toBeCloseTo(a0[1], 6);
    expect(g[1][2]).toBeCloseTo(a1[0], 6);
    expect(g[1][3]).toBeCloseTo(a1[1], 6);
    expect(g[0][0]).toBe(0);
    expect(g[1][1]).toBe(0);
    disposeRouting(r);
    logits.dispose();
  });

  it('with normalize "straight-through" has the gates of "after" and the logit gradient of "before" (nonzero at k = 1, where "after" gives none)', () => {
    const logits = tf.tensor2d(LOGITS);
    // A fixed weighting of the gates stands in for the loss: d(Σ w·g)/d logits.
    const w = tf.tensor2d([
      [0.3, -1.2, 0.7, 2.0],
      [1.5, 0.4, -0.6, 0.9],
    ]);
    const gradOf = (normalize: 'before' | 'after' | 'straight-through') =>
      tf.grad((l: tf.Tensor) => {
        const r = topKRoute(l as tf.Tensor2D, { k: 1, normalize });
        return tf.sum(tf.mul(r.gates, w));
      })(logits);
    const st = topKRoute(logits, { k: 1, normalize: 'straight-through' });
    expect(st.gates.arraySync()).toEqual([
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ]);
    const [gBefore, gAfter, gSt] = [gradOf('before'), gradOf('after'), gradOf('straight-through')];
    expect(maxAbs(gAfter)).toBe(0);
    // Hand-computed: d p_j/d z_i = p_j(δ_ij − p_i), scaled by the chosen expert's weight.
    const p0 = softmax(LOGITS[0]);
    const before = gBefore.arraySync() as number[][];
    expect(before[0][0]).toBeCloseTo(-1.2 * p0[1] * (0 - p0[0]), 6);
    expect(before[0][1]).toBeCloseTo(-1.2 * p0[1] * (1 - p0[1]), 6);
    expect(maxAbs(tf.sub(gSt, gBefore))).toBeLessThan(1e-7);
    expect(maxAbs(gSt)).toBeGreaterThan(0.01);
    disposeRouting(st);
    tf.dispose([logits, w, gBefore, gAfter, gSt]);
  });

  it('routes to the single best expert at k = 1 and to all experts at k = N', () => {
    const logits = tf.tensor2d(LOGITS);
    const r1 = topKRoute(logits, { k: 1, normalize: 'before' });
    expect(r1.indices.arraySync()).toEqual([[1], [2]]);
    expect(r1.gates.arraySync()[0][1]).toBeCloseTo(softmax(LOGITS[0])[1], 6);
    const r4 = topKRoute(logits, { k: 4, normalize: 'after' });
    const soft = softRoute(logits);
    expect(maxAbs(tf.sub(r4.gates, soft.gates))).toBeLessThan(1e-6);
    expect(r4.mask.arraySync()).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    [r1, r4, soft].forEach(disposeRouting);
    logits.dispose();
  });

  it('rejects k larger than the number of experts with a hint', () => {
    const logits = tf.tensor2d(LOGITS);
    expect(() => topKRoute(logits, { k: 5, normalize: 'before' })).toThrow(/k in \[1, 4\], got 5/);
    expect(() => topKRoute(logits, { k: 0, normalize: 'before' })).toThrow(/E_ROUTER|k in/);
    logits.dispose();
  });
});

describe('attention router', () => {
  it('soft routing gives every expert its softmax weight and lists experts by probability', () => {
    const logits = tf.tensor2d(LOGITS);
    const r = attentionRoute(logits, { kind: 'soft' });
    expect(r.kind).toBe('soft');
    const g = r.gates.arraySync();
    const p0 = softmax(LOGITS[0]);
    for (let e = 0; e < 4; e++) expect(g[0][e]).toBeCloseTo(p0[e], 6);
    expect(r.indices.arraySync()[0]).toEqual([1, 3, 0, 2]);
    disposeRouting(r);
    logits.dispose();
  });

  it('top-k attention routing renormalises over the chosen experts by default', () => {
    const logits = tf.tensor2d(LOGITS);
    const r = attentionRoute(logits, { kind: 'topk', k: 1 });
    expect(r.gates.arraySync()).toEqual([
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ]);
    const raw = attentionRoute(logits, { kind: 'topk', k: 1 }, { normalize: 'before' });
    expect(raw.gates.arraySync()[0][1]).toBeCloseTo(softmax(LOGITS[0])[1], 6);
    [r, raw].forEach(disposeRouting);
    logits.dispose();
  });
});

describe('router gradients', () => {
  const N = 12;
  const D = 16;
  const E = 4;
  const cases: Array<[string, (l: tf.Tensor2D) => Routing]> = [
    ['top-1 before', (l) => topKRoute(l, { k: 1, normalize: 'before' })],
    ['top-2 after', (l) => topKRoute(l, { k: 2, normalize: 'after' })],
    ['soft', (l) => softRoute(l)],
    ['attention top-2', (l) => attentionRoute(l, { kind: 'topk', k: 2 })],
    ['expert-choice', (l) => expertChoiceRoute(l, { capacityFactor: 1 })],
  ];
  for (const [name, route] of cases) {
    it(`${name} passes a nonzero gradient to the router weights`, () => {
      const h = randn([N, D], 1) as tf.Tensor2D;
      const w = tf.variable(randn([D, E], 2, 0.5), true, `router-${name}`);
      const y = randn([N, E], 3) as tf.Tensor2D; // a fixed projection of the gates
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const r = route(routerLogits(h, w as unknown as tf.Tensor2D));
            return tf.sum(tf.mul(r.gates, y)) as tf.Scalar;
          }),
        [w],
      );
      const g = grads[w.name];
      expect(g.shape).toEqual([D, E]);
      expect(maxAbs(g)).toBeGreaterThan(1e-4);
      tf.dispose([value, g]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([h, w, y]);
    });
  }
});

describe('expert-choice router', () => {
  it('defines capacity as ceil(factor · tokens / experts), clamped to [1, tokens]', () => {
    expect(expertCapacity(16, 4, 1)).toBe(4);
    expect(expertCapacity(16, 4, 2)).toBe(8);
    expect(expertCapacity(10, 4, 1)).toBe(3);
    expect(expertCapacity(4, 8, 0.1)).toBe(1);
    expect(expertCapacity(8, 2, 4)).toBe(8);
    expect(() => expertCapacity(8, 2, 0)).toThrow(/capacityFactor/);
  });

  it('never gives an expert more tokens than its capacity, and gives each exactly C', () => {
    for (const [N, E, cf, seed] of [
      [32, 4, 1, 7],
      [24, 4, 2, 8],
      [10, 3, 1.5, 9],
    ]) {
      const logits = randn([N, E], seed, 2) as tf.Tensor2D;
      const r = expertChoiceRoute(logits, { capacityFactor: cf });
      const C = expertCapacity(N, E, cf);
      const perExpert = tf.sum(r.mask, 0).arraySync() as number[];
      expect(perExpert).toEqual(new Array(E).fill(C));
      // The gates are the token's softmax probability where chosen, 0 elsewhere.
      const g = r.gates.arraySync();
      const p = r.probs.arraySync();
      const m = r.mask.arraySync();
      for (let t = 0; t < N; t++) for (let e = 0; e < E; e++) expect(g[t][e]).toBeCloseTo(m[t][e] * p[t][e], 6);
      // Each expert took its C highest-scoring tokens.
      for (let e = 0; e < E; e++) {
        const chosen = p.map((row) => row[e]).filter((_, t) => m[t][e] === 1);
        const rest = p.map((row) => row[e]).filter((_, t) => m[t][e] === 0);
        if (rest.length) expect(Math.min(...chosen)).toBeGreaterThanOrEqual(Math.max(...rest));
      }
      disposeRouting(r);
      logits.dispose();
    }
  });
});

describe('hash router', () => {
  it('is a pure function of the token id', () => {
    const ids = [0, 1, 2, 3, 17, 255, 4095, 17, 0, 3];
    const a = ids.map((id) => hashExpert(id, 4));
    const b = ids.map((id) => hashExpert(id, 4));
    expect(a).toEqual(b);
    // Same id, same expert, wherever it appears in the batch.
    expect(a[4]).toBe(a[7]);
    expect(a[0]).toBe(a[8]);
    const r1 = hashRoute(Int32Array.from(ids), 4);
    const t = tf.tensor2d([ids.slice(0, 5), ids.slice(5)], [2, 5], 'int32');
    const r2 = hashRoute(t, 4);
    expect(r1.indices.arraySync().map((row) => row[0])).toEqual(a);
    expect(r2.indices.arraySync().map((row) => row[0])).toEqual(a);
    expect(r1.gates.arraySync()[4][a[4]]).toBe(1);
    expect(tf.sum(r1.gates).dataSync()[0]).toBe(ids.length);
    [r1, r2].forEach(disposeRouting);
    t.dispose();
  });

  it('spreads 4096 token ids over 4 experts within 10% of uniform', () => {
    const counts = [0, 0, 0, 0];
    for (let id = 0; id < 4096; id++) counts[hashExpert(id, 4)]++;
    for (const c of counts) expect(Math.abs(c - 1024)).toBeLessThan(103);
    expect(hashExpert(123, 4, 1)).toBe(hashExpert(123, 4, 1));
  });

  it('dispatches by config and names what a router kind needs', () => {
    const r = ffnRoute({ kind: 'hash' }, { tokenIds: [5, 6, 7], numExperts: 3 });
    expect(r.indices.arraySync().map((row) => row[0])).toEqual([5, 6, 7].map((id) => hashExpert(id, 3)));
    disposeRouting(r);
    expect(() => ffnRoute({ kind: 'topk', k: 1, normalize: 'before' }, {})).toThrow(/needs router logits/);
    expect(() => ffnRoute({ kind: 'hash' }, { numExperts: 3 })).toThrow(/token ids/);
  });
});

describe('per-example routing', () => {
  it('routes every token of an example by the mean of its prefix', () => {
    const B = 2;
    const T = 4;
    const D = 8;
    const h = randn([B * T, D], 11) as tf.Tensor2D;
    const w = randn([D, 3], 12) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const l = perExampleLogits(h, w, { batch: B, seqLen: T, prefixTokens: 2 });
    expect(l.shape).toEqual([B * T, 3]);
    const got = l.arraySync();
    const hv = h.arraySync();
    const wv = w.arraySync();
    for (let b = 0; b < B; b++) {
      const mean = hv[b * T].map((x, j) => (x + hv[b * T + 1][j]) / 2);
      const want = [0, 1, 2].map((e) => mean.reduce((s, x, j) => s + x * wv[j][e], 0));
      for (let t = 0; t < T; t++) for (let e = 0; e < 3; e++) expect(got[b * T + t][e]).toBeCloseTo(want[e], 4);
    }
    l.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => perExampleLogits(h, w, { batch: B, seqLen: T, prefixTokens: 5 })).toThrow(/prefixTokens/);
    tf.dispose([h, w]);
  });
});

describe('router memory', () => {
  it('leaves no tensors behind beyond the routing it returns', () => {
    const logits = randn([8, 4], 5) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    for (const route of [
      () => topKRoute(logits, { k: 2, normalize: 'after' }),
      () => topKRoute(logits, { k: 1, normalize: 'before' }),
      () => softRoute(logits),
      () => expertChoiceRoute(logits, { capacityFactor: 1 }),
      () => hashRoute([1, 2, 3, 4, 5, 6, 7, 8], 4),
    ]) {
      const r = route();
      expect(tf.memory().numTensors).toBe(before + 5);
      disposeRouting(r);
      expect(tf.memory().numTensors).toBe(before);
    }
    logits.dispose();
  });
});
