/**
 * Stage `experts`: continued pre-training (CPT) of one branch on its domain (BAM paper §4.1,
 * phase 2): the mix holds `generalShare` (10%) general text, and the peak LR is `lrRatio` (50%) of
 * the seed's, with the seed's warm-up-then-cosine shape.
 */
import { basename } from 'node:path';
import { expertMix, formatMix, type LrSchedule } from '@bam/core';
import type { ExpertDomain } from '../config.ts';
import type { StageOutcome } from '../store.ts';
import { derivedSeed, trainIntoStage, type CheckpointStageResult, type StageContext } from './context.ts';

/** The CPT learning-rate schedule of the preset: lrRatio × the seed's peak. */
export function expertLr(ctx: StageContext): LrSchedule {
  const { seed, experts } = ctx.preset.stages;
  return { peak: seed.lr.peak * experts.lrRatio, warmup: experts.warmup, minRatio: seed.lr.minRatio };
}

/** What an expert's content hash covers. */
export function expertStageInputs(ctx: StageContext, branch: StageOutcome<CheckpointStageResult>, domain: ExpertDomain): Record<string, unknown> {
  const { preset } = ctx;
  return {
    parent: branch.result.contentHash,
    domain,
    mix: formatMix(expertMix(domain, preset.generalShare)),
    steps: preset.stages.experts.steps,
    lr: expertLr(ctx),
    batchSize: preset.batchSize,
    seqLen: preset.seqLen,
    weightDecay: preset.weightDecay,
    clipNorm: preset.clipNorm,
    dataSeed: derivedSeed(preset.seed, 'expert', domain),
    evalBatches: preset.evalBatches,
    tokenizer: ctx.tokenizer.id,
  };
}

/** Trains (or reuses) the `domain` expert from its branch. */
export async function runExpertStage(ctx: StageContext, branch: StageOutcome<CheckpointStageResult>, domain: ExpertDomain): Promise<StageOutcome<CheckpointStageResult>> {
  const { preset } = ctx;
  const inputs = expertStageInputs(ctx, branch, domain);
  const mix = expertMix(domain, preset.generalShare);
  return ctx.store.run(
    'expert',
    inputs,
    (dir) =>
      trainIntoStage({
        ctx,
        dir,
        label: `expert ${domain}`,
        config: ctx.config,
        init: { checkpoint: branch.checkpointDir },
        mix,
        steps: preset.stages.experts.steps,
        lr: expertLr(ctx),
        dataSeed: inputs.dataSeed as number,
        meta: { stage: 'expert', artifact: basename(dir), preset: preset.name, domain, mix: formatMix(mix), parent: { checkpoint: branch.checkpointDir, contentHash: branch.result.contentHash } },
      }),
    { log: ctx.log, signal: ctx.signal },
  );
}
