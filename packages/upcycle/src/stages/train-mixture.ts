/**
 * Stage `train-mixture`: trains a mixture on equal parts of general text and each expert domain
 * (the paper: 25% each of general, code, law, math) for the rows its budget plan allows (see
 * `../budget.ts`). Every variant draws the same batches (one data seed), so data-matched runs see
 * the same tokens and compute-matched runs a prefix of them. The budget's name is not hashed, only
 * the resolved length: BTX's compute-matched run *is* its data-matched run, and is built once.
 */
import { basename } from 'node:path';
import { BamError, encodeDocs, formatMix, isExpertKey, parseMixSpec, parseParamName, readTextFile, type DataMixture, type Domain, type ModelConfig, type TokenArray } from '@bam/core';
import { plannedBatches, type MixturePlan } from '../budget.ts';
import type { StageOutcome } from '../store.ts';
import { derivedSeed, trainIntoStage, type CheckpointStageResult, type StageContext } from './context.ts';

/** The mixture-phase data: equal parts of general and each of the preset's expert domains. */
export function mixturePhaseMix(ctx: StageContext): DataMixture {
  const domains = ['general', ...ctx.preset.domains];
  return parseMixSpec(Object.fromEntries(domains.map((d) => [d, 1 / domains.length])));
}

/** The user's text files of the mixture phase, read (a DataError names a missing, empty or bad file). */
function readMixtureData(ctx: StageContext): Array<{ domain: Domain; file: ReturnType<typeof readTextFile> }> {
  return Object.entries(ctx.data ?? {}).map(([domain, path]) => ({ domain: domain as Domain, file: readTextFile(path!) }));
}

/** The user's text as token streams by domain (`createBatchSource`'s `streams`), or undefined without `ctx.data`. */
function mixtureDataStreams(ctx: StageContext): Partial<Record<Domain, TokenArray>> | undefined {
  if (!ctx.data) return undefined;
  return Object.fromEntries(readMixtureData(ctx).map(({ domain, file }) => [domain, encodeDocs(file.docs, ctx.tokenizer)]));
}

/**
 * Checks the user's mixture-phase text before any work: each file readable and non-empty (JSONL
 * lines valid), for a domain the mixture phase trains on, and at least one row (seqLen + 1 tokens) long.
 */
export function checkMixtureData(ctx: StageContext): void {
  const domains = Object.keys(mixturePhaseMix(ctx));
  for (const [domain, tokens] of Object.entries(mixtureDataStreams(ctx) ?? {})) {
    if (!domains.includes(domain)) {
      throw new BamError(`--data ${domain}=${ctx.data![domain as Domain]}: the mixture phase does not train on '${domain}'`, 'E_OPTION', `its domains: ${domains.join(', ')}`);
    }
    if (tokens!.length < ctx.preset.seqLen + 1) {
      throw new BamError(`data file ${ctx.data![domain as Domain]} has ${tokens!.length} tokens, fewer than one row (seqLen + 1 = ${ctx.preset.seqLen + 1})`, 'E_DATA', 'give more text');
    }
  }
}

/** The mixture phase's data seed: from `mixtureSeed` when set, else from `seed`. */
export function mixtureDataSeed(ctx: StageContext): number {
  const { seed, mixtureSeed } = ctx.preset;
  return mixtureSeed === null ? derivedSeed(seed, 'mixture') : derivedSeed(seed, 'mixture', String(mixtureSeed));
}

/** How a mixture trains beyond its plan (the recipe's training options). */
export interface TrainMixtureOptions {
  /** Keep every FFN and attention expert tensor fixed; train the routers and the averaged/shared weights only. */
  freezeExperts?: boolean;
  /** The routers' learning rate as a multiple of the mixture LR (recipe option `routerLrScale`; default 1). */
  routerLrScale?: number;
}

/**
 * The training options among a recipe's parsed options (`resolveRecipe(...).options`); a recipe
 * without its own `routerLrScale` takes the preset's mixture-stage one (`stages.mixture.routerLrScale`).
 */
export function trainMixtureOptions(recipeOptions: Record<string, unknown>, mixtureStage: { routerLrScale?: number } = {}): TrainMixtureOptions {
  const { freezeExperts } = recipeOptions;
  const routerLrScale = recipeOptions.routerLrScale ?? mixtureStage.routerLrScale;
  return {
    ...(freezeExperts === true ? { freezeExperts: true } : {}),
    ...(typeof routerLrScale === 'number' && routerLrScale !== 1 ? { routerLrScale } : {}),
  };
}

/** Validation points of a mixture's recovery curve besides step 0 (the trainer evaluates every ⌈steps / this⌉ steps and at the end). */
export const RECOVERY_CURVE_POINTS = 10;

