/**
 * The mixture variants: one per upcycle recipe (BTX, BAM-full, BAM-KV-shared and the paper's
 * extra baselines), each trained under a budget — data-matched (the same mixture-phase tokens for
 * every variant) or compute-matched (the FLOPs BTX spends on them) — so the sweep runs each once
 * per configured budget. Options are the recipe's own (router init, FFN/attention router, and
 * the mixture-phase studies `start`, `loadBalance`, `routerLrScale`, `mixtureSteps`: upcycle's
 * recipes/types.ts) plus `preset`, and the bring-your-own `seedCheckpoint`/`expertCheckpoints`/`data`
 * (see `ByoOptions`); the recipe's schema checks them when the sweep config is checked.
 */
import { z } from 'zod';
import { BamError, InvariantError } from '@bam/core';
import { defineVariant, type PluginContext, type VariantPlugin } from '@bam/eval';
import { resolveRecipe, type Recipe } from '@bam/upcycle';
import { loadLanguageModel } from '../lm/index.ts';
import { ensureBackend } from './backend.ts';
import { ByoOptions, PresetOption, budgetsWith, checkByoOptions, ensurePipeline, givenOf, pipelineTrainingLogs, presetForSeed, recipeEntryFor, seedLabel, type ByoValues, type PipelineRequest } from './pipeline.ts';

/** Options of a mixture variant: the recipe's options and the upcycle preset. */
export type MixtureVariantOptions = Record<string, unknown> & { preset: string } & ByoValues;

/** The budget a job without one (a sweep with no `budgets`) evaluates. */
export const DEFAULT_BUDGET = 'data-matched' as const;

/**
 * The recipe's options object with `preset` and the bring-your-own options added (strict, not yet
 * refined: a study variant omits and extends it, then refines it with `withByoCheck`).
 */
export function mixtureOptionsObject(recipe: Recipe): z.ZodObject<z.ZodRawShape> {
  const base = recipe.options as unknown as z.ZodObject<z.ZodRawShape>;
  const added = ['preset', ...Object.keys(ByoOptions)];
  if (typeof base.extend !== 'function' || added.some((k) => k in base.shape)) {
    throw new InvariantError(`recipe '${recipe.id}' options are not an object schema without the keys ${added.join(', ')}`);
  }
  return base.extend({ preset: PresetOption, ...ByoOptions }).strict();
}

/** A mixture variant's options schema with the cross-field bring-your-own checks (`checkByoOptions`). */
export function withByoCheck(schema: z.ZodObject<z.ZodRawShape>): z.ZodType<MixtureVariantOptions> {
  return schema.superRefine((o, ctx) => checkByoOptions(o as ByoValues, ctx)) as unknown as z.ZodType<MixtureVariantOptions>;
}

/**
 * The recipe's options of a job: the variant's minus `preset` and the bring-your-own options.
 * Under a mixture seed the job's seed seeds the routers (`routerInit.seed`, which the parsed options always carry), as it does the
 * preset's own entries (upcycle's `withMixtureSeed`), so the variant finds its preset entry.
 */
function recipeOptions(opts: MixtureVariantOptions, ctx: PluginContext): Record<string, unknown> {
  const { preset: _preset, seedCheckpoint: _seed, expertCheckpoints: _experts, data: _data, ...rest } = opts;
  if (ctx.seedKind !== 'mixture' || !rest.routerInit || typeof rest.routerInit !== 'object') return rest;
  return { ...rest, routerInit: { ...rest.routerInit, seed: ctx.seed } };
}

/**
 * A variant plugin over the upcycle recipe `recipeId`, registered as `variantId`.
 * `prepare` builds (or reuses) the preset's whole pipeline for the job's seed: the seed, the
 * experts and every recipe of the preset (plus this one, when its options differ from the
 * preset's entries) under the job's budget. `create` loads the trained mixture
 * of this recipe under the job's budget (data-matched when the sweep names none).
 */
