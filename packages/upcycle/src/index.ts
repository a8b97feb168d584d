// Public API of @bam/upcycle. Other packages import only from here.
export {
  BUDGETS,
  EXPERT_DOMAINS,
  RecipeEntrySchema,
  UpcyclePresetSchema,
  loadUpcyclePreset,
  parseUpcyclePreset,
  presetModelConfig,
  presetTokenizer,
  recipeEntries,
  upcyclePresetNames,
  withMixtureSeed,
  type Budget,
  type ExpertDomain,
  type RecipeEntryInput,
  type ResolvedRecipeEntry,
  type UpcyclePreset,
  type UpcyclePresetInput,
} from './config.ts';
export {
  RECIPES,
  KV_SHARED_INIT,
  RouterInitSchema,
  assembleMixture,
  buildMixture,
  checkCompatible,
  matchedExpertCount,
  recipeConfig,
  recipeIds,
  resolveRecipe,
  type DenseSource,
  type MixtureCheckpoint,
  type MixtureLayout,
  type MixtureMeta,
  type Recipe,
  type ResolvedRecipe,
  type RouterInit,
} from './recipes/index.ts';
export { planMixtureTraining, plannedBatches, type MixturePlan, type PlanInput } from './budget.ts';
export { ArtifactStore, STAGE_VERSIONS, gcStore, scanStore, stageHash, type AbortFlag, type ArtifactCheck, type ArtifactFile, type ArtifactStoreOptions, type DoneRecord, type RunStageOptions, type StageKey, type StageName, type StageOutcome, type StageResult, type StoreEntry } from './store.ts';
export { cloneTensor, cloneTensorMaps, meanTensor, randomNormalTensor, tensorsEqual, toF32, asSafeTensors, type F32Tensor, type TensorMap } from './tensors.ts';
export {
  VALIDATION_SEED,
  createStageContext,
  denseSourceOf,
  derivedSeed,
  domainValidationLosses,
  saveTensors,
  stageTrainingLog,
  trainIntoStage,
  type CheckpointStageResult,
  type DomainLosses,
  type StageContext,
  type TrainIntoStageInput,
} from './stages/context.ts';
export { runSeedStage, seedStageInputs } from './stages/seed.ts';
export { checkGivenDense, givenOutcome, parseDataFiles, parseGivenExperts, type GivenDense, type TrainingDomain } from './stages/given.ts';
export { branchTensors, runBranchStage } from './stages/branch.ts';
export { expertLr, expertStageInputs, runExpertStage } from './stages/experts.ts';
export { formatStep0Gap, mixStageInputs, runMixStage, step0Gap, type DenseInput, type Step0Gap } from './stages/mix.ts';
export { checkMixtureData, mixtureDataSeed, mixturePhaseMix, runTrainMixtureStage, trainMixtureStageInputs, type TrainMixtureResult } from './stages/train-mixture.ts';
export { JobRunner, runJobs, type JobRunnerOptions } from './parallel.ts';
export { runUpcycleJob, jobLabel, type UpcycleJob } from './jobs.ts';
export { upcycle, PIPELINE_STAGES, type PipelineStage, type UpcycleOptions, type UpcycleResult, type DenseArtifact, type MixtureArtifact } from './pipeline.ts';
export { checkpointRows, formatCheckpointTable, type CheckpointRow } from './table.ts';
export type { TrainMixtureOptions } from './stages/train-mixture.ts';