/**
 * What a trained mixture's content hash covers (`frozen` and `routerLrScale` only when set, so
 * other hashes are unchanged). The recovery curve's schedule is fixed by the stage version.
 */
export function trainMixtureStageInputs(
  ctx: StageContext,
  mix: StageOutcome<CheckpointStageResult>,
  plan: MixturePlan,
  opts: TrainMixtureOptions = {},
): Record<string, unknown> {
  const { preset } = ctx;
  return {
    ...(opts.freezeExperts ? { frozen: 'experts' } : {}),
    ...(opts.routerLrScale !== undefined ? { routerLrScale: opts.routerLrScale } : {}),
    parent: mix.result.contentHash,
    mix: formatMix(mixturePhaseMix(ctx)),
    rows: plan.rows,
    steps: plan.steps,
    batchSize: preset.batchSize,
    seqLen: preset.seqLen,
    lr: preset.stages.mixture.lr,
    weightDecay: preset.weightDecay,
    clipNorm: preset.clipNorm,
    dataSeed: mixtureDataSeed(ctx),
    evalBatches: preset.evalBatches,
    tokenizer: ctx.tokenizer.id,
    // Only with the user's own text, so every other artifact keeps its hash.
    ...(ctx.data ? { data: Object.fromEntries(readMixtureData(ctx).map(({ domain, file }) => [domain, file.sha256])) } : {}),
  };
}

/** The trainer's `lrScale` giving every router tensor (`layers.{l}.{attn|ffn}.router`, `routers.*`) `scale`× the LR. */
export function routerLrScale(scale: number): (name: string) => number {
  return (name) => (parseParamName(name).part === 'router' ? scale : 1);
}

/** A trained mixture's result: the checkpoint stage result plus its plan's numbers. */
export interface TrainMixtureResult extends CheckpointStageResult {
  rows: number;
  flopsPerToken: number;
}

/** Trains (or reuses) the mixture `mix` (config `config`) for `plan`. */
export async function runTrainMixtureStage(
  ctx: StageContext,
  name: string,
  config: ModelConfig,
  mix: StageOutcome<CheckpointStageResult>,
  plan: MixturePlan,
  opts: TrainMixtureOptions = {},
): Promise<StageOutcome<TrainMixtureResult>> {
  const { preset } = ctx;
  const inputs = trainMixtureStageInputs(ctx, mix, plan, opts);
  const data = mixturePhaseMix(ctx);
  const label = `train-mixture ${name} (${plan.budget})`;
  return ctx.store.run(
    'train-mixture',
    inputs,
    async (dir) => {
      const r = await trainIntoStage({
        ctx,
        dir,
        label,
        config,
        init: { checkpoint: mix.checkpointDir },
        mix: data,
        steps: plan.steps,
        lr: { ...preset.stages.mixture.lr, warmup: Math.min(preset.stages.mixture.lr.warmup, Math.max(0, plan.steps - 1)) },
        dataSeed: inputs.dataSeed as number,
        batches: (source) => plannedBatches(source, plan),
        ...(opts.freezeExperts ? { trainable: (name: string) => !isExpertKey(parseParamName(name)) } : {}),
        ...(opts.routerLrScale !== undefined ? { lrScale: routerLrScale(opts.routerLrScale) } : {}),
        // The mixture's loss before any update and its recovery, on held-out text of the phase's mix.
        curve: { mix: data, every: Math.max(1, Math.ceil(plan.steps / RECOVERY_CURVE_POINTS)), batches: preset.evalBatches },
        ...(ctx.data ? { streams: mixtureDataStreams(ctx) } : {}),
        meta: {
          stage: 'train-mixture',
          artifact: basename(dir),
          preset: preset.name,
          name,
          mix: formatMix(data),
          ...(ctx.data ? { data: Object.fromEntries(readMixtureData(ctx).map(({ domain, file }) => [domain, { path: file.path, sha256: file.sha256 }])) } : {}),
          ...(opts.freezeExperts ? { frozen: 'experts (FFN and attention experts not trained)' } : {}),
          ...(opts.routerLrScale !== undefined ? { routerLrScale: opts.routerLrScale } : {}),
          parent: { checkpoint: mix.checkpointDir, contentHash: mix.result.contentHash },
          plan: { rows: plan.rows, steps: plan.steps, lastBatchRows: plan.lastBatchRows, tokens: plan.tokens, flopsPerToken: plan.flopsPerToken, flops: plan.flops },
        },
      });
      return { ...r, rows: plan.rows, flopsPerToken: plan.flopsPerToken };
    },
    { log: ctx.log, signal: ctx.signal },
  );
}
