import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, disposeModel, type BamModel } from '../../src/model/index.ts';
import { generate, scoreTokens } from '../../src/inference/index.ts';
import { useWasm } from '../mixture/helpers.ts';
import { logSoftmaxRows, maxDiff, randomIds, variant } from './helpers.ts';

const models: BamModel[] = [];
beforeAll(useWasm);
afterAll(() => models.forEach(disposeModel));

// Seven sequences of mixed lengths (up to maxSeqLen + 1 = 17), in no particular order.
const SEQS = [6, 17, 2, 9, 9, 13, 4].map((n, i) => randomIds(n, 64, 100 + i));

describe('scoreTokens', () => {
  it.each(['dense', 'bam-full', 'bam-kv-shared'] as const)(
    'returns each token’s log-probability from the log-softmax of one full forward, in the caller’s order (%s)',
    async (v) => {
      const m = createModel(variant(v), 5);
      models.push(m);
      const scores = await scoreTokens(m, SEQS, { batchSize: 3 });
      SEQS.forEach((seq, i) => {
        const rows = logSoftmaxRows(m, seq.slice(0, -1));
        const want = seq.slice(1).map((t, p) => rows[p][t]);
        const greedy = seq.slice(1).map((t, p) => rows[p].every((x) => x <= rows[p][t]));
        expect(scores[i].logprobs).toHaveLength(seq.length - 1);
        expect(maxDiff(scores[i].logprobs, want)).toBeLessThan(1e-5);
        expect(scores[i].greedy).toEqual(greedy);
      });
    },
  );

  it.each(['btx', 'bam-full', 'bam-kv-shared'] as const)('gives the same scores for batch sizes 1, 3 and 8 (to 1e-5), for %s', async (v) => {
    const m = createModel(variant(v), 6);
    models.push(m);
    const one = await scoreTokens(m, SEQS, { batchSize: 1 });
    for (const bs of [3, 8]) {
      const other = await scoreTokens(m, SEQS, { batchSize: bs });
      other.forEach((s, i) => {
        expect(maxDiff(s.logprobs, one[i].logprobs)).toBeLessThan(1e-5);
        expect(s.greedy).toEqual(one[i].greedy);
      });
    }
  });

  it.each(['dense', 'btx', 'bam-full'] as const)(
    'with `scored`, computes only each sequence’s last predictions, equal to the tail of a full scoring (%s)',
    async (v) => {
      const m = createModel(variant(v), 10);
      models.push(m);
      const full = await scoreTokens(m, SEQS, { batchSize: 3 });
      const scored = [3, 16, 0, 8, 1, 5, 2]; // 0 to all n − 1 of each sequence
      const tail = await scoreTokens(m, SEQS, { batchSize: 3, scored });
      tail.forEach((s, i) => {
        expect(s.logprobs).toHaveLength(scored[i]);
        expect(maxDiff(s.logprobs, full[i].logprobs.slice(full[i].logprobs.length - scored[i]))).toBeLessThan(1e-5);
        expect(s.greedy).toEqual(full[i].greedy.slice(full[i].greedy.length - scored[i]));
      });
      await expect(scoreTokens(m, SEQS, { scored: [1, 2] })).rejects.toThrow(/scored has 2 entries for 7 sequences/);
      await expect(scoreTokens(m, [[1, 2, 3]], { scored: [3] })).rejects.toThrow(/scored\[0\] = 3, but sequence 0 has 2 predictions/);
    },
  );

  it('marks every token of a greedy continuation as greedy, and a changed token as not', async () => {
    const m = createModel(variant('bam-kv-shared'), 7);
    models.push(m);
    const prompt = randomIds(4, 64, 3);
    const g = await generate(m, prompt, { maxNewTokens: 6 });
    const [s] = await scoreTokens(m, [[...prompt, ...g.tokens]]);
    expect(s.greedy.slice(3)).toEqual([true, true, true, true, true, true]);
    const changed = [...prompt, ...g.tokens];
    changed[6] = (changed[6] + 1) % 64;
    expect((await scoreTokens(m, [changed]))[0].greedy[5]).toBe(false);
    // greedy: false skips the argmax and leaves the log-probabilities as they were
    const [plain] = await scoreTokens(m, [changed], { greedy: false });
    const [full] = await scoreTokens(m, [changed]);
    expect(plain.greedy).toEqual([]);
    expect(plain.logprobs).toEqual(full.logprobs);
  });

  it('scores each sequence alone for expert-choice routing, so the batch size still does not matter', async () => {
    const m = createModel(variant('btx', { ffn: { kind: 'moe', numExperts: 4, router: { kind: 'expert-choice', capacityFactor: 1 } } }), 8);
    models.push(m);
    // Not the 2-token sequence: expert-choice routing of a single token fails inside tf.oneHot (depth 1).
    const seqs = SEQS.filter((s) => s.length > 2);
    const one = await scoreTokens(m, seqs, { batchSize: 1 });
    const eight = await scoreTokens(m, seqs, { batchSize: 8 });
    eight.forEach((s, i) => expect(s.logprobs).toEqual(one[i].logprobs));
    const alone = logSoftmaxRows(m, seqs[3].slice(0, -1));
    expect(maxDiff(one[3].logprobs, seqs[3].slice(1).map((t, p) => alone[p][t]))).toBeLessThan(1e-6);
  });

  it('leaks no tensor, scores nothing in a one-token sequence, and rejects sequences that are too long or hold bad ids', async () => {
    const m = createModel(variant('btx'), 9);
    models.push(m);
    const before = tf.memory().numTensors;
    const r = await scoreTokens(m, [...SEQS, [5]], { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r[SEQS.length]).toEqual({ logprobs: [], greedy: [] });
    await expect(scoreTokens(m, [randomIds(18, 64, 1)])).rejects.toThrow(/sequence 0 has 18 tokens; scoring takes 1 to maxSeqLen \+ 1 = 17/);
    await expect(scoreTokens(m, [[1, 2], [3, -1]])).rejects.toThrow(/sequence 1 has token -1 at index 1/);
    await expect(scoreTokens(m, [[1, 2]], { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
  });
});
