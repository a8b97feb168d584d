/**
 * The built-in variant plugins: the dense models of the upcycling pipeline (`dense`: the seed and
 * each domain expert) and one mixture variant per upcycle recipe. Each names an upcycle preset
 * (default `tiny`); `prepare` builds or reuses the preset's pipeline for the job's seed in the
 * sweep's artifacts folder, `create` loads a checkpoint as a `LanguageModel`. Beside them, the
 * study variants (issue 7): `oracle-specialist` and bam-full's routing ablations.
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
import { oracleSpecialistVariant } from './oracle.ts';
import {
  expertChoiceRoutingVariant,
  frozenExpertsVariant,
  hashRoutingVariant,
  perExampleRoutingVariant,
  sharedRouterVariant,
  tiedRoutingVariant,
} from './ablations.ts';

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
  pipelineTrainingLogs,
  presetForSeed,
  seedLabel,
  recipeEntryFor,
  type EnsurePipelineOptions,
  type PipelineRequest,
  type PipelineScope,
} from './pipeline.ts';
export { ensureBackend } from './backend.ts';
export * from './ablations.ts';
export * from './oracle.ts';

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

/**
 * Every study variant, in the order a results table reads best: the oracle first (the unmixed
 * upper bound), then the routing freedoms, then the FFN routers.
 */
export const studyVariants: readonly VariantPlugin[] = Object.freeze([
  oracleSpecialistVariant,
  frozenExpertsVariant,
  sharedRouterVariant,
  tiedRoutingVariant,
  perExampleRoutingVariant,
  expertChoiceRoutingVariant,
  hashRoutingVariant,
]);
