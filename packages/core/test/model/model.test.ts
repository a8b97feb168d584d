import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { ShapeError } from '../../src/errors.ts';
import { computeLoss, computeLossAndGrads, tokenNll } from '../../src/model/loss.ts';
import { countParams } from '../../src/model/count.ts';
import { createModel, disposeModel, forward, modelFromTensors, type BamModel } from '../../src/model/model.ts';
import { paramSpecs } from '../../src/model/params.ts';
import { setOpsSettings } from '../../src/ops/index.ts';
import type { ModelConfigInput } from '../../src/model/config.ts';
import { maxAbsDiff, tinyConfig, tokens } from './helpers.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

const models: BamModel[] = [];
function track(m: BamModel): BamModel {
  models.push(m);
  return m;
}
afterEach(() => {
  for (const m of models.splice(0)) disposeModel(m);
});

function disposeLoss(r: { loss: tf.Tensor; nll: tf.Tensor; loadBalance: tf.Tensor; zLoss: tf.Tensor; grads?: Map<string, tf.Tensor> }) {
  tf.dispose([r.loss, r.nll, r.loadBalance, r.zLoss, ...(r.grads ? r.grads.values() : [])]);
}

describe('createModel', () => {
  it('creates exactly the parameters named in docs/internals.md, with their shapes', () => {
    const m = track(createModel(tinyConfig({ nKvHeads: 1 }), 1));
    const shapes = Object.fromEntries([...m.params].map(([n, v]) => [n, v.shape]));
    expect(shapes).toEqual({
      'embed.weight': [64, 16],
      'layers.0.norm.scale': [16],
      'layers.0.attn.wq': [16, 16],
      'layers.0.attn.wk': [16, 8],
      'layers.0.attn.wv': [16, 8],
      'layers.0.attn.wo': [16, 16],
      'layers.0.ffn.w_gate': [16, 32],
      'layers.0.ffn.w_up': [16, 32],
      'layers.0.ffn.w_down': [32, 16],
      'layers.1.norm.scale': [16],
      'layers.1.attn.wq': [16, 16],
      'layers.1.attn.wk': [16, 8],
      'layers.1.attn.wv': [16, 8],
      'layers.1.attn.wo': [16, 16],
      'layers.1.ffn.w_gate': [16, 32],
      'layers.1.ffn.w_up': [16, 32],
      'layers.1.ffn.w_down': [32, 16],
      'final_norm.scale': [16],
      'lm_head.weight': [16, 64],
    });
  });

  it('names the mixture parameters as docs/internals.md does (BAM-KV-shared, shared routers)', () => {
    const names = paramSpecs(
      tinyConfig({
        nLayers: 1,
        attention: { kind: 'moa', numExperts: 2, kvShared: true },
        ffn: { kind: 'moe', numExperts: 2 },
        routing: { shareAcrossLayers: true },
      }),
    ).map((s) => s.name);
    expect(names).toEqual([
      'embed.weight',
      'layers.0.norm.scale',
      'layers.0.attn.wk',
      'layers.0.attn.wv',
      'layers.0.attn.experts.0.wq',
      'layers.0.attn.experts.0.wo',
      'layers.0.attn.experts.1.wq',
      'layers.0.attn.experts.1.wo',
      'layers.0.ffn.experts.0.w_gate',
      'layers.0.ffn.experts.0.w_up',
      'layers.0.ffn.experts.0.w_down',
      'layers.0.ffn.experts.1.w_gate',
      'layers.0.ffn.experts.1.w_up',
      'layers.0.ffn.experts.1.w_down',
      'routers.ffn',
      'routers.attn',
      'final_norm.scale',
      'lm_head.weight',
    ]);
  });

  it('is deterministic given the seed, and different seeds give different weights', async () => {
    const cfg = tinyConfig();
    const a = track(createModel(cfg, 7));
    const b = track(createModel(cfg, 7));
    const c = track(createModel(cfg, 8));
    for (const name of ['embed.weight', 'layers.1.attn.wk', 'lm_head.weight']) {
      expect(await maxAbsDiff(a.params.get(name)!, b.params.get(name)!)).toBe(0);
      expect(await maxAbsDiff(a.params.get(name)!, c.params.get(name)!)).toBeGreaterThan(1e-3);
    }
  });

  it('initialises norms to one, matrices with std initStd and residual outputs with initStd/√(2L)', async () => {
    const m = track(createModel(tinyConfig({ dModel: 64, nHeads: 4, dFF: 256, initStd: 0.05 }), 3));
    expect(Array.from(await m.params.get('layers.0.norm.scale')!.data()).every((x) => x === 1)).toBe(true);
    const std = async (n: string) => {
      const v = await m.params.get(n)!.data();
      let s = 0;
      for (const x of v) s += x * x;
      return Math.sqrt(s / v.length);
    };
    expect(await std('layers.0.ffn.w_gate')).toBeCloseTo(0.05, 2);
    expect(await std('layers.0.ffn.w_down')).toBeCloseTo(0.05 / 2, 2);
  });

  it('ties the LM head to the embedding when tieEmbeddings is set', () => {
    const m = track(createModel(tinyConfig({ tieEmbeddings: true }), 1));
    expect(m.params.has('lm_head.weight')).toBe(false);
    expect(countParams(m).total).toBe(countParams(tinyConfig()).total - 16 * 64);
  });
});

