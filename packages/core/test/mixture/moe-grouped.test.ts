/**
 * A mixture's experts with their products grouped (`BamGemmSegments`, ops/segment-matmul.ts;
 * mixture/moe-ffn.ts) against the same experts run one by one: the products per segment against
 * `tf.matMul` of the segment alone and its own gradient, bit for bit; the MoE FFN's output and
 * gradients under every router; a whole model's loss and gradients. Needs OpenBLAS (the grouped
 * kernels run on it): without it the file is skipped and named in the run's last line, and under
 * CI=true it fails with the install command.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { expertChoiceRoute, hashRoute, moeFfn, routerLogits, topKRoute, type ExpertFn, type Routing } from '../../src/mixture/index.ts';
import { computeLossAndGrads, createModel, disposeModel, parseModelConfig, swiglu, type FfnWeights, type ModelConfigInput } from '../../src/model/index.ts';
import { blasActive, blasStatus, enableBlas, segmentLinear, setOpsSettings } from '../../src/ops/index.ts';
import { variantConfig, type Variant } from '../model/variants.ts';
import { randn } from './helpers.ts';
import { needs } from '../../../../tools/test/components.ts';

// Skipped without openblas (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasOpenBlas = await needs('openblas');

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
  if (hasOpenBlas && !blasActive()) throw new Error(`OpenBLAS is not active: ${blasStatus().detail}`);
});
afterAll(() => {
  setOpsSettings({ moeProducts: 'grouped' });
  enableBlas();
});

const bits = (t: tf.Tensor) => Buffer.from(t.dataSync().slice().buffer);

/** Under `moeProducts` = which, f's result read out (tensors disposed). */
function under<T>(which: 'grouped' | 'per-expert', f: () => T): T {
  const prev = setOpsSettings({ moeProducts: which });
  try {
    return f();
  } finally {
    setOpsSettings(prev);
  }
}

describe.runIf(hasOpenBlas)('segmentLinear', () => {
  const counts = [5, 0, 130, 3, 70];
  const [K, N] = [24, 40];
  const M = counts.reduce((p, c) => p + c, 0);

  it("gives each segment tf.matMul's bits, forward and backward, with an empty segment's weight gradient zero", () => {
    const x = randn([M, K], 1) as tf.Tensor2D;
    const ws = counts.map((_, s) => randn([K, N], 10 + s, 0.3) as tf.Tensor2D);
    const dy = randn([M, N], 2) as tf.Tensor2D;
    const grouped = tf.grads((xx: tf.Tensor, ...w: tf.Tensor[]) => tf.sum(tf.mul(segmentLinear(xx as tf.Tensor2D, w as tf.Tensor2D[], counts), dy)));
    const [dx, ...dws] = grouped([x, ...ws]);
    const y = segmentLinear(x, ws, counts);
    expect(y.shape).toEqual([M, N]);
    let row = 0;
    counts.forEach((m, s) => {
      const [xs, dys, ys, dxs] = [x, dy, y, dx].map((t) => tf.slice(t, [row, 0], [m, -1]) as tf.Tensor2D);
      const [refX, refW] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), dys)))([xs, ws[s]]);
      expect(bits(ys).equals(bits(tf.matMul(xs, ws[s]))), `segment ${s} values`).toBe(true);
      expect(bits(dxs).equals(bits(refX)), `segment ${s} ∂x`).toBe(true);
      if (m > 0) expect(bits(dws[s]).equals(bits(refW)), `segment ${s} ∂W`).toBe(true);
      else expect(Array.from(dws[s].dataSync()).every((v) => v === 0), `empty segment ${s} ∂W`).toBe(true);
      row += m;
    });
    tf.dispose([x, dy, y, dx, ...ws, ...dws]);
  });

  it('gives the same bits with 1 and 2 threads', () => {
    const x = randn([M, K], 3) as tf.Tensor2D;
    const ws = counts.map((_, s) => randn([K, N], 20 + s, 0.3) as tf.Tensor2D);
    const run = (threads: number) => {
      enableBlas({ threads });
      const [dx, ...dws] = tf.grads((xx: tf.Tensor, ...w: tf.Tensor[]) => tf.sum(tf.square(segmentLinear(xx as tf.Tensor2D, w as tf.Tensor2D[], counts))))([x, ...ws]);
      const out = Buffer.concat([dx, ...dws].map(bits));
      tf.dispose([dx, ...dws]);
      return out;
    };
    expect(run(2).equals(run(1))).toBe(true);
    enableBlas();
    tf.dispose([x, ...ws]);
  });

  it('names row counts that do not cover the rows, and weights of the wrong shape', () => {
    const x = tf.zeros([6, K]) as tf.Tensor2D;
    const w = tf.zeros([K, N]) as tf.Tensor2D;
    expect(() => segmentLinear(x, [w, w], [2, 3])).toThrow(/segment row counts \[2, 3\] must be whole numbers summing to a's 6 rows/);
    const bad = tf.zeros([K + 1, N]) as tf.Tensor2D;
    expect(() => segmentLinear(x, [w, bad], [2, 4])).toThrow(/gemmSegments operands b/);
    tf.dispose([x, w, bad]);
  });
});

