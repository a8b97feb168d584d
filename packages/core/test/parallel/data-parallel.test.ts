import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { parseModelConfig, type ModelConfigInput } from '../../src/model/config.ts';
import { createModel, disposeModel, type BamModel } from '../../src/model/model.ts';
import { DataParallelPool, shardRows, trainDataParallel } from '../../src/parallel/data-parallel.ts';
import { train, type BatchSource } from '../../src/train/index.ts';

const V = 32;
const B = 4;
const T = 8;
const tiny: ModelConfigInput = { vocabSize: V, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen: T };

/** Deterministic batches; step 1 hides two targets (-1) in row 0 so the shards' token shares differ. */
const batches: BatchSource = {
  batch(step) {
    const inputs = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + step * 13) % V);
    const targets = Int32Array.from({ length: B * T }, (_, i) => (step === 1 && i < 2 ? -1 : (i * 5 + step * 3 + 1) % V));
    return { inputs, targets, batchSize: B, seqLen: T };
  },
};
const lr = { peak: 5e-3, warmup: 1 };

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

async function weightsOf(model: BamModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, v] of model.params) out.set(n, (await v.data()) as Float32Array);
  return out;
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

describe('data-parallel training over worker threads', () => {
  it('splits rows into shards whose sizes differ by at most one', () => {
    expect(shardRows(8, 2)).toEqual([[0, 4], [4, 8]]);
    expect(shardRows(5, 3)).toEqual([[0, 2], [2, 4], [4, 5]]);
  });

  it('takes the same steps as the one-thread trainer on a dense model (2 workers, uneven token shares)', async () => {
    const config = parseModelConfig(tiny);
    const a = createModel(config, 1);
    const b = createModel(config, 1);
    const start = await weightsOf(a);
    const one = await train({ model: a, batches, steps: 3, lr, logEvery: 1 });
    const before = tf.memory().numTensors;
    const two = await trainDataParallel({ model: b, batches, steps: 3, lr, workers: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(two.losses).toHaveLength(3);
    two.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5));
    const wa = await weightsOf(a);
    const wb = await weightsOf(b);
    expect(maxDiff(wa, start)).toBeGreaterThan(1e-3); // training moved the weights
    expect(maxDiff(wa, wb)).toBeLessThan(1e-5);
    expect(two.workers).toBe(2);
    expect(two.tokensSeen).toBe(3 * B * T);
    expect(two.tokensPerSecond).toBeGreaterThan(0);
    disposeModel(a);
    disposeModel(b);
  });

  it('trains a mixture (bam-kv-shared) to a lower loss with finite weights', async () => {
    const config = parseModelConfig({
      ...tiny,
      attention: { kind: 'moa', numExperts: 4, kvShared: true },
      ffn: { kind: 'moe', numExperts: 4, router: { kind: 'topk', k: 1 } },
    });
    const model = createModel(config, 2);
    const s = await trainDataParallel({ model, batches: { batch: () => batches.batch(0) }, steps: 6, lr: { peak: 2e-2, warmup: 0 }, workers: 2 });
    expect(s.finalLoss).toBeLessThan(s.initialLoss - 0.05);
    const w = await weightsOf(model);
    for (const [n, x] of w) expect(x.every(Number.isFinite), n).toBe(true);
    disposeModel(model);
  });

  it('keeps its threads between runs: a second run on the same pool starts from the new model', async () => {
    const config = parseModelConfig(tiny);
    const pool = new DataParallelPool(2);
    try {
      const a = createModel(config, 5);
      const b = createModel(config, 5);
      const first = await pool.train({ model: a, batches, steps: 2, lr });
      const second = await pool.train({ model: b, batches, steps: 2, lr });
      expect(second.losses).toEqual(first.losses);
      expect(maxDiff(await weightsOf(a), await weightsOf(b))).toBe(0);
      disposeModel(a);
      disposeModel(b);
    } finally {
      await pool.dispose();
    }
  });

  it('rejects more workers than batch rows, naming the option', async () => {
    const model = createModel(parseModelConfig(tiny), 1);
    await expect(trainDataParallel({ model, batches, steps: 1, lr, workers: 5 })).rejects.toThrow(/workers: 5 workers cannot split a batch of 4 rows/);
    disposeModel(model);
  });
});
