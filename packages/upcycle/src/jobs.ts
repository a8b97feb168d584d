/**
 * The independent units of the pipeline that may run in parallel (the N−1 experts; the mixture
 * trainings), as plain JSON so they cross worker messages, and the one function that runs a job
 * on the current thread — the same code whether a worker or the main thread runs it.
 */
import type { Domain } from '@bam/core';
import type { MixturePlan } from './budget.ts';
import type { ExpertDomain, UpcyclePreset } from './config.ts';
import { recipeConfig, resolveRecipe } from './recipes/index.ts';
import type { AbortFlag, StageOutcome } from './store.ts';
import { createStageContext, type CheckpointStageResult } from './stages/context.ts';
import { runExpertStage } from './stages/experts.ts';
import { runTrainMixtureStage, trainMixtureOptions } from './stages/train-mixture.ts';

/** One parallel unit of work (plain JSON). */
export type UpcycleJob =
  | { kind: 'expert'; preset: UpcyclePreset; artifactsDir: string; resumeLrScale?: number; seedCheckpoint?: string; data?: Partial<Record<Domain, string>>; branch: StageOutcome<CheckpointStageResult>; domain: ExpertDomain }
  | {
      kind: 'train-mixture';
      preset: UpcyclePreset;
      artifactsDir: string;
      /** `StageContext.resumeLrScale`. */
      resumeLrScale?: number;
      /** `StageContext.seedCheckpoint`: the model config and tokenizer come from it. */
      seedCheckpoint?: string;
      /** `StageContext.data`: the user's text files by domain. */
      data?: Partial<Record<Domain, string>>;
      name: string;
      recipe: { id: string; options: Record<string, unknown> };
      numExperts: number;
      mix: StageOutcome<CheckpointStageResult>;
      plan: MixturePlan;
    };

/** A short name of a job for progress lines. */
export function jobLabel(job: UpcycleJob): string {
  return job.kind === 'expert' ? `expert ${job.domain}` : `train-mixture ${job.name} (${job.plan.budget})`;
}

/** Runs one job on this thread; `log` gets its progress lines. */
export async function runUpcycleJob(job: UpcycleJob, log: (line: string) => void, signal?: AbortFlag): Promise<StageOutcome<CheckpointStageResult>> {
  const ctx = createStageContext(job.preset, job.artifactsDir, { log, signal, resumeLrScale: job.resumeLrScale, seedCheckpoint: job.seedCheckpoint, data: job.data });
  if (job.kind === 'expert') return runExpertStage(ctx, job.branch, job.domain);
  const config = recipeConfig(job.recipe.id, ctx.config, job.numExperts, job.recipe.options);
  const opts = trainMixtureOptions(resolveRecipe(job.recipe.id, job.recipe.options).options, job.preset.stages.mixture);
  return runTrainMixtureStage(ctx, job.name, config, job.mix, job.plan, opts);
}
