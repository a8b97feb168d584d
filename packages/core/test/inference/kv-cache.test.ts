import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  causalMask,
  createKvCache,
  createModel,
  disposeKvCache,
  disposeModel,
  forward,
  kvHeadOf,
  type BamModel,
  type ModelConfig,
} from '../../src/model/index.ts';
import { enableBlas } from '../../src/ops/index.ts';
import { useWasm } from '../mixture/helpers.ts';
import { argmaxOf, cachedLogits, greedyByRecompute, maxDiff, randomIds, variant } from './helpers.ts';

const models: BamModel[] = [];
function model(config: ModelConfig, seed = 5): BamModel {
  const m = createModel(config, seed);
  models.push(m);
  return m;
}

beforeAll(useWasm);
afterAll(() => models.forEach(disposeModel));

// Tiny configs: D = 16, E = 4 (helpers.ts); sequences of T = 8 positions, the first 3 a prompt.
const T = 8;
const PROMPT = 3;
const VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared'] as const;

/** The logits [B·T·V] of forward on ids [B, T] without a cache (the router losses disposed). */
function fullLogits(m: BamModel, ids: number[][]): Float32Array {
  const r = forward(m, ids);
  const out = r.logits.dataSync() as Float32Array;
  tf.dispose([r.logits, r.aux.loadBalance, r.aux.zLoss]);
  return out;
}

describe('forward with a KV cache', () => {
  // BAM_BLAS=auto runs the products on OpenBLAS where it is installed (the attention op's
  // gemmBatch kernel, S > T when decoding), on XNNPACK otherwise; off is XNNPACK.
  const CASES = (['off', 'auto'] as const).flatMap((library) => VARIANTS.map((v) => [v, library] as const));
  it.each(CASES)('gives every position the logits of the uncached forward (to 1e-5) when fed a 3-token prefill then one token at a time, for %s (BAM_BLAS=%s)', (v, library) => {
    enableBlas({ library });
    const m = model(variant(v));
    const V = m.config.vocabSize;
    const rows = [randomIds(T, V, 21), randomIds(T, V, 22)]; // B = 2
    const full = fullLogits(m, rows); // [2, T, V]
    const before = tf.memory().numTensors;
    const cache = createKvCache(m.config, 2);
    const got: Float32Array[] = []; // per position, [2·V]
    const prefill = tf.tensor2d(rows.flatMap((r) => r.slice(0, PROMPT)), [2, PROMPT], 'int32');
    const pre = cachedLogits(m, prefill, cache); // [2, 3, V]
    const preData = pre.dataSync();
    for (let t = 0; t < PROMPT; t++) got.push(Float32Array.from([0, 1].flatMap((b) => [...preData.slice((b * PROMPT + t) * V, (b * PROMPT + t + 1) * V)])));
    tf.dispose([prefill, pre]);
    for (let t = PROMPT; t < T; t++) {
      const next = tf.tensor2d(rows.map((r) => r[t]), [2, 1], 'int32');
      const l = cachedLogits(m, next, cache); // [2, 1, V]
      got.push(l.dataSync() as Float32Array);
      tf.dispose([next, l]);
    }
    expect(cache.length).toBe(T);
    disposeKvCache(cache);
    expect(tf.memory().numTensors).toBe(before);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < 2; b++) {
        const ref = full.slice((b * T + t) * V, (b * T + t + 1) * V);
        expect(maxDiff(got[t].slice(b * V, (b + 1) * V), ref)).toBeLessThan(1e-5);
      }
    }
    enableBlas({ library: 'off' });
  });

  it.each(VARIANTS)('decodes the same greedy tokens, with logits within 1e-5, as recomputing the uncached forward, for %s', (v) => {
    const m = model(variant(v));
    const prompt = randomIds(PROMPT, m.config.vocabSize, 31);
    const ref = greedyByRecompute(m, prompt, T - PROMPT);
    const before = tf.memory().numTensors;
    const cache = createKvCache(m.config, 1);
    const tokens: number[] = [];
    let feed = [prompt];
    for (let s = 0; s < T - PROMPT; s++) {
      const r = forward(m, feed, { cache });
      const n = feed[0].length;
      const last = tf.tidy(() => tf.reshape(tf.slice(r.logits, [0, n - 1, 0], [1, 1, m.config.vocabSize]), [-1])); // [V]
      const row = last.dataSync() as Float32Array;
      tf.dispose([last, r.logits, r.aux.loadBalance, r.aux.zLoss]);
      expect(maxDiff(row, ref.logits[s])).toBeLessThan(1e-5);
      tokens.push(argmaxOf(row));
      feed = [[tokens[s]]];
    }
    disposeKvCache(cache);
    expect(tf.memory().numTensors).toBe(before);
    expect(tokens).toEqual(ref.tokens);
  });

  it('refuses a batch other than the cache’s, positions beyond maxSeqLen and expert-choice routing, leaving the cache as it was', () => {
    const m = model(variant('bam-kv-shared'));
    const cache = createKvCache(m.config, 1);
    const fill = (ids: number[][]) => {
      const r = forward(m, ids, { cache });
      tf.dispose([r.logits, r.aux.loadBalance, r.aux.zLoss]);
    };
    fill([randomIds(15, 64, 3)]);
    fill([[1]]);
    expect(cache.length).toBe(16);
    expect(() => forward(m, [[1]], { cache })).toThrow(/16 cached \+ 1 new positions exceed the model's maxSeqLen 16/);
    expect(() => forward(m, [[1], [2]], { cache })).toThrow(/tokens have batch 2 but the KV cache was made for 1/);
    expect(cache.length).toBe(16);
    disposeKvCache(cache);
    const ec = model(variant('btx', { ffn: { kind: 'moe', numExperts: 4, router: { kind: 'expert-choice', capacityFactor: 1 } } }));
    const c2 = createKvCache(ec.config, 1);
    expect(() => forward(ec, [[1, 2]], { cache: c2 })).toThrow(/cannot decode with a KV cache: expert-choice/);
    expect(c2.length).toBe(0);
    disposeKvCache(c2);
  });
});