export function mixtureVariant(variantId: string, recipeId: string, description?: string): VariantPlugin<MixtureVariantOptions> {
  const { recipe } = resolveRecipe(recipeId);
  const request = (opts: MixtureVariantOptions, ctx: PluginContext): { req: PipelineRequest; name: string; budget: 'data-matched' | 'compute-matched' } => {
    const budget = ctx.budget ?? DEFAULT_BUDGET;
    const { preset, name } = recipeEntryFor(presetForSeed(opts.preset, ctx.seed, ctx.seedKind), recipe.id, recipeOptions(opts, ctx), variantId);
    const given = givenOf(opts);
    const byo = { ...(given ? { given } : {}), ...(opts.data ? { data: opts.data } : {}) };
    return { req: { preset, until: 'train-mixture', budgets: budgetsWith(preset, budget), ...byo }, name, budget };
  };
  return defineVariant<MixtureVariantOptions>({
    id: variantId,
    description: description ?? `${recipe.description} Trained under the sweep's budgets (data-matched, compute-matched).`,
    options: withByoCheck(mixtureOptionsObject(recipe)),
    usesBudget: true,
    setup: async (ctx) => {
      await ensureBackend(ctx.logger);
    },
    prepare: async (opts, ctx) => {
      const { req, name } = request(opts, ctx);
      const pipelineOpts = { artifactsDir: ctx.artifactsDir, logger: ctx.logger };
      try {
        // Every recipe of the preset at once: upcycle trains the mixtures side by side on its workers.
        await ensurePipeline(req, pipelineOpts);
      } catch (err) {
        // Another recipe's run failing (a divergence, say) must not fail this variant: build its own
        // recipe alone, reusing what the shared build finished. Its own failure is thrown from here.
        await ensurePipeline({ ...req, recipes: [name] }, pipelineOpts);
        ctx.logger.warn(`${variantId}: the preset's shared build failed (${(err as Error).message.split('\n')[0]}); built ${name} on its own`);
      }
    },
    create: async (opts, ctx) => {
      const { req, name, budget } = request(opts, ctx);
      // prepare built it: only look this recipe's checkpoint up (a missing one is an error, never trained here).
      const r = await ensurePipeline({ ...req, recipes: [name] }, { artifactsDir: ctx.artifactsDir, logger: ctx.logger, lookupOnly: true });
      const m = r.mixtures.find((x) => x.recipe === name && x.budget === budget);
      if (!m) {
        throw new BamError(
          `upcycle preset '${req.preset.name}' has no trained '${name}' mixture under the ${budget} budget`,
          'E_VARIANT',
          `trained: ${r.mixtures.map((x) => `${x.recipe} (${x.budget})`).join(', ') || 'none'}`,
        );
      }
      return loadLanguageModel(m.checkpoint, {
        name: `${req.preset.name}/${variantId}/${budget}/${seedLabel(ctx.seed, ctx.seedKind)}`,
        info: {
          variant: variantId,
          recipe: m.recipeId,
          preset: req.preset.name,
          budget,
          artifact: m.hash,
          tokensSeen: m.tokensSeen,
          flopsSpent: m.flopsSpent,
          params: m.params.total,
          activeParams: m.params.active,
          // The untrained mixture's mean validation NLL (the loss at step 0) and its checkpoint; the recovery curve is in trainingLogs.
          step0Loss: m.step0['val.mean'] ?? null,
          mixCheckpoint: m.mixCheckpoint,
          trainingLogs: pipelineTrainingLogs(r, { experts: req.preset.domains, mixture: { label: `${name} (${budget})`, checkpoint: m.checkpoint } }),
        },
      });
    },
  });
}

/** BTX (Sukhbaatar et al. 2024) as the BAM paper's baseline: averaged attention, FFN experts, top-1 router. */
export const btxVariant = mixtureVariant('btx', 'btx');
/** BAM with a soft mixture of N full attention experts (own Wq, Wk, Wv, Wo each). */
export const bamFullVariant = mixtureVariant('bam-full', 'bam-full');
/** BAM with attention experts sharing one K/V projection (initialised as the average of the N). */
export const bamKvSharedVariant = mixtureVariant('bam-kv-shared', 'bam-kv-shared');
/** BTX with M > N FFN experts (extra copies of the seed's FFN), total-parameter matched to BAM (Tables 4–5). */
export const btxExpertsVariant = mixtureVariant('btx-experts', 'btx-experts-M');
/** BTX with 6 experts, top-3 (total and active parameters matched to BAM, Tables 4–5). */
export const btxTop3of6Variant = mixtureVariant('btx-top3-6', 'btx-top3-6');
/** BAM with top-1 attention routing (Table 6 ablation). */
export const bamMoaTop1Variant = mixtureVariant('bam-moa-top1', 'bam-moa-top1');
/** BAM with top-2 attention routing (Table 6 ablation). */
export const bamMoaTop2Variant = mixtureVariant('bam-moa-top2', 'bam-moa-top2');
/** Sparse upcycling (Komatsuzaki et al. 2023): N copies of the seed's FFN; the domain experts unused. */
export const sparseUpcycleVariant = mixtureVariant('sparse-upcycle', 'sparse-upcycle');
