import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { latestCheckpoint, listCheckpoints, readCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { STOP_RECORD, TrainingStoppedError } from '../../src/train/reporting.ts';
import { train } from '../../src/train/trainer.ts';
import { createLinearModel, linearLoss, stepSource, type LinearModel } from './linear-model.ts';

const V = 16;
const D = 8;
const work = mkdtempSync(join(tmpdir(), 'bam-diverge-'));
const tokenizer = { id: 'test-16', vocabSize: V };
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

const dispose = (m: LinearModel) => m.params.forEach((v) => v.dispose());
const common = { batches: stepSource(V, 4, 8), loss: linearLoss, tokenizer, logEvery: 1, evalBatches: undefined };
const maxAbs = (dir: string) => Math.max(...[...readCheckpoint(dir).weights.values()].flatMap((t) => Array.from(t.data, Math.abs)));

/** Runs 40 steps at a huge peak LR (warm-up 20) until the stop, and returns the error. */
async function stopped(model: LinearModel, out: string, extra: Record<string, unknown> = {}): Promise<TrainingStoppedError> {
  const err = await train({ ...common, model, steps: 40, lr: { peak: 1e3, warmup: 20 }, checkpointEvery: 2, outDir: out, ...extra }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TrainingStoppedError);
  return err as TrainingStoppedError;
}

describe('training stops on divergence and keeps a healthy checkpoint', () => {
  it('stops with E_DIVERGED while the loss is still finite, naming a checkpoint from before the divergence', async () => {
    const out = join(work, 'diverge');
    const m = createLinearModel(V, D, 1);
    const err = await stopped(m, out);
    dispose(m);
    expect(err.code).toBe('E_DIVERGED');
    const r = err.record;
    expect(r.reason).toBe('divergence');
    expect(err.message).toContain(`at step ${r.step} (batch ${r.step - 1})`);
    // The healthy checkpoint comes before the failing step, and its weights are of init size (the init is N(0, 0.5)).
    const healthy = r.healthyCheckpoint!;
    expect(err.message).toContain(healthy);
    expect(readCheckpoint(healthy).manifest.trainState.step).toBeLessThan(r.step);
    expect(maxAbs(healthy)).toBeLessThan(3);
    // The record is on disk and in the log, with the default thresholds.
    const onDisk = JSON.parse(readFileSync(join(out, STOP_RECORD), 'utf8'));
    expect(onDisk).toMatchObject({ step: r.step, reason: 'divergence', healthyCheckpoint: healthy });
    expect(onDisk.thresholds).toEqual({ lossRatio: 3, minLossRise: 1, gradNormRatio: 10, emaBeta: 0.9, warmupSteps: 10 });
    const log = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.at(-1)).toMatchObject({ kind: 'stop', step: r.step });
    expect(readCheckpoint(healthy).manifest.meta.divergence).toMatchObject({ thresholds: { lossRatio: 3 } });
  });

  it('refuses a plain resume past the stop, then continues from the healthy checkpoint at a lower LR to a falling finite loss', async () => {
    const out = join(work, 'diverge');
    const m = createLinearModel(V, D, 99);
    const sane = { ...common, model: m, steps: 40, lr: { peak: 0.05, warmup: 3 }, checkpointEvery: 2, outDir: out };
    const err = (await train(sane).catch((e: unknown) => e)) as TrainingStoppedError;
    expect(err).toBeInstanceOf(TrainingStoppedError);
    expect(err.message).toMatch(/^this run stopped earlier: /);
    const healthy = err.record.healthyCheckpoint!;
    const suspect = err.record.suspectCheckpoints;

    const s = await train({ ...sane, resumeFrom: healthy });
    dispose(m);
    expect(s.resumedFrom).toBe(healthy);
    expect(s.losses.every(Number.isFinite)).toBe(true);
    expect(s.finalLoss).toBeLessThan(0.5 * s.losses[0]);
    // The diverging checkpoints were moved aside, not deleted; the stop record is kept as history.
    for (const d of suspect) expect(existsSync(d)).toBe(false);
    expect(readdirSync(out).filter((n) => n.includes('.diverged-'))).toHaveLength(suspect.length);
    expect(existsSync(join(out, STOP_RECORD))).toBe(false);
    expect(readdirSync(out).filter((n) => /^diverged-.*\.json$/.test(n))).toHaveLength(1);
    expect(latestCheckpoint(out)).toBe(join(out, 'step-00000040'));
  });

  it('never rotates the healthy checkpoint away, even with keepCheckpoints 1', async () => {
    const out = join(work, 'keep-one');
    const m = createLinearModel(V, D, 2);
    const err = await stopped(m, out, { keepCheckpoints: 1, checkpointEvery: 1 });
    dispose(m);
    const healthyStep = readCheckpoint(err.record.healthyCheckpoint!).manifest.trainState.step;
    // The checkpoint after step k is confirmed by step k + 1, so the healthy one is two before the failing step;
    // it stays beside the newest (suspect) one although keep is 1.
    expect(healthyStep).toBe(err.record.step - 2);
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([healthyStep, err.record.step - 1]);
  });

  it('keeps the saved start only until a later checkpoint is confirmed healthy', async () => {
    const out = join(work, 'normal');
    const m = createLinearModel(V, D, 3);
    const s = await train({ ...common, model: m, steps: 10, lr: { peak: 0.05, warmup: 3 }, checkpointEvery: 4, outDir: out });
    dispose(m);
    expect(s.losses.every(Number.isFinite)).toBe(true);
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([8, 10]);
    expect(existsSync(join(out, STOP_RECORD))).toBe(false);
  });

  it('stops on a gradient-norm spike under configured thresholds (the loss check off)', async () => {
    const out = join(work, 'grad');
    const m = createLinearModel(V, D, 4);
    const err = await stopped(m, out, { divergence: { lossRatio: 0, gradNormRatio: 5, warmupSteps: 1 } });
    dispose(m);
    expect(err.code).toBe('E_DIVERGED');
    expect(err.message).toContain('gradient norm');
    expect(err.record.thresholds).toMatchObject({ lossRatio: 0, gradNormRatio: 5, warmupSteps: 1 });
  });
});