describe('forward', () => {
  it('returns logits [B, T, V] and zero router losses for a dense model', async () => {
    const m = track(createModel(tinyConfig(), 1));
    const x = tokens(3, 5, 64);
    const r = forward(m, x);
    expect(r.logits.shape).toEqual([3, 5, 64]);
    expect(await r.aux.loadBalance.data()).toEqual(new Float32Array([0]));
    expect(await r.aux.zLoss.data()).toEqual(new Float32Array([0]));
    tf.dispose([r.logits, r.aux.loadBalance, r.aux.zLoss, x]);
  });

  it('starts near the uniform predictor: NLL ≈ ln V at initialisation', async () => {
    const m = track(createModel(tinyConfig(), 2));
    const x = tokens(4, 8, 64, 3);
    const y = tokens(4, 8, 64, 4);
    const r = computeLoss(m, x, y);
    expect((await r.nll.data())[0]).toBeCloseTo(Math.log(64), 1);
    expect((await r.loss.data())[0]).toBe((await r.nll.data())[0]);
    disposeLoss(r);
    tf.dispose([x, y]);
  });

  it('is causal end to end: changing the last token leaves earlier logits unchanged', async () => {
    const m = track(createModel(tinyConfig(), 3));
    const a = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], 'int32');
    const b = tf.tensor2d([[1, 2, 3, 4, 5, 60]], [1, 6], 'int32');
    const la = forward(m, a).logits;
    const lb = forward(m, b).logits;
    expect(await maxAbsDiff(tf.slice(la, [0, 0, 0], [1, 5, 64]), tf.slice(lb, [0, 0, 0], [1, 5, 64]))).toBeLessThan(1e-6);
    expect(await maxAbsDiff(tf.slice(la, [0, 5, 0], [1, 1, 64]), tf.slice(lb, [0, 5, 0], [1, 1, 64]))).toBeGreaterThan(1e-4);
  });

  it('does not leak tensors across a forward and across a gradient step', () => {
    const m = track(createModel(tinyConfig({ nKvHeads: 1 }), 4));
    const x = tokens(2, 8, 64, 5);
    const y = tokens(2, 8, 64, 6);
    const before = tf.memory().numTensors;
    const f = forward(m, x);
    tf.dispose([f.logits, f.aux.loadBalance, f.aux.zLoss]);
    expect(tf.memory().numTensors).toBe(before);
    const r = computeLossAndGrads(m, x, y);
    expect(r.grads.size).toBe(m.params.size);
    tf.tidy(() => {
      for (const [name, g] of r.grads) m.params.get(name)!.assign(tf.sub(m.params.get(name)!, tf.mul(g, 0.1)));
    });
    disposeLoss(r);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });

  it('rejects sequences longer than maxSeqLen and float tokens, naming the fix', () => {
    const m = track(createModel(tinyConfig(), 5));
    expect(() => forward(m, tf.zeros([1, 9], 'int32') as tf.Tensor2D)).toThrow(/9 positions but the model's maxSeqLen is 8/);
    expect(() => forward(m, tf.zeros([1, 4]) as tf.Tensor2D)).toThrow(/must be int32/);
    expect(() => forward(m, tf.zeros([4], 'int32') as unknown as tf.Tensor2D)).toThrow(ShapeError);
  });
});

