import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, disposeModel, ffnLayer, forward, headDim, modelFromTensors, paramCounts, parseParamName, ropeTables, swiglu, type BamModel, type LayerContext } from '@bam/core';
import { configHash } from '@bam/utils';
import { buildMixture, createStageContext, KV_SHARED_INIT, mixStageInputs, randomNormalTensor, recipeConfig, recipeIds, step0Gap, type DenseInput, type DenseSource, type F32Tensor, type MixtureCheckpoint } from '../src/index.ts';
import { initSource, maxAbsDiff, microPreset, noiseSource, tempDir, tinyDense, useWasm } from './helpers.ts';

const N = 4;
const B = 2;
const T = 8;
const dense = tinyDense();
let tokens: tf.Tensor2D;
const models: BamModel[] = [];

beforeAll(async () => {
  await useWasm();
  tokens = tf.tensor2d(Int32Array.from({ length: B * T }, (_, i) => (i * 29 + 3) % 64), [B, T], 'int32');
});

afterAll(() => {
  models.forEach(disposeModel);
  tokens.dispose();
});

/** A model from a mixture checkpoint's tensors (kept for disposal in afterAll). */
function toModel(m: { config: MixtureCheckpoint['config']; tensors: Map<string, F32Tensor> }): BamModel {
  const ts = new Map([...m.tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
  const model = modelFromTensors(m.config, ts);
  ts.forEach((t) => t.dispose());
  models.push(model);
  return model;
}

function logitsOf(model: BamModel): tf.Tensor3D {
  const r = forward(model, tokens);
  r.aux.loadBalance.dispose();
  r.aux.zLoss.dispose();
  return r.logits;
}

/** N copies of the same dense model as N sources (the identical-experts invariant). */
function identicalSources(seed = 1): DenseSource[] {
  const one = initSource(dense, seed);
  return Array.from({ length: N }, (_, i) => ({ ...one, name: `copy-${i}` }));
}

const at = (m: MixtureCheckpoint, name: string): F32Tensor => {
  const t = m.tensors.get(name);
  if (!t) throw new Error(`no tensor ${name}`);
  return t;
};

describe('recipes on N copies of one dense model', () => {
  const renormalised = { ffnRouter: { kind: 'topk', k: 2, normalize: 'after' } };
  for (const id of ['btx', 'bam-full', 'bam-kv-shared', 'bam-moa-top1', 'bam-moa-top2']) {
    it(`${id} with a renormalised top-2 FFN router reproduces the dense logits`, () => {
      const sources = identicalSources();
      const denseModel = toModel({ config: dense, tensors: sources[0].tensors as Map<string, F32Tensor> });
      const mixture = toModel(buildMixture(id, sources, renormalised));
      const before = tf.memory().numTensors;
      const a = logitsOf(denseModel);
      const b = logitsOf(mixture);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
      // The logits are not trivially small: the comparison has something to compare.
      expect(Math.max(...Array.from(a.dataSync(), Math.abs))).toBeGreaterThan(1e-3);
      tf.dispose([a, b]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const id of ['btx', 'bam-full', 'bam-kv-shared']) {
    it(`${id} of identical experts reproduces the dense logits whatever the routers' weights (routers redrawn at std 3)`, () => {
      const sources = identicalSources(2);
      const denseModel = toModel({ config: dense, tensors: sources[0].tensors as Map<string, F32Tensor> });
      const m = buildMixture(id, sources, renormalised);
      let routers = 0;
      for (const [name, t] of m.tensors) {
        if (parseParamName(name).part !== 'router') continue;
        m.tensors.set(name, randomNormalTensor(name, t.shape, 3, 100 + routers++));
      }
      expect(routers).toBe(id === 'btx' ? 2 : 4);
      const a = logitsOf(denseModel);
      const b = logitsOf(toModel(m));
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    });
  }

  it("the mix stage's step-0 gap to the seed is zero for a renormalised mixture of copies and over a hundred times larger under the paper's top-1", async () => {
    const ctx = createStageContext(microPreset(), tempDir('gap'));
    const one = noiseSource(ctx.config, 4);
    const copies = Array.from({ length: N }, (_, i) => ({ ...one, name: `copy-${i}` }));
    const seed = { config: ctx.config, tensors: one.tensors };
    const rows = { tokenizer: ctx.tokenizer, batchSize: ctx.preset.batchSize, seqLen: ctx.preset.seqLen };
    const same = await step0Gap(rows, seed, buildMixture('btx', copies, renormalised));
    expect(same.klToSeed).toBeLessThan(1e-6);
    expect(same.argmaxAgreement).toBe(1);
    const paper = await step0Gap(rows, seed, buildMixture('btx', copies));
    expect(paper.klToSeed).toBeGreaterThan(1e-4);
    expect(paper.argmaxAgreement).toBeLessThan(1);
    expect(paper.batches).toBe(2);
  });

  it("btx with the paper's un-renormalised top-1 gives FFN output p_top(h) · FFN(h)", () => {
    const sources = identicalSources();
    const m = buildMixture('btx', sources);
    expect(m.config.ffn).toEqual({ kind: 'moe', numExperts: N, router: { kind: 'topk', k: 1, normalize: 'before' } });
    const model = toModel(m);
    const ctx: LayerContext = {
      config: m.config,
      layer: 0,
      dims: { batch: B, seqLen: T, nHeads: dense.nHeads, nKvHeads: dense.nKvHeads, headDim: headDim(dense) },
      rope: ropeTables(T, headDim(dense), dense.ropeBase),
      tokens,
      params: model.params,
      collectStats: false,
    };
    const [got, want] = tf.tidy(() => {
      const h = tf.randomNormal([B * T, dense.dModel], 0, 1, 'float32', 5) as tf.Tensor2D; // [N, D]
      const out = ffnLayer(h, ctx).output; // [N, D]
      const p = tf.softmax(tf.matMul(h, model.params.get('layers.0.ffn.router')!)); // [N, E]
      const pTop = tf.max(p, 1, true); // [N, 1]
      const w = (n: string) => tf.tensor2d(sources[0].tensors.get(`layers.0.ffn.${n}`)!.data as Float32Array, sources[0].tensors.get(`layers.0.ffn.${n}`)!.shape as [number, number]);
      const ref = tf.mul(pTop, swiglu(h, { w_gate: w('w_gate'), w_up: w('w_up'), w_down: w('w_down') })); // [N, D]
      return [out, ref];
    });
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    // A random router at init gives p_top ≈ 1/N: the mixture's FFN is a scaled-down dense FFN.
    const pTop = tf.tidy(() => tf.max(tf.softmax(tf.matMul(tf.randomNormal([B * T, dense.dModel], 0, 1, 'float32', 5), model.params.get('layers.0.ffn.router')!)), 1));
    const p = Array.from(pTop.dataSync());
    pTop.dispose();
    expect(Math.min(...p)).toBeGreaterThan(0.15);
    expect(Math.max(...p)).toBeLessThan(0.4);
    tf.dispose([got, want]);
  });
});

describe("the mixture's start (recipe option start)", () => {
  for (const id of ['btx', 'bam-full', 'bam-kv-shared', 'sparse-upcycle']) {
    it(`${id} of N copies of the seed gives the seed's logits at step 0 with start 'renormalised', and not without it`, () => {
      const sources = identicalSources(3);
      const seed = toModel({ config: dense, tensors: sources[0].tensors as Map<string, F32Tensor> });
      const m = buildMixture(id, sources, { start: 'renormalised' });
      expect(m.config.ffn).toEqual({ kind: 'moe', numExperts: N, router: { kind: 'topk', k: 1, normalize: 'straight-through' } });
      const [a, b, c] = [logitsOf(seed), logitsOf(toModel(m)), logitsOf(toModel(buildMixture(id, sources)))];
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
      tf.dispose([a, b, c]);
    });
  }

  it("'gate-compensated' multiplies each FFN expert's w_down by E/k and nothing else, and gives the seed's logits when the router is uniform", () => {
    const sources = identicalSources(3);
    const plain = buildMixture('btx', sources);
    const comp = buildMixture('btx', sources, { start: 'gate-compensated' });
    expect(comp.config).toEqual(plain.config);
    expect(comp.meta.notes.gateCompensation).toMatch(/E\/k = 4/);
    for (const [name, t] of plain.tensors) {
      const key = parseParamName(name);
      const factor = key.part === 'ffn' && key.weight === 'w_down' ? N : 1;
      expect(Array.from(at(comp, name).data)).toEqual(Array.from(t.data, (x) => Math.fround(x * factor)));
    }
    // A near-zero router makes every gate 1/E: the compensation then undoes it exactly.
    const seed = toModel({ config: dense, tensors: sources[0].tensors as Map<string, F32Tensor> });
    const uniform = buildMixture('btx', sources, { start: 'gate-compensated', routerInit: { std: 1e-9 } });
    const [a, b] = [logitsOf(seed), logitsOf(toModel(uniform))];
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  it("'gate-compensated' brings a default-init mixture of copies much closer to the seed than the paper's start (FFN output E·p_top·FFN(h))", () => {
    const sources = identicalSources(3);
    const seed = toModel({ config: dense, tensors: sources[0].tensors as Map<string, F32Tensor> });
    const [a, paper, comp] = [logitsOf(seed), logitsOf(toModel(buildMixture('btx', sources))), logitsOf(toModel(buildMixture('btx', sources, { start: 'gate-compensated' })))];
    expect(maxAbsDiff(a, comp)).toBeLessThan(maxAbsDiff(a, paper) / 3);
    tf.dispose([a, paper, comp]);
  });

  it("refuses a start that does not apply to the FFN router, naming the router; 'paper' is the same as no start", () => {
    const sources = identicalSources(3);
    expect(() => buildMixture('btx', sources, { start: 'gate-compensated', ffnRouter: { kind: 'topk', k: 2, normalize: 'after' } })).toThrow(/gate-compensated.*top-2 'after'/);
    expect(() => buildMixture('btx', sources, { start: 'renormalised', ffnRouter: { kind: 'hash' } })).toThrow(/renormalised' needs a top-k FFN router, not 'hash'/);
    expect(() => buildMixture('btx', sources, { start: 'renormalized' })).toThrow(ConfigError);
    expect(recipeConfig('btx', dense, N, { start: 'paper' })).toEqual(recipeConfig('btx', dense, N));
    // btx-top3-6: E/k = 6/3.
    expect(buildMixture('btx-top3-6', sources, { start: 'gate-compensated' }).meta.notes.gateCompensation).toMatch(/= 2$/);
  });

  it('changes the mixture config hash (renormalised, loadBalance) or its tensors (gate-compensated), and thereby the mix stage hash; routerLrScale and mixtureSteps do not', () => {
    const sources = identicalSources(3);
    const hashOf = (o: Record<string, unknown>) => configHash(recipeConfig('btx', dense, N, o));
    const base = hashOf({});
    expect(hashOf({ start: 'renormalised' })).not.toBe(base);
    expect(hashOf({ loadBalance: 0.1 })).not.toBe(base);
    expect(recipeConfig('btx', dense, N, { loadBalance: 0.1 }).aux).toEqual({ loadBalance: 0.1, zLoss: 0.001 });
    expect(hashOf({ start: 'paper' })).toBe(base);
    const dense4: DenseInput[] = sources.map((s, i) => ({ domain: `d${i}`, outcome: { hash: 'h', dir: 'd', checkpointDir: 'c', reused: false, elapsedS: 0, result: { contentHash: `c${i}` } } as unknown as DenseInput['outcome'] }));
    const mixHash = (o: Record<string, unknown>) => configHash(mixStageInputs({ id: 'btx', options: o }, dense4));
    const hashes = [{}, { start: 'renormalised' }, { start: 'gate-compensated' }, { loadBalance: 0.1 }].map(mixHash);
    expect(new Set(hashes).size).toBe(hashes.length);
    // 'paper' is no option; the training-only options re-key train-mixture, not the mix (mixture-phase.test.ts).
    for (const o of [{ start: 'paper' }, { routerLrScale: 10 }, { mixtureSteps: 300 }]) expect(mixHash(o)).toBe(hashes[0]);
  });
});

describe('recipe tensors from N different dense models', () => {
  const sources = [0, 1, 2, 3].map((s) => noiseSource(dense, s + 10, ['code', 'law', 'math', 'seed'][s]));
  const mean = (name: string): Float32Array => {
    const parts = sources.map((s) => s.tensors.get(name)!.data);
    return Float32Array.from(parts[0], (_, i) => (parts[0][i] + parts[1][i] + parts[2][i] + parts[3][i]) / 4);
  };
  const ffn = (s: DenseSource, l: number, w: string) => s.tensors.get(`layers.${l}.ffn.${w}`)!.data;

  it('btx averages attention, embeddings, norms and head to the hand-computed mean, and copies each FFN as a fresh array', () => {
    const m = buildMixture('btx', sources);
    for (const name of ['embed.weight', 'layers.0.norm.scale', 'layers.1.attn.wq', 'layers.1.attn.wk', 'layers.0.attn.wv', 'layers.0.attn.wo', 'final_norm.scale', 'lm_head.weight']) {
      expect(at(m, name).data, name).toEqual(mean(name));
    }
    expect(at(m, 'layers.0.norm.scale').data[3]).toBe(Math.fround((sources[0].tensors.get('layers.0.norm.scale')!.data[3] + sources[1].tensors.get('layers.0.norm.scale')!.data[3] + sources[2].tensors.get('layers.0.norm.scale')!.data[3] + sources[3].tensors.get('layers.0.norm.scale')!.data[3]) / 4));
    for (let e = 0; e < N; e++) {
      for (const w of ['w_gate', 'w_up', 'w_down']) {
        const got = at(m, `layers.1.ffn.experts.${e}.${w}`).data;
        expect(got).toEqual(ffn(sources[e], 1, w));
        expect(got.buffer).not.toBe(ffn(sources[e], 1, w).buffer);
      }
    }
    expect(m.meta.layout).toEqual({ ffnExperts: [0, 1, 2, 3], attentionExperts: null, averageOver: [0, 1, 2, 3] });
    expect([...m.tensors.keys()].filter((n) => n.endsWith('router'))).toEqual(['layers.0.ffn.router', 'layers.1.ffn.router']);
  });

  it('bam-full gives expert e the attention of dense model e and averages the rest', () => {
    const m = buildMixture('bam-full', sources);
    for (let e = 0; e < N; e++) {
      for (const w of ['wq', 'wk', 'wv', 'wo']) expect(at(m, `layers.0.attn.experts.${e}.${w}`).data).toEqual(sources[e].tensors.get(`layers.0.attn.${w}`)!.data);
    }
    expect(m.config.attention).toEqual({ kind: 'moa', numExperts: N, kvShared: false, router: { kind: 'soft' } });
    expect(at(m, 'embed.weight').data).toEqual(mean('embed.weight'));
    expect(m.tensors.has('layers.0.attn.router')).toBe(true);
    expect(m.tensors.has('layers.0.attn.wq')).toBe(false);
  });

  it('bam-kv-shared keeps per-expert Wq, Wo and initialises the shared Wk, Wv as the mean, recording that choice', () => {
    const m = buildMixture('bam-kv-shared', sources);
    for (const l of [0, 1]) {
      expect(at(m, `layers.${l}.attn.wk`).data).toEqual(mean(`layers.${l}.attn.wk`));
      expect(at(m, `layers.${l}.attn.wv`).data).toEqual(mean(`layers.${l}.attn.wv`));
      for (let e = 0; e < N; e++) {
        expect(at(m, `layers.${l}.attn.experts.${e}.wq`).data).toEqual(sources[e].tensors.get(`layers.${l}.attn.wq`)!.data);
        expect(at(m, `layers.${l}.attn.experts.${e}.wo`).data).toEqual(sources[e].tensors.get(`layers.${l}.attn.wo`)!.data);
        expect(m.tensors.has(`layers.${l}.attn.experts.${e}.wk`)).toBe(false);
      }
    }
    expect(m.meta.notes.kvInit).toBe(KV_SHARED_INIT);
    expect(m.meta.routerInit).toMatchObject({ distribution: 'normal', mean: 0, std: 0.02, seed: 0 });
  });

  it('btx-experts-M picks M = 6 to match bam-full total parameters and copies the extra experts from the seed', () => {
    // bam-full: 2·64·16 + 3·16 + 2·(4·4·16² + 4·3·16·32 + 2·4·16) = 22,832; btx with M experts:
    // 2·64·16 + 3·16 + 2·(4·16² + M·(3·16·32 + 16)) = 4,144 + 3,104·M → M = 6 gives 22,768.
    const m = buildMixture('btx-experts-M', sources);
    expect(m.config.ffn.kind === 'moe' && m.config.ffn.numExperts).toBe(6);
    expect(paramCounts(recipeConfig('bam-full', dense, N)).total).toBe(22_832);
    expect(paramCounts(m.config).total).toBe(22_768);
    expect(m.meta.layout.ffnExperts).toEqual([0, 1, 2, 3, 3, 3]);
    expect(at(m, 'layers.0.ffn.experts.5.w_up').data).toEqual(ffn(sources[3], 0, 'w_up'));
    expect(at(m, 'layers.1.attn.wq').data).toEqual(mean('layers.1.attn.wq'));
    expect(buildMixture('btx-experts-5', sources).config.ffn).toMatchObject({ numExperts: 5 });
  });

  it('btx-top3-6 has 6 experts under top-3 softmax-before routing, experts 4 and 5 from the seed', () => {
    const m = buildMixture('btx-top3-6', sources);
    expect(m.config.ffn).toEqual({ kind: 'moe', numExperts: 6, router: { kind: 'topk', k: 3, normalize: 'before' } });
    expect(at(m, 'layers.1.ffn.experts.4.w_down').data).toEqual(ffn(sources[3], 1, 'w_down'));
    expect(at(m, 'layers.1.ffn.experts.2.w_down').data).toEqual(ffn(sources[2], 1, 'w_down'));
  });

  it('bam-moa-top1 and -top2 route attention top-k over shared K/V by default', () => {
    expect(buildMixture('bam-moa-top1', sources).config.attention).toEqual({ kind: 'moa', numExperts: N, kvShared: true, router: { kind: 'topk', k: 1 } });
    const full = buildMixture('bam-moa-top2', sources, { kvShared: false });
    expect(full.config.attention).toEqual({ kind: 'moa', numExperts: N, kvShared: false, router: { kind: 'topk', k: 2 } });
    expect(at(full, 'layers.0.attn.experts.1.wk').data).toEqual(sources[1].tensors.get('layers.0.attn.wk')!.data);
  });

  it("sparse-upcycle takes every expert and every other weight from the seed alone", () => {
    const m = buildMixture('sparse-upcycle', sources);
    const seed = sources[3];
    for (let e = 0; e < N; e++) expect(at(m, `layers.0.ffn.experts.${e}.w_gate`).data).toEqual(ffn(seed, 0, 'w_gate'));
    expect(at(m, 'embed.weight').data).toEqual(seed.tensors.get('embed.weight')!.data);
    expect(at(m, 'layers.1.attn.wo').data).toEqual(seed.tensors.get('layers.1.attn.wo')!.data);
  });

  it('initialises routers N(0, 0.02²) reproducibly from (seed, name), differently per layer', () => {
    const a = buildMixture('bam-full', sources);
    const b = buildMixture('bam-full', sources);
    const c = buildMixture('bam-full', sources, { routerInit: { seed: 1 } });
    expect(at(a, 'layers.0.ffn.router').data).toEqual(at(b, 'layers.0.ffn.router').data);
    expect(at(a, 'layers.0.ffn.router').data).not.toEqual(at(a, 'layers.1.ffn.router').data);
    expect(at(a, 'layers.0.attn.router').data).not.toEqual(at(c, 'layers.0.attn.router').data);
    const big = randomNormalTensor('layers.0.ffn.router', [200, 200], 0.02, 0).data;
    const mu = big.reduce((s, x) => s + x, 0) / big.length;
    const sd = Math.sqrt(big.reduce((s, x) => s + (x - mu) ** 2, 0) / big.length);
    expect(Math.abs(mu)).toBeLessThan(3e-4); // 3 standard errors: 3·0.02/200
    expect(Math.abs(sd / 0.02 - 1)).toBeLessThan(0.015);
  });
});

describe('recipe input checks', () => {
  it('refuses checkpoints with different configs, naming both and the differing field', () => {
    const a = noiseSource(dense, 1, 'ckpt/a');
    const b = noiseSource(tinyDense({ dModel: 32 }), 2, 'ckpt/b');
    expect(() => buildMixture('btx', [a, b])).toThrow(/ckpt\/a and ckpt\/b have different model configs \(dModel 16 vs 32\)/);
    try {
      buildMixture('bam-full', [a, b]);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('E_INCOMPATIBLE');
    }
  });

  it('refuses checkpoints with different tokenizers, naming them', () => {
    const a = noiseSource(dense, 1, 'ckpt/a');
    const b = { ...noiseSource(dense, 2, 'ckpt/b'), tokenizer: { id: 'gpt2-trunc-64', vocabSize: 64 } };
    expect(() => buildMixture('bam-kv-shared', [a, b])).toThrow(/ckpt\/a and ckpt\/b use different tokenizers \('byte-256' vs 'gpt2-trunc-64'\)/);
  });

  it('refuses a checkpoint with a wrongly shaped or missing tensor, naming it and the tensor', () => {
    const a = noiseSource(dense, 1, 'ckpt/a');
    const b = noiseSource(dense, 2, 'ckpt/b');
    (b.tensors as Map<string, F32Tensor>).set('layers.1.ffn.w_up', { shape: [16, 16], data: new Float32Array(256) });
    expect(() => buildMixture('btx', [a, b])).toThrow(/checkpoint ckpt\/b: tensor 'layers.1.ffn.w_up' has shape \[16, 16\], expected \[16, 32\]/);
    (b.tensors as Map<string, F32Tensor>).delete('layers.1.ffn.w_up');
    expect(() => buildMixture('btx', [a, b])).toThrow(/checkpoint ckpt\/b has no tensor 'layers.1.ffn.w_up'/);
  });

  it('refuses a mixture checkpoint as a source', () => {
    const m = buildMixture('btx', [noiseSource(dense, 1), noiseSource(dense, 2)]);
    const asSource: DenseSource = { name: 'ckpt/btx', config: m.config, tokenizer: m.tokenizer, tensors: m.tensors };
    expect(() => buildMixture('btx', [noiseSource(dense, 3), asSource])).toThrow(/checkpoint ckpt\/btx is not a dense model \(attention dense, ffn moe\)/);
  });

  it('names the known recipes and the nearest one for an unknown id, and fails on bad options', () => {
    expect(() => buildMixture('btz', [noiseSource(dense, 1)])).toThrow(/unknown recipe 'btz'[\s\S]*did you mean 'btx'\?[\s\S]*bam-kv-shared/);
    expect(recipeIds()).toEqual(['btx', 'bam-full', 'bam-kv-shared', 'btx-experts-M', 'btx-top3-6', 'bam-moa-top1', 'bam-moa-top2', 'sparse-upcycle']);
    expect(() => buildMixture('btx', [noiseSource(dense, 1)], { routerInit: { std: -1 } })).toThrow(ConfigError);
    expect(() => buildMixture('btx', [noiseSource(dense, 1)], { routerInt: {} })).toThrow(/routerInt/);
  });
});
