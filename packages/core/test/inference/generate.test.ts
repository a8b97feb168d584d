import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKvCache,
  createModel,
  disposeKvCache,
  disposeModel,
  forward,
  kvCacheBytes,
  kvCacheBytesPerToken,
  kvCacheSupport,
  loadPreset,
  parseModelConfig,
  type BamModel,
  type ModelConfig,
} from '../../src/model/index.ts';
import { variantConfig } from '../model/variants.ts';
import { generate } from '../../src/inference/index.ts';
import { useWasm } from '../mixture/helpers.ts';
import { cachedLogits as forwardCached, greedyByRecompute, maxDiff, randomIds, variant } from './helpers.ts';

const models: BamModel[] = [];
function model(config: ModelConfig, seed = 3): BamModel {
  const m = createModel(config, seed);
  models.push(m);
  return m;
}

beforeAll(useWasm);
afterAll(() => models.forEach(disposeModel));

// Prompts of lengths 3, 5, 5, 2: two share a length (decoded in one batch), the others alone.
const PROMPTS = [randomIds(3, 64, 11), randomIds(5, 64, 12), randomIds(5, 64, 13), randomIds(2, 64, 14)];
const STEPS = 7;

const CASES: Array<[string, () => ModelConfig]> = [
  ['dense', () => variant('dense')],
  ['btx', () => variant('btx')],
  ['bam-full', () => variant('bam-full')],
  ['bam-kv-shared', () => variant('bam-kv-shared')],
  ['bam-kv-shared with grouped-query attention (Hkv = 1)', () => variant('bam-kv-shared', { nKvHeads: 1 })],
  ['bam-full with sequential blocks and tied embeddings', () => variant('bam-full', { block: 'sequential', tieEmbeddings: true })],
  ['bam-full with top-2 attention routing and a top-2 renormalised FFN router', () =>
    variant('bam-full', {
      attention: { kind: 'moa', numExperts: 4, kvShared: false, router: { kind: 'topk', k: 2 } },
      ffn: { kind: 'moe', numExperts: 4, router: { kind: 'topk', k: 2, normalize: 'after' } },
    })],
  ['bam-kv-shared with routers shared across layers and attention tied to the FFN router', () =>
    variant('bam-kv-shared', { routing: { shareAcrossLayers: true, tieAttentionToFfn: true } })],
  ['btx with hash routing', () => variant('btx', { ffn: { kind: 'moe', numExperts: 4, router: { kind: 'hash' } } })],
];

