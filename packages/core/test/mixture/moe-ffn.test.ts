import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expertChoiceRoute,
  hashRoute,
  moeFfn,
  moeFfnNaive,
  routerLogits,
  topKRoute,
  type ExpertFn,
  type MixtureResult,
  type Routing,
} from '../../src/mixture/index.ts';
import { maxAbs, maxAbsDiff, randn, swiglu, swigluWeights, useWasm, type SwigluWeights } from './helpers.ts';

const N = 16; // B·T = 2·8
const D = 16;
const F = 24;
const E = 4;

let h: tf.Variable;
let wRouter: tf.Variable;
let target: tf.Tensor2D;
let weights: SwigluWeights[];
let experts: ExpertFn[];
const tokenIds = Array.from({ length: N }, (_, i) => (i * 37) % 101);

beforeAll(async () => {
  await useWasm();
  h = tf.variable(randn([N, D], 1), true, 'h');
  wRouter = tf.variable(randn([D, E], 2, 0.5), true, 'router');
  target = randn([N, D], 3) as tf.Tensor2D;
  weights = Array.from({ length: E }, (_, e) => swigluWeights(D, F, 10 + 3 * e, `expert${e}`));
  experts = weights.map(swiglu);
});

afterAll(() => {
  tf.dispose([h, wRouter, target]);
  for (const w of weights) tf.dispose([w.wGate, w.wUp, w.wDown]);
});

type Layer = (h: tf.Tensor2D, experts: readonly ExpertFn[], r: Routing) => MixtureResult;
const routes: Array<[string, (logits: tf.Tensor2D) => Routing]> = [
  ['top-1 (softmax before top-k)', (l) => topKRoute(l, { k: 1, normalize: 'before' })],
  ['top-2 (renormalised)', (l) => topKRoute(l, { k: 2, normalize: 'after' })],
  ['top-3 (softmax before top-k)', (l) => topKRoute(l, { k: 3, normalize: 'before' })],
  ['expert-choice', (l) => expertChoiceRoute(l, { capacityFactor: 1.5 })],
  ['hash', () => hashRoute(tokenIds, E)],
];

/** Loss = Σ output·target + LB + z, so gradients flow through the output and the aux. */
function lossOf(layer: Layer, route: (l: tf.Tensor2D) => Routing, ex: readonly ExpertFn[] = experts): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      const r = route(routerLogits(h as unknown as tf.Tensor2D, wRouter as unknown as tf.Tensor2D));
      const { output, aux } = layer(h as unknown as tf.Tensor2D, ex, r);
      return tf.addN([tf.sum(tf.mul(output, target)), aux.loadBalance, aux.zLoss]) as tf.Scalar;
    });
}

