/** Training: AdamW, the warm-up + cosine LR schedule, and the training loop. */
export { AdamW, resolveTrainable } from './adamw.ts';
export type { AdamWConfig, AdamWState, TrainableSpec } from './adamw.ts';
export { learningRate } from './schedule.ts';
export type { LrSchedule } from './schedule.ts';
export { train, evaluateLoss } from './trainer.ts';
export type { BatchSource, TokenBatch, LossParts, LossFn, TrainOptions, TrainProgress, TrainReporter, TrainSummary } from './types.ts';