describe('generate with a KV cache', () => {
  it.each(CASES)('gives the same tokens and per-step logits (to 1e-4) as recomputing the full forward, for %s', async (_, make) => {
    const m = model(make());
    const got = await generate(m, PROMPTS, { maxNewTokens: STEPS, returnLogits: true });
    expect(got).toHaveLength(PROMPTS.length);
    PROMPTS.forEach((p, i) => {
      const ref = greedyByRecompute(m, p, STEPS);
      expect(got[i].cached).toBe(true);
      expect(got[i].finish).toBe('length');
      expect(got[i].tokens).toEqual(ref.tokens);
      expect(got[i].logits).toHaveLength(STEPS);
      for (let s = 0; s < STEPS; s++) expect(maxDiff(got[i].logits![s], ref.logits[s])).toBeLessThan(1e-4);
    });
  });

  it.each(CASES.slice(0, 4))('prefill returns the full forward logits at every prompt position, for %s', (_, make) => {
    const m = model(make());
    const ids = [...PROMPTS[1], ...PROMPTS[2]]; // B = 2, T = 5
    const input = tf.tensor2d(ids, [2, 5], 'int32');
    const cache = createKvCache(m.config, 2);
    const cached = forwardCached(m, input, cache);
    const full = forward(m, input);
    expect(maxDiff(cached.dataSync(), full.logits.dataSync())).toBeLessThan(1e-5);
    tf.dispose([input, cached, full.logits, full.aux.loadBalance, full.aux.zLoss]);
    disposeKvCache(cache);
  });

  it('fills the cache with exactly kvCacheBytesPerToken bytes per token and sequence: one K/V per layer for kv-shared, E for full', () => {
    for (const v of ['dense', 'btx', 'bam-full', 'bam-kv-shared'] as const) {
      const m = model(variant(v));
      const cache = createKvCache(m.config, 3);
      const input = tf.tensor2d(randomIds(12, 64, 5), [3, 4], 'int32');
      tf.dispose(forwardCached(m, input, cache));
      const step = tf.tensor2d([1, 2, 3], [3, 1], 'int32');
      tf.dispose(forwardCached(m, step, cache));
      expect(cache.length).toBe(5);
      expect(cache.layers.map((l) => l.length)).toEqual(v === 'bam-full' ? [4, 4] : [1, 1]);
      expect(kvCacheBytes(cache)).toBe(kvCacheBytesPerToken(m.config) * 3 * 5);
      tf.dispose([input, step]);
      disposeKvCache(cache);
    }
  });

  it('leaks no tensor across a generate call, cached or recomputed', async () => {
    const m = model(variant('bam-full'));
    const before = tf.memory().numTensors;
    await generate(m, PROMPTS, { maxNewTokens: 4, returnLogits: true });
    await generate(m, PROMPTS[0], { maxNewTokens: 3, useCache: false });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('returns the same tokens whatever the batch size, and one Generation for one prompt', async () => {
    const m = model(variant('bam-kv-shared'));
    const prompts = [PROMPTS[1], PROMPTS[2], randomIds(5, 64, 15), PROMPTS[0]];
    const all = (await generate(m, prompts, { maxNewTokens: 5, batchSize: 8 })).map((g) => g.tokens);
    expect((await generate(m, prompts, { maxNewTokens: 5, batchSize: 1 })).map((g) => g.tokens)).toEqual(all);
    expect((await generate(m, prompts, { maxNewTokens: 5, batchSize: 3 })).map((g) => g.tokens)).toEqual(all);
    expect((await generate(m, prompts[3], { maxNewTokens: 5 })).tokens).toEqual(all[3]);
  });

  it('stops a sequence at a stop token (kept as its last token) or when stopWhen says so', async () => {
    const m = model(variant('btx'));
    const free = (await generate(m, PROMPTS[1], { maxNewTokens: 8 })).tokens;
    expect(free).toHaveLength(8);
    const stopAt = free[3];
    const firstStop = free.indexOf(stopAt);
    const stopped = await generate(m, PROMPTS[1], { maxNewTokens: 8, stopTokens: [stopAt] });
    expect(stopped.tokens).toEqual(free.slice(0, firstStop + 1));
    expect(stopped.finish).toBe('stop-token');
    const seen: number[] = [];
    const when = await generate(m, [PROMPTS[0], PROMPTS[1]], {
      maxNewTokens: 8,
      stopWhen: (g, i) => {
        if (i === 1) seen.push(g.length);
        return i === 1 && g.length === 2;
      },
    });
    expect(when[1].tokens).toEqual(free.slice(0, 2));
    expect(when[1].finish).toBe('stop-when');
    expect(seen).toEqual([1, 2]);
    expect(when[0].tokens).toHaveLength(8);
    expect(when[0].finish).toBe('length');
  });

  it('recomputes the full forward for expert-choice routing, which a cache cannot reproduce, and says so', async () => {
    const config = variant('btx', { ffn: { kind: 'moe', numExperts: 4, router: { kind: 'expert-choice', capacityFactor: 1 } } });
    const support = kvCacheSupport(config);
    expect(support.ok).toBe(false);
    const m = model(config);
    const g = await generate(m, PROMPTS[0], { maxNewTokens: 4, returnLogits: true });
    const ref = greedyByRecompute(m, PROMPTS[0], 4);
    expect(g.cached).toBe(false);
    expect(g.tokens).toEqual(ref.tokens);
    expect(maxDiff(g.logits![3], ref.logits[3])).toBe(0);
    const cache = createKvCache(config, 1);
    const input = tf.tensor2d([PROMPTS[0]], [1, 3], 'int32');
    expect(() => forwardCached(m, input, cache)).toThrow(/cannot decode with a KV cache: expert-choice/);
    input.dispose();
    disposeKvCache(cache);
  });

  it('rejects a prompt that does not leave room for the new tokens, an empty prompt and ids outside the vocabulary', async () => {
    const m = model(variant('dense'));
    await expect(generate(m, randomIds(12, 64, 1), { maxNewTokens: 6 })).rejects.toThrow(/12 tokens and asks for 6 more, beyond the model's maxSeqLen 16/);
    expect((await generate(m, randomIds(12, 64, 1), { maxNewTokens: 5 })).tokens).toHaveLength(5); // 12 + 5 − 1 = 16 positions fed
    await expect(generate(m, [[]], { maxNewTokens: 1 })).rejects.toThrow(/prompt 0 is empty/);
    await expect(generate(m, [[1, 64]], { maxNewTokens: 1 })).rejects.toThrow(/token 64 at index 1, outside the model's vocabulary \[0, 64\)/);
    expect(await generate(m, [1, 2], { maxNewTokens: 0 })).toMatchObject({ tokens: [], finish: 'length' });
  });
});

describe('kvCacheBytesPerToken', () => {
  it('is 2·L·Hkv·Dh·4 bytes for dense and btx, E times that for bam-full and the same as dense for bam-kv-shared', () => {
    // Tiny base: L = 2, Hkv = 2, Dh = 16 / 2 = 8 → 2·2·2·8·4 = 256 bytes.
    expect(kvCacheBytesPerToken(variant('dense'))).toBe(256);
    expect(kvCacheBytesPerToken(variant('btx'))).toBe(256);
    expect(kvCacheBytesPerToken(variant('bam-full'))).toBe(1024);
    expect(kvCacheBytesPerToken(variant('bam-kv-shared'))).toBe(256);
    expect(kvCacheBytesPerToken(variant('bam-kv-shared', { nKvHeads: 1 }))).toBe(128);
    expect(kvCacheBytesPerToken(variant('bam-kv-shared'))).toBeLessThan(kvCacheBytesPerToken(variant('bam-full')));
  });

  it('gives 48 KiB per token for the paper-small seed (L=6, Hkv=8, Dh=128) and four times that for its BAM expert-KV', () => {
    const small = loadPreset('paper-small');
    expect(kvCacheBytesPerToken(small)).toBe(2 * 6 * 8 * 128 * 4);
    expect(kvCacheBytesPerToken(parseModelConfig(variantConfig(small, 'bam-full')))).toBe(4 * 49152);
    expect(kvCacheBytesPerToken(parseModelConfig(variantConfig(small, 'bam-kv-shared')))).toBe(49152);
  });
});
