/**
 * The mixture phase's study options end to end on the micro preset: the loss at step 0 and the
 * recovery curve in the training log, `mixtureSteps`, `routerLrScale` (one step's router update
 * scales by it), `start`, and the artifact hashes they change.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeLoss, createBatchSource, disposeModel, evaluateLoss, loadCheckpoint, parseModelConfig, parseParamName, readCheckpoint, type ModelConfig } from '@bam/core';
import {
  VALIDATION_SEED,
  createStageContext,
  domainValidationLosses,
  mixturePhaseMix,
  stageTrainingLog,
  toF32,
  upcycle,
  type MixtureArtifact,
  type UpcycleResult,
} from '../src/index.ts';
import { microPreset, scratchDirs, useWasm } from './helpers.ts';

const fresh = scratchDirs();
const preset = microPreset({
  stages: {
    seed: { steps: 3, lr: { peak: 0.003, warmup: 1 } },
    experts: { steps: 2 },
    mixture: { steps: 4, lr: { peak: 0.002, warmup: 1 } },
  },
  recipes: [
    'btx',
    { id: 'btx', name: 'btx-renormalised', options: { start: 'renormalised' } },
    { id: 'btx', name: 'btx-1', options: { mixtureSteps: 1 } },
    { id: 'btx', name: 'btx-1-router10', options: { mixtureSteps: 1, routerLrScale: 10 } },
  ],
  budgets: ['data-matched'],
});

let r: UpcycleResult;
beforeAll(async () => {
  await useWasm();
  r = await upcycle(preset, { artifactsDir: fresh('phase'), workers: 1 });
});

const loadCheckpointConfig = (dir: string): ModelConfig => parseModelConfig(readCheckpoint(dir).manifest.config, dir);
const mixture = (name: string): MixtureArtifact => r.mixtures.find((m) => m.recipe === name)!;
const logLines = (m: MixtureArtifact): Array<Record<string, number | string>> =>
  readFileSync(stageTrainingLog(m.checkpoint), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, number | string>);

describe('the loss at step 0 and the recovery curve', () => {
  it("logs the untrained mixture's validation loss at step 0 (before any update), equal to the mix checkpoint's loss on the phase's validation text", async () => {
    const ctx = createStageContext(preset, r.artifactsDir);
    for (const name of ['btx', 'btx-renormalised']) {
      const m = mixture(name);
      const first = logLines(m)[0];
      expect(first).toMatchObject({ kind: 'eval', step: 0 });
      const { model } = loadCheckpoint(m.mixCheckpoint);
      const val = createBatchSource({ tokenizer: ctx.tokenizer, mix: mixturePhaseMix(ctx), split: 'validation', batchSize: preset.batchSize, seqLen: preset.seqLen, seed: VALIDATION_SEED });
      const want = await evaluateLoss(model, val, preset.evalBatches!, computeLoss);
      disposeModel(model);
      expect(Math.abs((first.valLoss as number) - want.nll)).toBeLessThan(1e-5);
    }
  });

  it('logs a validation point every ⌈steps / 10⌉ steps through the end: steps 0..4 of a 4-step phase', () => {
    const steps = logLines(mixture('btx'))
      .filter((l) => l.kind === 'eval')
      .map((l) => l.step);
    expect(steps).toEqual([0, 1, 2, 3, 4]);
  });

  it("records the untrained mixture's per-domain validation losses as step0 (the batches of the trained mixture's metrics)", async () => {
    const ctx = createStageContext(preset, r.artifactsDir);
    const m = mixture('btx');
    const { model } = loadCheckpoint(m.mixCheckpoint);
    const want = await domainValidationLosses(model, ctx.tokenizer, preset.batchSize, preset.seqLen, preset.evalBatches!);
    disposeModel(model);
    expect(Object.keys(m.step0).sort()).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) expect(Math.abs(m.step0[k]! - want[k])).toBeLessThan(1e-6);
    expect(readCheckpoint(m.mixCheckpoint).manifest.metrics).toEqual(m.step0);
    // The renormalised start is another mixture with other step-0 losses.
    expect(mixture('btx-renormalised').step0['val.mean']).not.toBe(m.step0['val.mean']);
  });
});

describe('study options of the mixture phase', () => {
  it('mixtureSteps sets the data-matched length; each option gives its own trained artifact', () => {
    expect(mixture('btx').plan.steps).toBe(4);
    expect(mixture('btx-1').plan.steps).toBe(1);
    expect(mixture('btx-1').tokensSeen).toBe(preset.batchSize * preset.seqLen!);
    expect(new Set(r.mixtures.map((m) => m.hash)).size).toBe(4);
    // The training-only options share btx's mix artifact.
    expect(new Set(['btx', 'btx-1', 'btx-1-router10'].map((n) => mixture(n).mixCheckpoint)).size).toBe(1);
    expect(loadCheckpointConfig(mixture('btx-renormalised').checkpoint).ffn).toMatchObject({ router: { normalize: 'straight-through' } });
  });

  it("routerLrScale 10 makes one step's router update 10× larger and leaves every other update bit-identical", () => {
    // Both start from identical tensors (the same config and router init); AdamW's first step is lr·ĝ with decay lr·λ·p, linear in lr.
    const [a, b] = [mixture('btx-1'), mixture('btx-1-router10')];
    expect(readCheckpoint(a.mixCheckpoint).manifest.contentHash).toBe(readCheckpoint(b.mixCheckpoint).manifest.contentHash);
    const start = readCheckpoint(a.mixCheckpoint).weights;
    const [wa, wb] = [readCheckpoint(a.checkpoint).weights, readCheckpoint(b.checkpoint).weights];
    let routers = 0;
    for (const [name, t0] of start) {
      const x0 = toF32(name, t0).data;
      const [xa, xb] = [toF32(name, wa.get(name)!).data, toF32(name, wb.get(name)!).data];
      if (parseParamName(name).part !== 'router') {
        expect(Array.from(xb)).toEqual(Array.from(xa));
        continue;
      }
      routers++;
      let num = 0;
      let den = 0;
      for (let i = 0; i < x0.length; i++) {
        num += (xb[i] - x0[i]) * (xa[i] - x0[i]);
        den += (xa[i] - x0[i]) ** 2;
        expect(Math.abs(xb[i] - x0[i] - 10 * (xa[i] - x0[i]))).toBeLessThan(1e-3 * Math.abs(10 * (xa[i] - x0[i])) + 1e-7);
      }
      expect(num / den).toBeCloseTo(10, 3);
    }
    expect(routers).toBe(1);
    expect(readCheckpoint(b.checkpoint).manifest.meta.routerLrScale).toBe(10);
  });

  it("a preset's stages.mixture.routerLrScale applies to every recipe that sets none, and a recipe's own wins", async () => {
    const scaled = {
      ...preset,
      stages: { ...preset.stages, mixture: { ...preset.stages.mixture, routerLrScale: 10 } },
      recipes: [
        { id: 'btx', name: 'btx-1', options: { mixtureSteps: 1 } },
        { id: 'btx', name: 'btx-1-own1', options: { mixtureSteps: 1, routerLrScale: 1 } },
      ],
    };
    const r2 = await upcycle(scaled, { artifactsDir: r.artifactsDir, workers: 1 });
    const byName = (name: string) => r2.mixtures.find((m) => m.recipe === name)!.checkpoint;
    // The same artifacts as the recipe-level runs above: the preset's scale is the recipe's default.
    expect(byName('btx-1')).toBe(mixture('btx-1-router10').checkpoint);
    expect(byName('btx-1-own1')).toBe(mixture('btx-1').checkpoint);
  });
});