describe.runIf(hasOpenBlas)('the MoE FFN with grouped expert products', () => {
  const [N, D, F, E] = [96, 32, 48, 4];
  const tokenIds = Array.from({ length: N }, (_, i) => (i * 37) % 101);
  // Equal bits where each token's output sums at most two experts; ≥ 3 may add in another order.
  const routes: Array<[string, (l: tf.Tensor2D) => Routing, 'bits' | number]> = [
    ['top-1', (l) => topKRoute(l, { k: 1, normalize: 'before' }), 'bits'],
    ['top-2 renormalised', (l) => topKRoute(l, { k: 2, normalize: 'after' }), 'bits'],
    ['hash', () => hashRoute(tokenIds, E), 'bits'],
    ['top-3', (l) => topKRoute(l, { k: 3, normalize: 'before' }), 1e-6],
    ['expert-choice', (l) => expertChoiceRoute(l, { capacityFactor: 1.5 }), 1e-6],
    ['top-2, expert 3 unused', (l) => topKRoute(tf.add(l, tf.tensor1d([5, 4, -5, -50])) as tf.Tensor2D, { k: 2, normalize: 'after' }), 'bits'],
  ];
  let h: tf.Variable;
  let wRouter: tf.Variable;
  let target: tf.Tensor;
  let weights: FfnWeights[];
  let vars: tf.Variable[];
  beforeAll(() => {
    h = tf.variable(randn([N, D], 1), true, 'grouped.h');
    wRouter = tf.variable(randn([D, E], 2, 0.5), true, 'grouped.router');
    target = randn([N, D], 3);
    weights = Array.from({ length: E }, (_, e) => ({
      w_gate: tf.variable(randn([D, F], 10 + 3 * e, 0.3), true, `grouped.e${e}.w_gate`) as unknown as tf.Tensor2D,
      w_up: tf.variable(randn([D, F], 11 + 3 * e, 0.3), true, `grouped.e${e}.w_up`) as unknown as tf.Tensor2D,
      w_down: tf.variable(randn([F, D], 12 + 3 * e, 0.3), true, `grouped.e${e}.w_down`) as unknown as tf.Tensor2D,
    }));
    vars = [h, wRouter, ...weights.flatMap((w) => [w.w_gate, w.w_up, w.w_down] as unknown as tf.Variable[])];
  });

  for (const [name, route, tol] of routes) {
    it(`gives the per-expert path's output and gradients under ${name} routing (${tol === 'bits' ? 'bit for bit' : `within ${tol}`})`, () => {
      const experts: ExpertFn[] = weights.map((w) => (x: tf.Tensor2D) => swiglu(x, w));
      const run = (which: 'grouped' | 'per-expert') =>
        under(which, () => {
          let out = Buffer.alloc(0);
          const { value, grads } = tf.variableGrads(() =>
            tf.tidy(() => {
              const r = route(routerLogits(h as unknown as tf.Tensor2D, wRouter as unknown as tf.Tensor2D));
              const { output, aux } = moeFfn(h as unknown as tf.Tensor2D, experts, r, weights);
              out = bits(output);
              return tf.addN([tf.sum(tf.mul(output, target)), aux.loadBalance, aux.zLoss]) as tf.Scalar;
            }),
            vars,
          );
          const g = new Map(Object.entries(grads).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
          tf.dispose([value, ...Object.values(grads)]);
          return { out, g };
        });
      const before = tf.memory().numTensors;
      const [grouped, perExpert] = [run('grouped'), run('per-expert')];
      expect(tf.memory().numTensors).toBe(before);
      expect(grouped.out.equals(perExpert.out)).toBe(true);
      expect([...grouped.g.keys()].sort()).toEqual([...perExpert.g.keys()].sort());
      if (name.includes('unused')) expect(grouped.g.has((weights[3].w_gate as unknown as tf.Variable).name)).toBe(false);
      for (const [k, ref] of perExpert.g) {
        const got = grouped.g.get(k)!;
        if (tol === 'bits') {
          expect(Buffer.from(got.buffer).equals(Buffer.from(ref.buffer)), k).toBe(true);
        } else {
          const scale = Math.max(1, ...Array.from(ref, Math.abs));
          const worst = Math.max(...Array.from(ref, (v, i) => Math.abs(v - got[i])));
          expect(worst / scale, k).toBeLessThan(tol);
        }
      }
    });
  }

  it('runs one BamGemmSegments kernel per projection and direction instead of products per expert', async () => {
    const experts: ExpertFn[] = weights.map((w) => (x: tf.Tensor2D) => swiglu(x, w));
    // Kernel names read out at once: tfjs reuses one profile object for every tf.profile call.
    const kernels = async (which: 'grouped' | 'per-expert') =>
      (
        await under(which, () =>
        tf.profile(() => {
          const { value, grads } = tf.variableGrads(() =>
            tf.tidy(() => {
              const r = topKRoute(routerLogits(h as unknown as tf.Tensor2D, wRouter as unknown as tf.Tensor2D), { k: 2, normalize: 'after' });
              const { output } = moeFfn(h as unknown as tf.Tensor2D, experts, r, weights);
              return tf.sum(tf.mul(output, target)) as tf.Scalar;
            }),
            vars,
          );
          tf.dispose([value, ...Object.values(grads)]);
        }),
        )
      ).kernels.map((k) => k.name);
    const grouped = await kernels('grouped');
    const perExpert = await kernels('per-expert');
    const count = (names: string[], name: string) => names.filter((k) => k === name).length;
    // forward: gate, up, down; backward: ∂x and ∂W of each.
    expect(count(grouped, 'BamGemmSegments')).toBe(9);
    expect(count(grouped, 'BatchMatMul')).toBe(3); // the router's logits and their two gradients
    expect(count(perExpert, 'BamGemmSegments')).toBe(0);
    expect(grouped.length).toBeLessThan(0.6 * perExpert.length); // 169 against 309 kernels here
  });

  afterAll(() => tf.dispose([h, wRouter, target, ...weights.flatMap((w) => [w.w_gate, w.w_up, w.w_down])]));
});

describe.runIf(hasOpenBlas)('a mixture model with grouped expert products', () => {
  const BASE: ModelConfigInput = { vocabSize: 96, dModel: 32, nHeads: 4, nLayers: 2, dFF: 48, maxSeqLen: 16, initStd: 0.2 };
  for (const variant of ['btx', 'bam-full', 'btx-top3-6'] as Variant[]) {
    const exact = variant !== 'btx-top3-6';
    it(`${variant}: the per-expert path's loss and gradients (${exact ? 'bit for bit' : 'within 1e-6'})`, () => {
      const model = createModel(parseModelConfig(variantConfig(BASE, variant) as ModelConfigInput), 11);
      const tokens = Int32Array.from({ length: 4 * 17 }, (_, i) => (i * 29 + 5) % 96);
      const inputs = tf.tensor2d(tokens.filter((_, i) => i % 17 !== 16), [4, 16], 'int32');
      const targets = tf.tensor2d(tokens.filter((_, i) => i % 17 !== 0), [4, 16], 'int32');
      const run = (which: 'grouped' | 'per-expert') =>
        under(which, () => {
          const r = computeLossAndGrads(model, inputs, targets);
          const out = { loss: r.loss.dataSync()[0], grads: new Map([...r.grads].map(([n, g]) => [n, g.dataSync().slice() as Float32Array])) };
          tf.dispose([r.loss, r.nll, r.loadBalance, r.zLoss, ...r.grads.values()]);
          return out;
        });
      const [grouped, perExpert] = [run('grouped'), run('per-expert')];
      expect(grouped.grads.size).toBe(perExpert.grads.size);
      if (exact) expect(grouped.loss).toBe(perExpert.loss);
      else expect(Math.abs(grouped.loss - perExpert.loss)).toBeLessThan(1e-6 * Math.abs(perExpert.loss));
      for (const [name, ref] of perExpert.grads) {
        const got = grouped.grads.get(name)!;
        if (exact) {
          expect(Buffer.from(got.buffer).equals(Buffer.from(ref.buffer)), name).toBe(true);
        } else {
          const scale = Math.max(1e-3, ...Array.from(ref, Math.abs));
          expect(Math.max(...Array.from(ref, (v, i) => Math.abs(v - got[i]))) / scale, name).toBeLessThan(1e-6);
        }
      }
      tf.dispose([inputs, targets]);
      disposeModel(model);
    });
  }
});
