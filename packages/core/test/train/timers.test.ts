import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { train } from '../../src/train/trainer.ts';
import { createLinearModel, linearLoss, stepSource } from './linear-model.ts';

const V = 16;

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

describe('train and the event loop', () => {
  it('lets timers fire between steps, so an artifact lock keeps its heartbeat during a stage', async () => {
    // Awaiting wasm reads never reaches the timer phase; without the trainer's yield no tick lands inside the run.
    const model = createLinearModel(V, 8, 1);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await train({
        model,
        batches: stepSource(V, 4, 8),
        steps: 200,
        lr: { peak: 0.05, warmup: 3 },
        loss: linearLoss,
        tokenizer: { id: 'test-16', vocabSize: V },
        logEvery: 1000,
      });
    } finally {
      clearInterval(timer);
      model.params.forEach((v) => v.dispose());
    }
    // Without the yield: 0 ticks in 200 steps; with it, one whenever a millisecond has passed since the last.
    expect(ticks).toBeGreaterThan(0);
  });
});
