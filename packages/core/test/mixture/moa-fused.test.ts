import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ropeTables, type AttentionDims, type RopeTables } from '../../src/model/index.ts';
import { attentionRoute, modelAttentionCore, moa, moaFused, routerLogits, softRoute, type MoaWeights, type Routing } from '../../src/mixture/index.ts';
import { setOpsSettings } from '../../src/ops/index.ts';
import { maxAbs, maxAbsDiff, randn, useWasm } from './helpers.ts';

const B = 2;
const T = 8;
const D = 16;
const H = 4;
const Dh = 4;
const E = 3;
const N = B * T;

let rope: RopeTables;
const owned: tf.Tensor[] = [];
const keep = <X extends tf.Tensor>(t: X): X => {
  owned.push(t);
  return t;
};

beforeAll(async () => {
  await useWasm();
  rope = ropeTables(T, Dh, 10000);
});
afterAll(() => tf.dispose([rope.cos, rope.sin, ...owned]));

/** Distinct random experts (as variables, so gradients can be taken). */
function weightsOf(kind: 'full' | 'kv-shared', hkv: number, seed: number): MoaWeights {
  const v = (shape: number[], s: number) => keep(tf.variable(randn(shape, s, 0.5), true)) as unknown as tf.Tensor2D;
  const wq = () => v([D, H * Dh], seed++);
  const wkv = () => v([D, hkv * Dh], seed++);
  const wo = () => v([H * Dh, D], seed++);
  if (kind === 'full') return { kind, experts: Array.from({ length: E }, () => ({ wq: wq(), wk: wkv(), wv: wkv(), wo: wo() })) };
  return { kind, wk: wkv(), wv: wkv(), experts: Array.from({ length: E }, () => ({ wq: wq(), wo: wo() })) };
}

function variablesOf(w: MoaWeights): tf.Variable[] {
  const list: tf.Tensor[] = w.kind === 'kv-shared' ? [w.wk, w.wv] : [];
  for (const e of w.experts) list.push(...Object.values(e));
  return list as unknown as tf.Variable[];
}

/** Output and gradients (w.r.t. h, the router and every weight) of sum(out ⊙ probe). */
function run(
  f: (h: tf.Tensor2D, r: Routing) => tf.Tensor2D,
  w: MoaWeights,
  h: tf.Variable,
  router: tf.Variable,
  route: (l: tf.Tensor2D) => Routing,
): { out: tf.Tensor; grads: tf.Tensor[] } {
  const probe = randn([N, D], 99);
  const vars = [h, router, ...variablesOf(w)];
  let out: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = route(routerLogits(h as unknown as tf.Tensor2D, router as unknown as tf.Tensor2D));
    const o = f(h as unknown as tf.Tensor2D, r);
    out = tf.keep(o.clone());
    return tf.sum(tf.mul(o, probe)) as tf.Scalar;
  }, vars);
  tf.dispose([probe, value]);
  return { out: out!, grads: vars.map((v) => grads[v.name]) };
}

describe('fused MoA (one attention op over all experts)', () => {
  const cases: Array<[string, 'full' | 'kv-shared', number, (l: tf.Tensor2D) => Routing]> = [
    ['soft routing, full K/V', 'full', H, (l) => softRoute(l)],
    ['soft routing, shared K/V', 'kv-shared', H, (l) => softRoute(l)],
    ['soft routing, grouped-query K/V per expert', 'full', 2, (l) => softRoute(l)],
    ['soft routing, grouped-query shared K/V', 'kv-shared', 2, (l) => softRoute(l)],
    ['renormalised top-1 routing, full K/V', 'full', H, (l) => attentionRoute(l, { kind: 'topk', k: 1 })],
  ];
  cases.forEach(([name, kind, hkv, route], i) => {
    it(`equals the per-expert loop in values and gradients (${name})`, () => {
      const dims: AttentionDims = { batch: B, seqLen: T, nHeads: H, nKvHeads: hkv, headDim: Dh };
      const w = weightsOf(kind, hkv, 100 + 20 * i);
      const h = keep(tf.variable(randn([N, D], 7 + i), true));
      const router = keep(tf.variable(randn([D, E], 50 + i, 1), true));
      const before = tf.memory().numTensors;
      const loop = run((x, r) => moa(x, w, r, modelAttentionCore(dims, rope)).output, w, h, router, route);
      const fused = run((x, r) => moaFused(x, w, r, dims, rope).output, w, h, router, route);
      expect(maxAbs(loop.out)).toBeGreaterThan(0.1);
      expect(maxAbsDiff(fused.out, loop.out)).toBeLessThan(1e-5);
      loop.grads.forEach((g, j) => {
        expect(fused.grads[j], `gradient ${j}`).toBeDefined();
        expect(maxAbsDiff(fused.grads[j], g) / Math.max(1, maxAbs(g)), `gradient ${j}`).toBeLessThan(1e-5);
      });
      tf.dispose([loop.out, fused.out, ...loop.grads, ...fused.grads]);
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('runs the per-expert loop when the fused attention op is switched off', () => {
    const dims: AttentionDims = { batch: B, seqLen: T, nHeads: H, nKvHeads: H, headDim: Dh };
    const w = weightsOf('full', H, 400);
    const h = keep(randn([N, D], 3)) as tf.Tensor2D;
    const router = keep(randn([D, E], 4, 1)) as tf.Tensor2D;
    const r = softRoute(routerLogits(h, router));
    const prev = setOpsSettings({ attention: 'per-head' });
    try {
      const a = moaFused(h, w, r, dims, rope);
      const b = moa(h, w, r, modelAttentionCore(dims, rope));
      expect(maxAbsDiff(a.output, b.output)).toBe(0);
      tf.dispose([a.output, a.aux.loadBalance, a.aux.zLoss, b.output, b.aux.loadBalance, b.aux.zLoss]);
    } finally {
      setOpsSettings(prev);
      tf.dispose([r.gates, r.mask, r.indices, r.probs, r.logits]);
    }
  });
});
