import { describe, expect, it } from 'vitest';
import { trainingFlops } from '@bam/core';
import { planMixtureTraining, plannedBatches, recipeConfig } from '../src/index.ts';
import { tinyDense } from './helpers.ts';

// D=16, L=1, F=32, V=256, T=16: forward FLOPs per token (core's Table 10 accounting)
//   btx:      attention 2·16·16 + 4·16·16 + 2·16·16 + 2·16·16 = 2,560; FFN 6·16·32 + 3·32 = 3,168;
//             router 2·4·16 = 128; head 2·16·256 = 8,192 → 14,048
//   bam-full: attention 4·(512 + 512 + 512) + 4·1,024 = 10,240; FFN 3,168; 2 routers 256 → 21,856
const dense = tinyDense({ vocabSize: 256, nLayers: 1, maxSeqLen: 16 });
const btx = recipeConfig('btx', dense, 4);
const bam = recipeConfig('bam-full', dense, 4);
const common = { referenceConfig: btx, reference: 'btx', steps: 12, batchSize: 16, seqLen: 16 };

describe('mixture budgets', () => {
  it('data-matched gives every variant steps·B rows and charges its own FLOPs per token', () => {
    const a = planMixtureTraining({ ...common, budget: 'data-matched', config: btx });
    const b = planMixtureTraining({ ...common, budget: 'data-matched', config: bam });
    expect(trainingFlops(btx, 1, 16)).toBe(3 * 14_048);
    expect(trainingFlops(bam, 1, 16)).toBe(3 * 21_856);
    expect(a).toMatchObject({ rows: 192, steps: 12, lastBatchRows: 16, tokens: 3072, flops: 3072 * 3 * 14_048, budgetFlops: null });
    expect(b).toMatchObject({ rows: 192, steps: 12, tokens: 3072, flops: 3072 * 3 * 21_856 });
  });

  it('compute-matched gives the reference exactly its data-matched run', () => {
    const dm = planMixtureTraining({ ...common, budget: 'data-matched', config: btx });
    const cm = planMixtureTraining({ ...common, budget: 'compute-matched', config: btx });
    expect(cm).toMatchObject({ rows: dm.rows, steps: dm.steps, tokens: dm.tokens, flops: dm.flops, budgetFlops: dm.flops });
  });

  it('compute-matched gives bam-full the rows btx FLOPs pay for: fewer tokens, FLOPs equal within 1%', () => {
    const cm = planMixtureTraining({ ...common, budget: 'compute-matched', config: bam });
    // 192 rows · 14,048 / 21,856 = 123.4 → 123 rows = 7 full steps of 16 and one of 11.
    expect(cm).toMatchObject({ rows: 123, steps: 8, lastBatchRows: 11, tokens: 123 * 16 });
    expect(cm.flops).toBeLessThanOrEqual(cm.budgetFlops!);
    expect(cm.flops / cm.budgetFlops!).toBeGreaterThan(0.99);
    expect(cm.flops / cm.budgetFlops!).toBeCloseTo((123 * 21_856) / (192 * 14_048), 12);
  });

  it('fails with a hint when a compute-matched budget pays for no row', () => {
    // One btx row buys 0.67 of a btx-top3-6 row (three FFN experts per token).
    const top3 = recipeConfig('btx-top3-6', dense, 4);
    expect(() => planMixtureTraining({ ...common, steps: 1, batchSize: 1, budget: 'compute-matched', config: top3 })).toThrow(/does not pay for one row of 16 tokens[\s\S]*raise stages.mixture.steps/);
    expect(planMixtureTraining({ ...common, steps: 1, batchSize: 2, budget: 'compute-matched', config: top3 }).rows).toBe(1);
  });

  it('cuts the last batch of a plan to its rows and leaves the others whole', () => {
    const plan = { steps: 3, lastBatchRows: 2, batchSize: 4 };
    const source = {
      batch: (step: number) => ({
        inputs: Int32Array.from({ length: 4 * 3 }, (_, i) => 100 * step + i),
        targets: Int32Array.from({ length: 4 * 3 }, (_, i) => 100 * step + i + 1),
        batchSize: 4,
        seqLen: 3,
      }),
    };
    const b = plannedBatches(source, plan);
    expect(b.batch(1).batchSize).toBe(4);
    const last = b.batch(2);
    expect(last).toEqual({ inputs: Int32Array.from([200, 201, 202, 203, 204, 205]), targets: Int32Array.from([201, 202, 203, 204, 205, 206]), batchSize: 2, seqLen: 3 });
  });
});
