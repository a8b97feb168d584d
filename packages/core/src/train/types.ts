/** The trainer's public types: batches, losses, options, progress and the summary (see trainer.ts). */
import type * as tf from '@tensorflow/tfjs';
import type { CheckpointTokenizer, ParamsModel } from '../checkpoint/checkpoint.ts';
import type { BamModel } from '../model/model.ts';
import type { TrainableSpec } from './adamw.ts';
import type { DivergenceOptions } from './divergence.ts';
import type { LrSchedule } from './schedule.ts';

/** One batch of token ids, row-major [B, T] (docs/internals.md). */
export interface TokenBatch {
  inputs: Int32Array;
  targets: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** Batches as a pure function of the step index. */
export interface BatchSource {
  batch(step: number): TokenBatch;
}

/** The scalars a loss function returns; `loss` is what is minimised. */
export interface LossParts {
  loss: tf.Scalar;
  nll: tf.Scalar;
  loadBalance: tf.Scalar;
  zLoss: tf.Scalar;
}

/** A loss: `(model, inputs [B, T] int32, targets [B, T] int32) → LossParts`, inside the caller's tidy. */
export type LossFn<M> = (model: M, inputs: tf.Tensor2D, targets: tf.Tensor2D) => LossParts;

/** What a reporter and `onProgress` receive at every flush. */
export interface TrainProgress {
  step: number;
  steps: number;
  lr: number;
  loss: number;
  nll: number;
  gradNorm: number;
  tokensSeen: number;
  tokensPerSecond: number;
  etaSeconds: number;
  valLoss?: number;
  /** `tf.memory().numTensors` at this flush (steady across steps when nothing leaks). */
  numTensors: number;
}

/**
 * Shows a run's progress (a progress bar, log lines). The caller chooses and passes it: core
 * draws nothing itself. `start` is called once before the first step (only when steps remain),
 * `update` at every flush, `stop` when the run ends, successfully or not.
 */
export interface TrainReporter {
  start?(startStep: number, steps: number): void;
  update(p: TrainProgress): void;
  stop?(): void;
}

/** Options of `train`. Defaults follow the BAM paper (AdamW, λ = 0.1, warm-up + cosine to 10%). */
export interface TrainOptions<M extends ParamsModel = BamModel> {
  /** The model to train, updated in place (still owned by the caller). */
  model: M;
  /** Training batches; step `s` uses `batches.batch(s)`. */
  batches: BatchSource;
  /** Total optimizer steps of the run; a resumed run continues up to this number. */
  steps: number;
  /** LR schedule: peak, warm-up steps, decay floor ratio (default 0.1). */
  lr: LrSchedule;
  /** AdamW decoupled weight decay (default 0.1; only rank ≥ 2 parameters, see adamw.ts). */
  weightDecay?: number;
  /** AdamW betas and epsilon (defaults 0.9, 0.95, 1e-8). */
  adam?: { beta1?: number; beta2?: number; epsilon?: number };
  /** Clip gradients to this global L2 norm (default 1.0; 0 disables clipping). */
  clipNorm?: number;
  /** Recorded in checkpoints; a resume must use the same seed. Default 0. */
  seed?: number;
  /** Validation batches; evaluated at the start, every `evalEvery` steps and at the end. */
  evalBatches?: BatchSource;
  /** Evaluate every this many steps (default 0: only at the start and the end). */
  evalEvery?: number;
  /** Validation batches per evaluation: batches 0..evalSteps−1 of `evalBatches` (default 4). */
  evalSteps?: number;
  /** Save a checkpoint every this many steps (default 0: only at the end). Needs `outDir`. */
  checkpointEvery?: number;
  /** Trainer checkpoints to keep in `outDir` (oldest are deleted; default 2). */
  keepCheckpoints?: number;
  /** Checkpoints go to `outDir/step-NNNNNNNN/`; a run resumes from the newest one there. */
  outDir?: string;
  /** Tokenizer `{id, vocabSize}` recorded in checkpoints (needed with `outDir`). */
  tokenizer?: CheckpointTokenizer;
  /** Resume from the newest checkpoint in `outDir` (default true). */
  resume?: boolean;
  /**
   * Continue from this checkpoint instead of the newest (e.g. the last healthy one a stopped run
   * named, with a lower LR); the newer step checkpoints in `outDir` are moved aside, not deleted.
   */
  resumeFrom?: string;
  /** JSONL log path (default `outDir/train.jsonl` when `outDir` is given, else none). */
  log?: string;
  /** Read scalars back and log every this many steps (default 10). */
  logEvery?: number;
  /** Shows progress (the CLI passes a progress bar, upcycle log lines); default none: core draws nothing. */
  reporter?: TrainReporter;
  /** Called at every flush, after logging and the reporter; throwing stops the run. */
  onProgress?: (p: TrainProgress) => void;
  /** Which parameters train (names or predicate); the others stay bit-identical. Default: all. */
  trainable?: TrainableSpec;
  /** A learning-rate multiplier per parameter name (AdamW's `lrScale`; e.g. the routers'); default 1. */
  lrScale?: (name: string) => number;
  /** The loss (default: the model's `computeLoss`; required when `model` is not a `BamModel`). */
  loss?: LossFn<M>;
  /**
   * Training FLOPs per token, for `flopsSpent`. Default: `trainingFlops(config, 1, seqLen)` (3 ×
   * the paper's analytic forward count) for a model config, else 6 × trainable parameters.
   */
  flopsPerToken?: number;
  /** Extra JSON recorded in every checkpoint's `meta`. */
  meta?: Record<string, unknown>;
  /**
   * When a finite loss or gradient norm counts as divergence and stops the run (divergence.ts;
   * defaults in `DIVERGENCE_DEFAULTS`). Recorded in every checkpoint and in the stop record.
   */
  divergence?: DivergenceOptions;
}

/** What `train` returns. Losses are means over the log interval; val losses are mean NLL. */
export interface TrainSummary {
  /** Loss (total objective) of the first step this call ran, before its update. */
  initialLoss: number;
  /** Mean loss over the last log interval. */
  finalLoss: number;
  /** Mean validation NLL at the start of this call (NaN without `evalBatches`). */
  initialValLoss: number;
  /** Mean validation NLL at the end (NaN without `evalBatches`). */
  finalValLoss: number;
  /** Tokens consumed by the whole run (including steps before a resume). */
  tokensSeen: number;
  /** Training throughput of this call (excluding evaluation and checkpoint time). */
  tokensPerSecond: number;
  /** Total steps done (equals `steps` on success). */
  steps: number;
  /** The step this call started from (0, or the resumed checkpoint's step). */
  startStep: number;
  /** The checkpoint resumed from, if any. */
  resumedFrom?: string;
  /** The final checkpoint, if `outDir` was given. */
  checkpoint?: string;
  /** Per-step training losses of this call, index 0 = step `startStep + 1`. */
  losses: number[];
  /** Training FLOPs spent by the whole run. */
  flopsSpent: number;
}