describe('forward on host token ids', () => {
  it('equals the forward on the same ids as an int32 tensor, bit for bit', () => {
    const m = model(variant('bam-full'));
    const rows = [randomIds(T, 64, 41), randomIds(T, 64, 42)];
    const input = tf.tensor2d(rows, [2, T], 'int32');
    const r = forward(m, input);
    expect(maxDiff(fullLogits(m, rows), r.logits.dataSync())).toBe(0);
    tf.dispose([input, r.logits, r.aux.loadBalance, r.aux.zLoss]);
  });

  it('names a bad id, its row and index, and the vocabulary size, before anything runs', () => {
    const m = model(variant('dense'));
    const before = tf.memory().numTensors;
    expect(() => forward(m, [[1, 2], [3, 64]])).toThrow(/token row 1 has token 64 at index 1, outside the model's vocabulary \[0, 64\)/);
    expect(() => forward(m, [Int32Array.from([-1, 2])])).toThrow(/token row 0 has token -1 at index 0/);
    expect(() => forward(m, [[1.5]])).toThrow(/token row 0 has token 1.5 at index 0/);
    expect(() => forward(m, [[1, 2], [3]])).toThrow(/token row 1 has 1 ids but row 0 has 2/);
    expect(() => forward(m, [])).toThrow(/at least one row of at least one id/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('kvHeadOf and the offset causal mask', () => {
  it('maps query heads to key/value heads in Llama’s repeat_kv order, per example', () => {
    // H = 4, Hkv = 2: heads 0, 1 read kv head 0 and heads 2, 3 read kv head 1; example 1 adds Hkv.
    expect(Array.from({ length: 8 }, (_, g) => kvHeadOf(g, 4, 2))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(Array.from({ length: 4 }, (_, g) => kvHeadOf(g, 2, 2))).toEqual([0, 1, 2, 3]);
    expect(Array.from({ length: 6 }, (_, g) => kvHeadOf(g, 3, 1))).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('masks, for 2 new queries after 2 cached positions, only the key after each query', () => {
    const m = causalMask(2, 4);
    expect(Array.from(m.dataSync())).toEqual([0, 0, 0, -1e9, 0, 0, 0, 0].map((x) => Math.fround(x)));
    m.dispose();
  });
});
