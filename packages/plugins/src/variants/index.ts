/**
 * The built-in variant plugins: the dense models of the upcycling pipeline (`dense`: the seed and
 * each domain expert) and one mixture variant per upcycle recipe. Each names an upcycle preset
 * (default `tiny`); `prepare` builds or reuses the preset's pipeline for the job's seed in the
 * sweep's artifacts folder, `create` loads a checkpoint as a `LanguageModel`.
 */
import type { VariantPlugin } from '@bam/eval';
import { denseVariant } from './dense.ts';
import {
  bamFullVariant,
  bamKvSharedVariant,
  bamMoaTop1Variant,
  bamMoaTop2Variant,
  btxExpertsVariant,
  btxTop3of6Variant,
  btxVariant,
  sparseUpcycleVariant,
} from './mixture.ts';

export { DenseVariantOptionsSchema, denseVariant, type DenseVariantOptions } from './dense.ts';
export {
  DEFAULT_BUDGET,
  bamFullVariant,
  bamKvSharedVariant,
  bamMoaTop1Variant,
  bamMoaTop2Variant,
  btxExpertsVariant,
  btxTop3of6Variant,
  btxVariant,
  mixtureVariant,
  sparseUpcycleVariant,
  type MixtureVariantOptions,
} from './mixture.ts';
export {
  DEFAULT_PRESET,
  PresetOption,
  budgetsWith,
  ensurePipeline,
  presetForSeed,
  recipeEntryFor,
  type EnsurePipelineOptions,
  type PipelineRequest,
  type PipelineScope,
} from './pipeline.ts';
export { ensureBackend } from './backend.ts';

/**
 * Every built-in variant, in the order a results table reads best: `dense`, then `btx`,
 * `bam-full`, `bam-kv-shared`, then the extra baselines `btx-experts`, `btx-top3-6`,
 * `bam-moa-top1`, `bam-moa-top2`, `sparse-upcycle`.
 */
export const builtinVariants: readonly VariantPlugin[] = Object.freeze([
  denseVariant,
  btxVariant,
  bamFullVariant,
  bamKvSharedVariant,
  btxExpertsVariant,
  btxTop3of6Variant,
  bamMoaTop1Variant,
  bamMoaTop2Variant,
  sparseUpcycleVariant,
]);
