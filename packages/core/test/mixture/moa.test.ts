import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiHeadAttention, ropeTables, type AttentionDims, type AttentionWeights, type RopeTables } from '../../src/model/index.ts';
import {
  attentionRoute,
  modelAttentionCore,
  moa,
  routerLogits,
  softRoute,
  type AttentionCore,
  type MoaWeights,
  type Routing,
} from '../../src/mixture/index.ts';
import { maxAbs, maxAbsDiff, randn, useWasm } from './helpers.ts';

const B = 2;
const T = 8;
const D = 16;
const H = 4;
const Dh = 4;
const E = 4;
const N = B * T;

let rope: RopeTables;
let h: tf.Tensor2D;
let wRouter: tf.Variable;
const owned: tf.Tensor[] = [];

function attnWeights(seed: number, hkv = H): AttentionWeights {
  const w = {
    wq: randn([D, H * Dh], seed, 0.4) as tf.Tensor2D,
    wk: randn([D, hkv * Dh], seed + 1, 0.4) as tf.Tensor2D,
    wv: randn([D, hkv * Dh], seed + 2, 0.4) as tf.Tensor2D,
    wo: randn([H * Dh, D], seed + 3, 0.4) as tf.Tensor2D,
  };
  owned.push(w.wq, w.wk, w.wv, w.wo);
  return w;
}
const dimsOf = (hkv = H): AttentionDims => ({ batch: B, seqLen: T, nHeads: H, nKvHeads: hkv, headDim: Dh });

beforeAll(async () => {
  await useWasm();
  rope = ropeTables(T, Dh, 10000);
  h = randn([N, D], 1) as tf.Tensor2D;
  wRouter = tf.variable(randn([D, E], 2, 1), true, 'moa-router');
});

afterAll(() => tf.dispose([rope.cos, rope.sin, h, wRouter, ...owned]));

function disposeRouting(r: Routing): void {
  tf.dispose([r.gates, r.mask, r.indices, r.probs, r.logits]);
}

const logitsOf = (x: tf.Tensor2D) => routerLogits(x, wRouter as unknown as tf.Tensor2D);
/** Routes h with the test router; the intermediate logits are disposed. */
const routeH = (route: (l: tf.Tensor2D) => Routing): Routing => {
  const logits = logitsOf(h);
  const r = route(logits);
  logits.dispose();
  return r;
};

describe('MoA of identical experts', () => {
  const routers: Array<[string, (l: tf.Tensor2D) => Routing]> = [
    ['soft', (l) => softRoute(l)],
    ['renormalised top-1', (l) => attentionRoute(l, { kind: 'topk', k: 1 })],
    ['renormalised top-2', (l) => attentionRoute(l, { kind: 'topk', k: 2 })],
  ];
  for (const [name, route] of routers) {
    for (const kind of ['full', 'kv-shared'] as const) {
      it(`equals the dense attention for a random ${name} router (${kind})`, () => {
        const w = attnWeights(10);
        const dims = dimsOf();
        const dense = multiHeadAttention(h, w, dims, rope);
        const weights: MoaWeights =
          kind === 'full'
            ? { kind, experts: Array.from({ length: E }, () => w) }
            : { kind, wk: w.wk, wv: w.wv, experts: Array.from({ length: E }, () => ({ wq: w.wq, wo: w.wo })) };
        const before = tf.memory().numTensors;
        const r = routeH(route);
        const { output, aux } = moa(h, weights, r, modelAttentionCore(dims, rope));
        expect(maxAbsDiff(output, dense)).toBeLessThan(1e-5);
        expect(maxAbs(dense)).toBeGreaterThan(1e-2);
        tf.dispose([output, aux.loadBalance, aux.zLoss]);
        disposeRouting(r);
        expect(tf.memory().numTensors).toBe(before);
        dense.dispose();
      });
    }
  }

  it('equals the dense grouped-query attention with shared K, V (H = 4, Hkv = 2)', () => {
    const w = attnWeights(20, 2);
    const dims = dimsOf(2);
    const dense = multiHeadAttention(h, w, dims, rope);
    const r = routeH(softRoute);
    const { output, aux } = moa(h, { kind: 'kv-shared', wk: w.wk, wv: w.wv, experts: Array.from({ length: E }, () => ({ wq: w.wq, wo: w.wo })) }, r, modelAttentionCore(dims, rope));
    expect(maxAbsDiff(output, dense)).toBeLessThan(1e-5);
    tf.dispose([dense, output, aux.loadBalance, aux.zLoss]);
    disposeRouting(r);
  });
});