describe('gathered MoE FFN', () => {
  for (const [name, route] of routes) {
    it(`agrees with the naive all-experts reference for ${name}, in values and gradients`, () => {
      const vars = [h, wRouter, ...weights.flatMap((w) => [w.wGate, w.wUp, w.wDown])];
      const before = tf.memory().numTensors;
      const fast = tf.variableGrads(lossOf(moeFfn, route), vars);
      const ref = tf.variableGrads(lossOf(moeFfnNaive, route), vars);
      expect(Math.abs(fast.value.dataSync()[0] - ref.value.dataSync()[0])).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.value.dataSync()[0])));
      let compared = 0;
      for (const v of vars) {
        const gr = ref.grads[v.name];
        const gf = fast.grads[v.name];
        if (!gr) {
          // Not connected to the loss at all (hash routing has no router weights).
          expect(gf, v.name).toBeUndefined();
          continue;
        }
        const scale = Math.max(1, maxAbs(gr));
        if (gf) {
          expect(maxAbsDiff(gf, gr) / scale, v.name).toBeLessThan(1e-5);
          compared++;
        } else {
          // An expert no token chose is skipped by the fast path: the reference gradient is 0.
          expect(maxAbs(gr), v.name).toBe(0);
        }
      }
      expect(compared).toBeGreaterThanOrEqual(1 + 3 * 2);
      if (name === 'hash') expect(fast.grads[wRouter.name]).toBeUndefined();
      else expect(maxAbs(fast.grads[wRouter.name])).toBeGreaterThan(1e-6);
      tf.dispose([fast.value, ref.value, ...Object.values(fast.grads), ...Object.values(ref.grads)]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('gives the router weights a nonzero gradient through the gates', () => {
    const g = tf.variableGrads(lossOf(moeFfn, routes[0][1]), [wRouter]);
    expect(maxAbs(g.grads[wRouter.name])).toBeGreaterThan(1e-3);
    tf.dispose([g.value, g.grads[wRouter.name]]);
  });

  it('skips an expert that no token chose and still matches the reference', () => {
    // Logits that send every token to experts 0 and 1 only.
    const bias = tf.tensor1d([5, 4, -5, -5]);
    const route = (l: tf.Tensor2D) => topKRoute(tf.add(l, bias) as tf.Tensor2D, { k: 2, normalize: 'after' });
    let calls = 0;
    const counted = experts.map((f) => (x: tf.Tensor2D) => {
      calls++;
      return f(x);
    });
    const fast = tf.variableGrads(lossOf(moeFfn, route, counted), [h, weights[3].wGate]);
    expect(calls).toBe(2);
    expect(fast.grads[weights[3].wGate.name]).toBeUndefined();
    const ref = tf.variableGrads(lossOf(moeFfnNaive, route), [h, weights[3].wGate]);
    expect(maxAbs(ref.grads[weights[3].wGate.name])).toBe(0);
    expect(maxAbsDiff(fast.grads[h.name], ref.grads[h.name])).toBeLessThan(1e-5);
    tf.dispose([bias, fast.value, ref.value, ...Object.values(fast.grads), ...Object.values(ref.grads)]);
  });
});

describe('MoE FFN of identical experts', () => {
  const same = () => Array.from({ length: E }, () => experts[0]);

  for (const k of [1, 2, 4]) {
    it(`equals the dense FFN under renormalised top-${k} routing`, () => {
      const before = tf.memory().numTensors;
      const dense = experts[0](h as unknown as tf.Tensor2D);
      const logits = routerLogits(h as unknown as tf.Tensor2D, wRouter as unknown as tf.Tensor2D);
      const r = topKRoute(logits, { k, normalize: 'after' });
      const { output, aux } = moeFfn(h as unknown as tf.Tensor2D, same(), r);
      expect(maxAbsDiff(output, dense)).toBeLessThan(1e-5);
      tf.dispose([dense, logits, output, aux.loadBalance, aux.zLoss, r.gates, r.mask, r.indices, r.probs, r.logits]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("equals p_top · FFN(h) under the paper's un-renormalised top-1", () => {
    const dense = experts[0](h as unknown as tf.Tensor2D);
    const logits = routerLogits(h as unknown as tf.Tensor2D, wRouter as unknown as tf.Tensor2D);
    const r = topKRoute(logits, { k: 1, normalize: 'before' });
    const { output, aux } = moeFfn(h as unknown as tf.Tensor2D, same(), r);
    const pTop = tf.max(tf.softmax(logits), 1, true); // [N, 1]
    const want = tf.mul(pTop, dense);
    expect(maxAbsDiff(output, want)).toBeLessThan(1e-5);
    // And it is not the dense output: the gates are < 1.
    expect(maxAbsDiff(output, dense)).toBeGreaterThan(1e-2);
    tf.dispose([dense, logits, output, aux.loadBalance, aux.zLoss, pTop, want, r.gates, r.mask, r.indices, r.probs, r.logits]);
  });
});

describe('MoE FFN arguments', () => {
  it('names the routing gates when their shape does not match the experts', () => {
    const r = hashRoute(tokenIds, 3);
    expect(() => moeFfn(h as unknown as tf.Tensor2D, experts, r)).toThrow(/routing gates.*expected \[16, 4\], got \[16, 3\]/);
    tf.dispose([r.gates, r.mask, r.indices, r.probs, r.logits]);
  });
});