describe('loss', () => {
  it('NLL is logsumexp − logit of the target, and ignores negative targets', async () => {
    const logits = tf.tensor3d([[[1, 2, 3], [0, 0, 0]]]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const both = await tokenNll(logits, tf.tensor2d([[2, 1]], [1, 2], 'int32')).data();
    expect(both[0]).toBeCloseTo((lse - 3 + Math.log(3)) / 2, 5);
    const first = await tokenNll(logits, tf.tensor2d([[0, -1]], [1, 2], 'int32')).data();
    expect(first[0]).toBeCloseTo(lse - 1, 5);
  });

  it("NLL's gradient equals the gradient of TF.js's softmax cross-entropy, with ignored positions getting none", async () => {
    const logits = tf.randomNormal([2, 3, 5], 0, 2, 'float32', 40) as tf.Tensor3D;
    const targets = tf.tensor2d([[4, 0, -1], [2, 2, 1]], [2, 3], 'int32');
    const g = tf.grad((l: tf.Tensor) => tokenNll(l as tf.Tensor3D, targets))(logits);
    const onehot = tf.tensor2d([[0, 0, 0, 0, 1], [1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 1, 0, 0, 0]]);
    const keep = tf.tensor1d([0, 1, 3, 4, 5], 'int32');
    const ref = tf.grad((l: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, tf.gather(tf.reshape(l, [6, 5]), keep)))(logits);
    expect(await maxAbsDiff(g, ref)).toBeLessThan(1e-6);
    expect(Array.from(await tf.slice(g, [0, 2, 0], [1, 1, 5]).data()).map(Math.abs)).toEqual([0, 0, 0, 0, 0]);
    const value = (await tokenNll(logits, targets).data())[0];
    expect(value).toBeCloseTo((await tf.losses.softmaxCrossEntropy(onehot, tf.gather(tf.reshape(logits, [6, 5]), keep)).data())[0], 5);
  });

  it('a dense parallel block gives the same loss and gradients with its five input products fused into one', async () => {
    const model = track(createModel(tinyConfig({ nKvHeads: 1 }), 12));
    const x = tokens(2, 8, 64, 5);
    const y = tokens(2, 8, 64, 6);
    const run = (parallelProjections: 'fused' | 'separate') => {
      const prev = setOpsSettings({ parallelProjections });
      const r = computeLossAndGrads(model, x, y);
      setOpsSettings(prev);
      return r;
    };
    const fused = run('fused');
    const separate = run('separate');
    expect(Math.abs(fused.loss.dataSync()[0] - separate.loss.dataSync()[0])).toBeLessThan(1e-6);
    expect(fused.grads.size).toBe(separate.grads.size);
    for (const [name, g] of separate.grads) expect(await maxAbsDiff(fused.grads.get(name)!, g), name).toBeLessThan(1e-6);
    disposeLoss(fused);
    disposeLoss(separate);
    tf.dispose([x, y]);
  });

  const fdCases: [string, Partial<ModelConfigInput>, string[]][] = [
    [
      'parallel block, GQA, untied head',
      { nKvHeads: 1 },
      ['embed.weight', 'layers.0.norm.scale', 'layers.0.attn.wq', 'layers.0.attn.wk', 'layers.1.attn.wv', 'layers.1.attn.wo', 'layers.0.ffn.w_gate', 'layers.1.ffn.w_down', 'final_norm.scale', 'lm_head.weight'],
    ],
    [
      'sequential block, tied embeddings',
      { block: 'sequential', tieEmbeddings: true },
      ['embed.weight', 'layers.0.norm1.scale', 'layers.1.norm2.scale', 'layers.0.attn.wk', 'layers.1.ffn.w_up', 'final_norm.scale'],
    ],
  ];
  for (const [label, overrides, names] of fdCases) {
    it(`gradients agree with central finite differences along random directions of several weights (${label})`, async () => {
      const cfg = tinyConfig({ vocabSize: 32, dModel: 8, nHeads: 2, nLayers: 2, dFF: 16, maxSeqLen: 6, initStd: 0.3, ...overrides });
      const m = track(createModel(cfg, 11));
      const x = tokens(2, 6, 32, 12);
      const y = tokens(2, 6, 32, 13);
      const r = computeLossAndGrads(m, x, y);
      const lossAt = async () => {
        const l = computeLoss(m, x, y);
        const v = (await l.loss.data())[0];
        disposeLoss(l);
        return v;
      };
      for (const [i, name] of names.entries()) {
        const p = m.params.get(name)!;
        const orig = p.clone();
        const dir = tf.randomNormal(p.shape, 0, 1, 'float32', 100 + i);
        const analytic = (await tf.sum(tf.mul(r.grads.get(name)!, dir)).data())[0];
        // A small step: the loss is strongly curved along the embedding (a norm follows it), and
        // float32 still resolves the difference at this size.
        const eps = 1e-3;
        p.assign(tf.add(orig, tf.mul(dir, eps)));
        const up = await lossAt();
        p.assign(tf.sub(orig, tf.mul(dir, eps)));
        const down = await lossAt();
        p.assign(orig);
        const numeric = (up - down) / (2 * eps);
        expect(Math.abs(analytic - numeric), `${name}: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(1e-2 * Math.max(Math.abs(numeric), 0.05));
        tf.dispose([orig, dir]);
      }
      disposeLoss(r);
      tf.dispose([x, y]);
    });
  }

  it('parallel and sequential blocks give different logits but both lower the loss under plain SGD', async () => {
    const x = tokens(2, 8, 64, 20);
    const y = tf.tensor2d(Array.from({ length: 16 }, (_, i) => (i * 5) % 64), [2, 8], 'int32');
    const losses: Record<string, number[]> = {};
    const logits: Record<string, tf.Tensor> = {};
    for (const block of ['parallel', 'sequential'] as const) {
      const m = track(createModel(tinyConfig({ block, initStd: 0.1 }), 21));
      logits[block] = forward(m, x).logits;
      losses[block] = [];
      for (let step = 0; step < 8; step++) {
        const r = computeLossAndGrads(m, x, y);
        losses[block].push((await r.loss.data())[0]);
        tf.tidy(() => {
          for (const [name, g] of r.grads) m.params.get(name)!.assign(tf.sub(m.params.get(name)!, tf.mul(g, 0.5)));
        });
        disposeLoss(r);
      }
    }
    expect(await maxAbsDiff(logits.parallel, logits.sequential)).toBeGreaterThan(1e-3);
    for (const block of ['parallel', 'sequential']) {
      const l = losses[block];
      expect(l[l.length - 1], `${block}: ${l.map((v) => v.toFixed(3)).join(' ')}`).toBeLessThan(l[0] / 2);
    }
    tf.dispose([x, y, ...Object.values(logits)]);
  });
});

describe('modelFromTensors and countParams', () => {
  it('rebuilds a model with identical logits and checks names and shapes', async () => {
    const cfg = tinyConfig();
    const a = track(createModel(cfg, 30));
    const copy = new Map<string, tf.Tensor>([...a.params].map(([n, v]) => [n, v.clone()]));
    const b = track(modelFromTensors(cfg, copy));
    const x = tokens(1, 8, 64);
    expect(await maxAbsDiff(forward(a, x).logits, forward(b, x).logits)).toBe(0);
    copy.delete('final_norm.scale');
    expect(() => modelFromTensors(cfg, copy)).toThrow(/missing final_norm.scale/);
    copy.set('final_norm.scale', tf.ones([17]));
    expect(() => modelFromTensors(cfg, copy)).toThrow(/shape mismatch for 'final_norm.scale'/);
  });

  it('counts the actual parameters of a model: V·D·2 + L·(D + 4D² + 3DF) + D', () => {
    const m = track(createModel(tinyConfig(), 31));
    const expected = 64 * 16 * 2 + 2 * (16 + 4 * 16 * 16 + 3 * 16 * 32) + 16;
    expect(countParams(m)).toEqual({ total: expected, active: expected });
  });
});