describe('MoA of different experts', () => {
  it('is Σ_j g_j · MHA_j for full experts and shares one K, V in kv-shared', () => {
    const dims = dimsOf();
    const ws = Array.from({ length: E }, (_, j) => attnWeights(100 + 10 * j));
    const r = routeH(softRoute);
    const g = r.gates.arraySync();
    const full = moa(h, { kind: 'full', experts: ws }, r, modelAttentionCore(dims, rope));
    const shared = moa(h, { kind: 'kv-shared', wk: ws[0].wk, wv: ws[0].wv, experts: ws }, r, modelAttentionCore(dims, rope));
    const per = ws.map((w) => multiHeadAttention(h, w, dims, rope).arraySync());
    const perShared = ws.map((w) => multiHeadAttention(h, { ...w, wk: ws[0].wk, wv: ws[0].wv }, dims, rope).arraySync());
    const fo = full.output.arraySync();
    const so = shared.output.arraySync();
    let maxErr = 0;
    for (let t = 0; t < N; t++) {
      for (let d = 0; d < D; d++) {
        let a = 0;
        let b = 0;
        for (let j = 0; j < E; j++) {
          a += g[t][j] * per[j][t][d];
          b += g[t][j] * perShared[j][t][d];
        }
        maxErr = Math.max(maxErr, Math.abs(fo[t][d] - a), Math.abs(so[t][d] - b));
      }
    }
    expect(maxErr).toBeLessThan(1e-5);
    // The two kinds differ once the experts' K, V differ.
    expect(maxAbsDiff(full.output, shared.output)).toBeGreaterThan(1e-3);
    tf.dispose([full.output, full.aux.loadBalance, full.aux.zLoss, shared.output, shared.aux.loadBalance, shared.aux.zLoss]);
    disposeRouting(r);
  });

  it('projects K and V once per layer with shared K, V and once per expert otherwise', () => {
    const dims = dimsOf();
    const w = attnWeights(200);
    const calls = { kv: 0, q: 0 };
    const base = modelAttentionCore(dims, rope);
    const counting: AttentionCore = {
      ...base,
      queries: (x, wq) => (calls.q++, base.queries(x, wq)),
      keyValues: (x, wk, wv) => (calls.kv++, base.keyValues(x, wk, wv)),
    };
    const r = routeH(softRoute);
    const a = moa(h, { kind: 'kv-shared', wk: w.wk, wv: w.wv, experts: Array.from({ length: E }, () => w) }, r, counting);
    expect(calls).toEqual({ kv: 1, q: E });
    const b = moa(h, { kind: 'full', experts: Array.from({ length: E }, () => w) }, r, counting);
    expect(calls).toEqual({ kv: 1 + E, q: 2 * E });
    tf.dispose([a.output, a.aux.loadBalance, a.aux.zLoss, b.output, b.aux.loadBalance, b.aux.zLoss]);
    disposeRouting(r);
  });

  it('runs only the attention experts some token chose under top-k routing', () => {
    const dims = dimsOf();
    const w = attnWeights(300);
    let q = 0;
    const base = modelAttentionCore(dims, rope);
    const counting: AttentionCore = { ...base, queries: (x, wq) => (q++, base.queries(x, wq)) };
    const bias = tf.tensor1d([0, 50, -50, -50]); // every token prefers expert 1
    const r = routeH((l) => tf.tidy(() => attentionRoute(tf.add(l, bias) as tf.Tensor2D, { kind: 'topk', k: 1 })));
    const out = moa(h, { kind: 'full', experts: Array.from({ length: E }, () => w) }, r, counting);
    expect(q).toBe(1);
    tf.dispose([bias, out.output, out.aux.loadBalance, out.aux.zLoss]);
    disposeRouting(r);
  });
});

describe('MoA gradients', () => {
  for (const spec of [{ kind: 'soft' }, { kind: 'topk', k: 2 }] as const) {
    it(`reach the attention router weights under ${spec.kind} routing without leaking tensors`, () => {
      const dims = dimsOf();
      const ws = Array.from({ length: E }, (_, j) => attnWeights(400 + 10 * j));
      const target = randn([N, D], 5);
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const r = attentionRoute(logitsOf(h), spec);
            const { output, aux } = moa(h, { kind: 'full', experts: ws }, r, modelAttentionCore(dims, rope));
            return tf.addN([tf.sum(tf.mul(output, target)), aux.loadBalance, aux.zLoss]) as tf.Scalar;
          }),
        [wRouter],
      );
      expect(grads[wRouter.name].shape).toEqual([D, E]);
      expect(maxAbs(grads[wRouter.name])).toBeGreaterThan(1e-4);
      tf.dispose([value, grads[wRouter.name]]);
      expect(tf.memory().numTensors).toBe(before);
      target.dispose();
    });
  }
});
