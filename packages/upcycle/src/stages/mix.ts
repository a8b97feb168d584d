/**
 * Stage `mix`: builds a mixture checkpoint from the N dense checkpoints by a recipe (BAM paper
 * §4.1, phase 3; the recipes are in `../recipes`). Sources are in mixture order: the domain
 * experts in the preset's domain order, then the seed (the general expert).
 */
import { basename, join } from 'node:path';
import { paramCounts } from '@bam/core';
import { configHash } from '@bam/utils';
import type { ResolvedRecipeEntry } from '../config.ts';
import { buildMixture, resolveRecipe } from '../recipes/index.ts';
import type { StageOutcome } from '../store.ts';
import { denseSourceOf, saveTensors, type CheckpointStageResult, type StageContext } from './context.ts';

/** One dense model going into a mixture: its domain (`general` for the seed) and its artifact. */
export interface DenseInput {
  domain: string;
  outcome: StageOutcome<CheckpointStageResult>;
}

/** What a mixture's content hash covers: the recipe, its parsed options and the sources' contents. */
export function mixStageInputs(entry: Pick<ResolvedRecipeEntry, 'id' | 'options'>, dense: readonly DenseInput[]): Record<string, unknown> {
  const { options } = resolveRecipe(entry.id, entry.options);
  return { recipe: entry.id, options, sources: dense.map((d) => ({ domain: d.domain, contentHash: d.outcome.result.contentHash })) };
}

/** Builds (or reuses) the untrained mixture of `entry` from the dense models. */
export async function runMixStage(ctx: StageContext, entry: ResolvedRecipeEntry, dense: readonly DenseInput[]): Promise<StageOutcome<CheckpointStageResult>> {
  const inputs = mixStageInputs(entry, dense);
  return ctx.store.run(
    'mix',
    inputs,
    async (dir) => {
      const sources = dense.map((d) => denseSourceOf(d.outcome.checkpointDir, `${d.domain} (${d.outcome.checkpointDir})`));
      const mixture = buildMixture(entry.id, sources, entry.options);
      const contentHash = await saveTensors(join(dir, 'model'), {
        config: mixture.config,
        tokenizer: mixture.tokenizer,
        tensors: mixture.tensors,
        trainState: { step: 0, tokensSeen: 0, flopsSpent: 0, seed: ctx.preset.seed },
        meta: { stage: 'mix', artifact: basename(dir), preset: ctx.preset.name, name: entry.name, experts: dense.map((d) => d.domain), ...mixture.meta },
      });
      const counts = paramCounts(mixture.config);
      ctx.log(`mix ${entry.name}: built from ${dense.length} dense models (${counts.total.toLocaleString('en')} params, ${counts.active.toLocaleString('en')} active)`);
      return {
        checkpoint: 'model',
        contentHash,
        tokensSeen: 0,
        flopsSpent: 0,
        steps: 0,
        metrics: {},
        params: { total: counts.total, active: counts.active },
        configHash: configHash(mixture.config),
      };
    },
    { log: ctx.log, signal: ctx.signal },
  );
}
