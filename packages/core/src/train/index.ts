/** Training: AdamW, the warm-up + cosine LR schedule, and the training loop. */
export { AdamW, resolveTrainable } from './adamw.ts';
export type { AdamWConfig, AdamWState, TrainableSpec } from './adamw.ts';
export { learningRate } from './schedule.ts';
export type { LrSchedule } from './schedule.ts';
export { train, evaluateLoss } from './trainer.ts';
export { DivergenceDetector, DIVERGENCE_DEFAULTS } from './divergence.ts';
export type { DivergenceOptions, DivergenceAlarm, DivergenceState } from './divergence.ts';
export { TrainingStoppedError, STOP_RECORD } from './reporting.ts';
export type { StopRecord } from './reporting.ts';
export { readStopRecord } from './resume.ts';
export type { BatchSource, TokenBatch, LossParts, LossFn, TrainOptions, TrainProgress, TrainReporter, TrainSummary } from './types.ts';
