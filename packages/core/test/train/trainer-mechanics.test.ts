import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { BamError } from '../../src/errors.ts';
import { latestCheckpoint, listCheckpoints, readCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { train, type TrainOptions, type TrainProgress } from '../../src/train/trainer.ts';
import { createLinearModel, linearLoss, stepSource, type LinearModel } from './linear-model.ts';

const V = 16;
const D = 8;
const work = mkdtempSync(join(tmpdir(), 'bam-trainer-'));
const tokenizer = { id: 'test-16', vocabSize: V };

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function opts(model: LinearModel, extra: Partial<TrainOptions<LinearModel>> = {}) {
  return {
    model,
    batches: stepSource(V, 4, 8),
    evalBatches: stepSource(V, 4, 8, 1000),
    steps: 30,
    lr: { peak: 0.05, warmup: 3 },
    loss: linearLoss,
    progress: false,
    tokenizer,
    ...extra,
  };
}

const dispose = (m: LinearModel) => m.params.forEach((v) => v.dispose());
const readLog = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map(({ tokensPerSecond: _a, elapsedS: _b, ...rest }) => rest);

describe('train (mechanics, on a linear bigram model)', () => {
  it('lowers the training and validation loss well below ln V and logs every interval', async () => {
    const model = createLinearModel(V, D, 1);
    const log = join(work, 'falls.jsonl');
    const s = await train(opts(model, { log, logEvery: 5, evalEvery: 10 }));
    expect(s.initialLoss).toBeGreaterThan(0.8 * Math.log(V));
    expect(s.finalLoss).toBeLessThan(0.5 * s.initialLoss);
    expect(s.finalValLoss).toBeLessThan(0.5 * s.initialValLoss);
    expect(s.tokensSeen).toBe(30 * 4 * 8);
    expect(s.losses).toHaveLength(30);
    expect(s.flopsSpent).toBe(30 * 32 * 6 * (V * D + D + D * V));
    const lines = readLog(log);
    expect(lines.filter((l) => l.kind === 'train').map((l) => l.step)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(lines.filter((l) => l.kind === 'eval').map((l) => l.step)).toEqual([0, 10, 20, 30]);
    const first = lines.find((l) => l.kind === 'train')!;
    expect(Object.keys(first).sort()).toEqual(['flops', 'gradNorm', 'kind', 'loadBalance', 'loss', 'lr', 'nll', 'step', 'tokens', 'zLoss']);
    expect(first.loss).toBeCloseTo(s.losses.slice(0, 5).reduce((a, b) => a + b) / 5, 5);
    // The line for steps 1..5 shows the LR of batch index 4: 1/26 of the way through the cosine.
    expect(first.lr).toBeCloseTo(0.005 + 0.045 * 0.5 * (1 + Math.cos(Math.PI / 26)), 10);
    dispose(model);
  });

  it('keeps the tensor count steady across steps', async () => {
    const model = createLinearModel(V, D, 2);
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    await train(opts(model, { steps: 8, logEvery: 1, evalBatches: undefined, onProgress: (p: TrainProgress) => counts.push(p.numTensors) }));
    expect(counts).toHaveLength(8);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    dispose(model);
  });

  it('clips the gradient: with clipNorm the logged norm is the unclipped one and training still converges', async () => {
    const model = createLinearModel(V, D, 3);
    const norms: number[] = [];
    const s = await train(opts(model, { steps: 10, logEvery: 1, clipNorm: 0.01, evalBatches: undefined, onProgress: (p: TrainProgress) => norms.push(p.gradNorm) }));
    expect(norms[0]).toBeGreaterThan(0.01);
    expect(s.finalLoss).toBeLessThan(s.initialLoss);
    dispose(model);
  });

  it('leaves frozen parameters bit-identical', async () => {
    const model = createLinearModel(V, D, 4);
    const before = Array.from(await model.params.get('embed.weight')!.data());
    const headBefore = Array.from(await model.params.get('lm_head.weight')!.data());
    await train(opts(model, { steps: 5, trainable: (n: string) => n !== 'embed.weight', evalBatches: undefined }));
    expect(Array.from(await model.params.get('embed.weight')!.data())).toEqual(before);
    expect(Array.from(await model.params.get('lm_head.weight')!.data())).not.toEqual(headBefore);
    dispose(model);
  });

  it('resumes after a crash and reproduces the uninterrupted loss curve, log and weights exactly', async () => {
    const base = { steps: 12, logEvery: 1, checkpointEvery: 4, evalEvery: 4 };
    const full = createLinearModel(V, D, 5);
    const outA = join(work, 'uninterrupted');
    const a = await train(opts(full, { ...base, outDir: outA }));

    const crashed = createLinearModel(V, D, 5);
    const outB = join(work, 'crashed');
    const crash = new Error('simulated crash');
    await expect(
      train(opts(crashed, { ...base, outDir: outB, onProgress: (p: TrainProgress) => { if (p.step === 10) throw crash; } })),
    ).rejects.toBe(crash);
    dispose(crashed);
    expect(listCheckpoints(outB).map((c) => c.step)).toEqual([4, 8]);

    const resumed = createLinearModel(V, D, 99); // different init: everything must come from the checkpoint
    const b = await train(opts(resumed, { ...base, outDir: outB }));
    expect(b.startStep).toBe(8);
    expect(b.resumedFrom).toBe(join(outB, 'step-00000008'));
    expect(b.losses).toEqual(a.losses.slice(8));
    expect(b.finalValLoss).toBe(a.finalValLoss);
    expect(readLog(join(outB, 'train.jsonl'))).toEqual(readLog(join(outA, 'train.jsonl')));
    for (const [name, v] of full.params) expect(Array.from(await resumed.params.get(name)!.data())).toEqual(Array.from(await v.data()));
    expect(readCheckpoint(join(outB, 'step-00000012')).manifest.contentHash).toBe(readCheckpoint(join(outA, 'step-00000012')).manifest.contentHash);
    expect(readdirSync(outB).sort()).toEqual(['step-00000008', 'step-00000012', 'train.jsonl']);
    dispose(full);
    dispose(resumed);
  });

  it('refuses to resume with another seed, naming both', async () => {
    const out = join(work, 'seeded');
    const m = createLinearModel(V, D, 6);
    await train(opts(m, { steps: 2, outDir: out, seed: 1, evalBatches: undefined }));
    await expect(train(opts(m, { steps: 4, outDir: out, seed: 2, evalBatches: undefined }))).rejects.toThrow(/used seed 1, this run seed 2/);
    dispose(m);
  });

  it('stops on a non-finite loss with E_NONFINITE naming the step and keeps the last good checkpoint', async () => {
    const out = join(work, 'nan');
    const m = createLinearModel(V, D, 7);
    // LR = 1e20·s: step 1 trains at LR 0, step 2 blows the weights up to ~1e19, step 3's logits overflow.
    const run = train(opts(m, { steps: 10, lr: { peak: 1e21, warmup: 10 }, logEvery: 1, checkpointEvery: 1, keepCheckpoints: 5, outDir: out, evalBatches: undefined }));
    const err = (await run.catch((e: unknown) => e)) as BamError;
    expect(err).toBeInstanceOf(BamError);
    expect(err.code).toBe('E_NONFINITE');
    expect(err.message).toMatch(/non-finite (loss|gradient norm) at step 3 \(batch 2\)/);
    expect(err.message).toContain(join(out, 'step-00000002'));
    expect(latestCheckpoint(out)).toBe(join(out, 'step-00000002'));
    const ck = readCheckpoint(latestCheckpoint(out)!);
    expect(ck.manifest.trainState.step).toBe(2);
    for (const t of ck.weights.values()) expect(Array.from(t.data).every(Number.isFinite)).toBe(true);
    dispose(m);
  });
});
