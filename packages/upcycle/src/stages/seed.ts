/**
 * Stage `seed`: pre-trains the dense seed on general text (BAM paper §4.1, phase 1). The seed is
 * also the N-th, general expert of every mixture.
 */
import { basename } from 'node:path';
import { formatMix, parseMixSpec } from '@bam/core';
import type { StageOutcome } from '../store.ts';
import { trainIntoStage, type CheckpointStageResult, type StageContext } from './context.ts';

/** What the seed's content hash covers. */
export function seedStageInputs(ctx: StageContext): Record<string, unknown> {
  const { preset, config, tokenizer } = ctx;
  return {
    model: config,
    tokenizer: tokenizer.id,
    mix: formatMix(parseMixSpec({ general: 1 })),
    steps: preset.stages.seed.steps,
    lr: preset.stages.seed.lr,
    batchSize: preset.batchSize,
    seqLen: preset.seqLen,
    weightDecay: preset.weightDecay,
    clipNorm: preset.clipNorm,
    seed: preset.seed,
    evalBatches: preset.evalBatches,
  };
}

/** Trains (or reuses) the dense seed. */
export async function runSeedStage(ctx: StageContext): Promise<StageOutcome<CheckpointStageResult>> {
  const { preset } = ctx;
  const inputs = seedStageInputs(ctx);
  const mix = parseMixSpec({ general: 1 });
  return ctx.store.run(
    'seed',
    inputs,
    (dir) =>
      trainIntoStage({
        ctx,
        dir,
        label: 'seed',
        config: ctx.config,
        init: { seed: preset.seed },
        mix,
        steps: preset.stages.seed.steps,
        lr: preset.stages.seed.lr,
        dataSeed: preset.seed,
        meta: { stage: 'seed', artifact: basename(dir), preset: preset.name, domain: 'general', mix: formatMix(mix) },
      }),
    { log: ctx.log, signal: ctx.signal },
  );
}
