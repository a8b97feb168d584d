// Public API of @bam/eval. Other packages import only from here.
export * from './errors.ts';
export type * from './api/model.ts';
export * from './api/context.ts';
export * from './api/task.ts';
export * from './api/multiple-choice.ts';
export * from './api/variant.ts';
export { validateTask, validateVariant, isPluginLike, noOptions } from './api/validate.ts';
export * from './metrics.ts';
export { PluginRegistry, resolvePluginSpec, isFileSpec, type LoadedModule } from './registry.ts';
export { documentId, evaluateDocuments, evaluateTask, parseOptions, type DocScores, type EvaluateOptions, type EvaluatedDocuments } from './evaluate.ts';
export { WorkerPool, type PoolOptions } from './pool.ts';
export { sharePackagesWithPlugins, sharedPackages } from './plugin-imports.ts';
export { exampleTaskSource, TASK_ID } from './examples.ts';
export { sweepNextSteps, comparisonHeadline, averageHeadline, type NextStepsInput } from './next-steps.ts';
export { runJob, createWorkerState, type WorkerJob, type WorkerReply, type WorkerSetup, type PluginRef, type JobError } from './worker.ts';
export * from './config.ts';
export { shardCount, shardRanges } from './shards.ts';
export { runSweep, runSweepFile, planJobs, PACKAGE_VERSION, type SweepOptions, type SweepSummary } from './sweep.ts';
export {
  reaggregate,
  buildRows,
  buildTables,
  renderTables,
  resultsCsv,
  readPlan,
  readJournal,
  readDocs,
  tableFileName,
  RESULT_COLUMNS,
  type ResultRow,
  type JobPlan,
  type JobRecord,
  type DocRecord,
  type ShardRange,
  type WideTable,
} from './results.ts';
export { fakeLanguageModel, fakeCharLogprob, fakeTextLogprob, writeSyntheticResults, type FakeModelOptions, type SyntheticJob } from './testing.ts';
// Plugin files may import only @bam/eval and zod, so the seeded PRNG they sample with is offered here.
export { mulberry32 } from '@bam/utils';
export * from './report/index.ts';
export * from './compare/index.ts';
export * from './queue/index.ts';
