/**
 * What every stage shares: the parsed preset and its model config, tokenizer and artifact store
 * (`StageContext`), derived seeds, the per-domain validation loss recorded in every checkpoint,
 * and the helpers that train a model into a stage directory or save plain tensors as a checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  BamError,
  InvariantError,
  TRAINING_DOMAINS,
  computeLoss,
  createBatchSource,
  createModel,
  createTokenizer,
  disposeModel,
  evaluateLoss,
  loadCheckpoint,
  modelFromTensors,
  paramCounts,
  parseModelConfig,
  readCheckpoint,
  readStopRecord,
  validateCheckpoint,
  saveCheckpoint,
  train,
  TrainingStoppedError,
  tokenizerSpecForCheckpoint,
  type BamModel,
  type BatchSource,
  type DataMixture,
  type Domain,
  type LrSchedule,
  type ModelConfig,
  type TrainableSpec,
  type Tokenizer,
  type TokenArray,
  type TrainState,
} from '@bam/core';
import { configHash, writeFileAtomic } from '@bam/utils';
import { parseUpcyclePreset, presetModelConfig, presetTokenizer, type UpcyclePreset, type UpcyclePresetInput } from '../config.ts';
import { ArtifactStore, type AbortFlag, type StageResult } from '../store.ts';
import type { TensorMap } from '../tensors.ts';
import type { DenseSource } from '../recipes/index.ts';

/** Everything a stage needs besides its parents. Build with `createStageContext`. */
export interface StageContext {
  preset: UpcyclePreset;
  /** The dense seed's model config. */
  config: ModelConfig;
  tokenizer: Tokenizer;
  store: ArtifactStore;
  log: (line: string) => void;
  signal?: AbortFlag;
  /**
   * A training stage that stopped on divergence continues from its last healthy checkpoint with
   * its peak LR multiplied by this (`bam upcycle --resume-lr-scale`); without it such a stage
   * refuses to run and says so.
   */
  resumeLrScale?: number;
  /**
   * The seed checkpoint the user gave (`bam upcycle --seed DIR`): its config and tokenizer are the
   * context's, not the preset's. Jobs carry it so worker threads build the same context.
   */
  seedCheckpoint?: string;
  /** The user's own text files for the mixture phase, by domain (`bam upcycle --data code=FILE`); jobs carry them too. */
  data?: Partial<Record<Domain, string>>;
}

/**
 * The model config and tokenizer of a dense checkpoint (e.g. an imported one), checked against the
 * preset's sequence length.
 */
function checkpointModel(dir: string, preset: UpcyclePreset): { config: ModelConfig; tokenizer: Tokenizer } {
  const manifest = readCheckpoint(dir).manifest;
  const config = parseModelConfig(manifest.config, join(dir, 'checkpoint.json'));
  if (preset.seqLen > config.maxSeqLen) {
    throw new BamError(`seed checkpoint ${dir}: maxSeqLen ${config.maxSeqLen} is below the preset's seqLen ${preset.seqLen}`, 'E_PRESET', "use a preset with a shorter seqLen (e.g. a preset file with \"seqLen\")");
  }
  return { config, tokenizer: createTokenizer(tokenizerSpecForCheckpoint(dir, manifest.tokenizer.id)) };
}

/** Builds the stage context of a preset (parsed again if given as JSON) and an artifacts directory; with `seedCheckpoint`, the model config and tokenizer are that checkpoint's. */
export function createStageContext(
  preset: UpcyclePreset | UpcyclePresetInput,
  artifactsDir: string,
  opts: { log?: (line: string) => void; signal?: AbortFlag; resumeLrScale?: number; seedCheckpoint?: string; data?: Partial<Record<Domain, string>> } = {},
): StageContext {
  const p = parseUpcyclePreset(preset);
  const model = opts.seedCheckpoint !== undefined ? checkpointModel(opts.seedCheckpoint, p) : undefined;
  const config = model?.config ?? presetModelConfig(p);
  return {
    preset: p,
    config,
    tokenizer: model?.tokenizer ?? presetTokenizer(p, config),
    ...(opts.seedCheckpoint !== undefined ? { seedCheckpoint: opts.seedCheckpoint } : {}),
    ...(opts.data !== undefined && Object.keys(opts.data).length > 0 ? { data: opts.data } : {}),
    store: new ArtifactStore(artifactsDir),
    log: opts.log ?? (() => {}),
    signal: opts.signal,
    ...(opts.resumeLrScale !== undefined ? { resumeLrScale: opts.resumeLrScale } : {}),
  };
}

/** A non-negative 31-bit seed derived from the preset seed and a purpose (e.g. `'expert', 'law'`). */
export function derivedSeed(seed: number, ...parts: string[]): number {
  return parseInt(configHash([seed, ...parts], 8), 16) & 0x7fffffff;
}

/** The seed of the validation batches: the same rows for every checkpoint, so losses compare. */
export const VALIDATION_SEED = 8_240_827;

/** Per-domain validation NLL (nats/token), keyed `val.<domain>`, plus `val.mean` over the four domains. */
export type DomainLosses = Record<string, number>;

/**
 * Mean validation NLL of `model` on each training domain: batches 0..n−1 of [B, T] rows from the
 * domain's validation split (seed `VALIDATION_SEED`), plus their mean.
 */
export async function domainValidationLosses(model: BamModel, tokenizer: Tokenizer, batchSize: number, seqLen: number, batches: number): Promise<DomainLosses> {
  const out: DomainLosses = {};
  let sum = 0;
  for (const d of TRAINING_DOMAINS) {
    const src = createBatchSource({ tokenizer, mix: { [d]: 1 }, split: 'validation', batchSize, seqLen, seed: VALIDATION_SEED });
    const r = await evaluateLoss(model, src, batches, computeLoss);
    out[`val.${d}`] = r.nll;
    sum += r.nll;
  }
  out['val.mean'] = sum / TRAINING_DOMAINS.length;
  return out;
}

/** What every checkpoint-producing stage records in DONE.json (plain numbers). */
export interface CheckpointStageResult extends StageResult {
  /** Tokens and training FLOPs of this stage alone (also the checkpoint's trainState). */
  tokensSeen: number;
  flopsSpent: number;
  steps: number;
  /** Per-domain validation NLL (`val.general`, …, `val.mean`) and the last train loss, when trained. */
  metrics: Record<string, number | null>;
  params: { total: number; active: number };
  /** The config hash of the checkpoint's model config. */
  configHash: string;
}

/** Removes the trainer's step checkpoints (and those set aside after a divergence) once the stage's own checkpoint is written (keeps the log). */
function pruneTrainerCheckpoints(trainDir: string): void {
  for (const name of readdirSync(trainDir)) if (/^step-\d+(\.diverged-.+)?$/.test(name)) rmSync(join(trainDir, name), { recursive: true, force: true });
}

/** The LR multiplier a stage trains with, in its trainer folder (written when it continued after a divergence). */
const LR_SCALE_FILE = 'lr-scale.json';

/**
 * How the stage's training continues: normally (resume from the newest checkpoint, the recorded
 * LR scale), or, after a divergence stop and with `ctx.resumeLrScale`, from the last healthy
 * checkpoint with the LR scale multiplied by it (recorded, so later resumes keep it).
 */
function stageResume(ctx: StageContext, trainDir: string, label: string): { lrScale: number; resumeFrom?: string } {
  const scalePath = join(trainDir, LR_SCALE_FILE);
  const recorded = existsSync(scalePath) ? (JSON.parse(readFileSync(scalePath, 'utf8')) as { lrScale: number }).lrScale : 1;
  const stopped = readStopRecord(trainDir);
  if (!stopped?.healthyCheckpoint || ctx.resumeLrScale === undefined) return { lrScale: recorded };
  const lrScale = recorded * ctx.resumeLrScale;
  writeFileAtomic(scalePath, `${JSON.stringify({ lrScale })}\n`);
  ctx.log(`${label}: continuing from ${stopped.healthyCheckpoint} at ${lrScale}× the preset's learning rate`);
  return { lrScale, resumeFrom: stopped.healthyCheckpoint };
}

/** A stage's training stop, with the upcycle command that continues it at a lower LR. */
function stageStopError(err: TrainingStoppedError, label: string): BamError {
  const message = `${label}: ${err.message.split('\n')[0]}`;
  const healthy = err.record.healthyCheckpoint;
  return new BamError(
    message,
    err.code,
    healthy
      ? `run the same command again with --resume-lr-scale 0.1: ${label} continues from ${healthy} at a 10× lower learning rate (the earlier stages are reused)`
      : `lower the stage's learning rate in the preset (a new stage hash: it starts again), or set "checkpointEvery" so a healthy checkpoint is kept`,
  );
}

/** The trainer's folder inside a stage directory: step checkpoints (pruned when done) and the JSONL log. */
const STAGE_TRAIN_DIR = 'train';

/**
 * The JSONL training log of the stage whose checkpoint is `checkpointDir` (`<stage dir>/model`):
 * `<stage dir>/train/train.jsonl`, the trainer's own log (one line per log interval, plus the
 * validation lines). Stages that do not train (branch, mix) have none.
 */
export function stageTrainingLog(checkpointDir: string): string {
  return join(dirname(checkpointDir), STAGE_TRAIN_DIR, 'train.jsonl');
}

/** What `trainIntoStage` trains. */
export interface TrainIntoStageInput {
  ctx: StageContext;
  /** The stage directory (the trainer writes `train/`, the result goes to `model/`). */
  dir: string;
  /** `[stage label]` in progress lines, e.g. `expert law`. */
  label: string;
  config: ModelConfig;
  /** A fresh model (seeded init) or the weights of a parent checkpoint. */
  init: { seed: number } | { checkpoint: string };
  mix: DataMixture;
  steps: number;
  lr: LrSchedule;
  dataSeed: number;
  /** Wraps the training batches (e.g. a budget's partial last batch). */
  batches?: (source: BatchSource) => BatchSource;
  /** Recorded in the checkpoint meta. */
  meta: Record<string, unknown>;
  /** Which parameters train (core's trainer `trainable`); default all. */
  trainable?: TrainableSpec;
  /** Token streams replacing domains' corpus text in the training batches (the user's own text). */
  streams?: Partial<Record<Domain, TokenArray>>;
  /** A learning-rate multiplier per parameter name (core's trainer `lrScale`); default 1. */
  lrScale?: (name: string) => number;
  /**
   * A validation curve in the trainer's log: the mean NLL of `batches` validation batches of `mix`
   * (seed VALIDATION_SEED) before any update (step 0), every `every` steps and at the end.
   */
  curve?: { mix: DataMixture; every: number; batches: number };
}

/**
 * Trains a model into `dir`: resumes from `dir/train/` when an earlier run was interrupted
 * (core's trainer: exact resume), evaluates the per-domain validation losses, writes the stage
 * checkpoint to `dir/model/` (tokens and FLOPs in its trainState, losses in its metrics), then
 * drops the trainer's step checkpoints. The model is disposed before returning.
 */
export async function trainIntoStage(input: TrainIntoStageInput): Promise<CheckpointStageResult> {
  const { ctx, dir, label, config } = input;
  const { preset, tokenizer } = ctx;
  const { batchSize, seqLen } = preset;
  let model: BamModel;
  if ('seed' in input.init) {
    model = createModel(config, input.init.seed);
  } else {
    const loaded = loadCheckpoint(input.init.checkpoint);
    if (configHash(loaded.config) !== configHash(config)) {
      disposeModel(loaded.model);
      throw new InvariantError(`${label}: parent checkpoint ${input.init.checkpoint} has config ${configHash(loaded.config)}, expected ${configHash(config)}`);
    }
    model = loaded.model;
  }
  try {
    const base = createBatchSource({ tokenizer, mix: input.mix, split: 'train', batchSize, seqLen, seed: input.dataSeed, ...(input.streams ? { streams: input.streams } : {}) });
    const batches = input.batches ? input.batches(base) : base;
    const trainDir = join(dir, STAGE_TRAIN_DIR);
    const resume = stageResume(ctx, trainDir, label);
    const meta = resume.lrScale === 1 ? input.meta : { ...input.meta, lrScale: resume.lrScale };
    const logEvery = Math.max(1, Math.min(10, Math.ceil(input.steps / 10)));
    const abortCheck = () => {
      if (ctx.signal?.aborted) throw new BamError(`${label}: aborted`, 'E_ABORTED', 'run the same command again to resume from the last checkpoint');
    };
    abortCheck();
    const t0 = performance.now();
    const s = await train({
      model,
      batches,
      steps: input.steps,
      lr: { ...input.lr, peak: input.lr.peak * resume.lrScale },
      ...(resume.resumeFrom ? { resumeFrom: resume.resumeFrom } : {}),
      ...(ctx.preset.divergence ? { divergence: ctx.preset.divergence } : {}),
      weightDecay: preset.weightDecay,
      clipNorm: preset.clipNorm,
      seed: input.dataSeed,
      checkpointEvery: preset.checkpointEvery,
      outDir: trainDir,
      tokenizer,
      ...(input.trainable ? { trainable: input.trainable } : {}),
      ...(input.lrScale ? { lrScale: input.lrScale } : {}),
      ...(input.curve
        ? {
            evalBatches: createBatchSource({ tokenizer, mix: input.curve.mix, split: 'validation', batchSize, seqLen, seed: VALIDATION_SEED }),
            evalEvery: input.curve.every,
            evalSteps: input.curve.batches,
          }
        : {}),
      logEvery,
      meta,
      reporter: {
        update: (p) => {
          ctx.log(`${label}: step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} (${Math.round(p.tokensPerSecond)} tok/s)`);
          abortCheck();
        },
      },
    }).catch((err: unknown) => {
      throw err instanceof TrainingStoppedError ? stageStopError(err, label) : err;
    });
    if (s.resumedFrom) ctx.log(`${label}: resumed from ${s.resumedFrom}`);
    const val = await domainValidationLosses(model, tokenizer, batchSize, seqLen, preset.evalBatches);
    const metrics = { trainLoss: s.finalLoss, ...val };
    const trainState: TrainState = { step: s.steps, tokensSeen: s.tokensSeen, flopsSpent: s.flopsSpent, seed: input.dataSeed, dataPosition: s.steps };
    const manifest = await saveCheckpoint(join(dir, 'model'), { model, tokenizer, trainState, metrics, meta });
    pruneTrainerCheckpoints(trainDir);
    const elapsed = (performance.now() - t0) / 1000;
    ctx.log(`${label}: trained ${s.steps} steps, ${s.tokensSeen.toLocaleString('en')} tokens in ${elapsed.toFixed(1)}s; val.mean ${val['val.mean'].toFixed(3)}`);
    const counts = paramCounts(config);
    return {
      checkpoint: 'model',
      contentHash: manifest.contentHash,
      tokensSeen: s.tokensSeen,
      flopsSpent: s.flopsSpent,
      steps: s.steps,
      metrics: manifest.metrics,
      params: { total: counts.total, active: counts.active },
      configHash: configHash(config),
    };
  } finally {
    disposeModel(model);
  }
}

/**
 * Saves plain tensors as a checkpoint in `dir` (through a model built from them, so core checks
 * the names and shapes against `config`). Returns the manifest's content hash.
 */
export async function saveTensors(
  dir: string,
  input: { config: ModelConfig; tokenizer: Tokenizer | { id: string; vocabSize: number }; tensors: TensorMap; trainState?: Partial<TrainState>; metrics?: Record<string, number>; meta: Record<string, unknown> },
): Promise<string> {
  const tfTensors = new Map<string, tf.Tensor>();
  let model: BamModel | undefined;
  try {
    for (const [name, t] of input.tensors) tfTensors.set(name, tf.tensor(t.data, t.shape, 'float32'));
    model = modelFromTensors(input.config, tfTensors);
  } finally {
    tfTensors.forEach((t) => t.dispose());
  }
  try {
    const manifest = await saveCheckpoint(dir, { model, tokenizer: input.tokenizer, trainState: input.trainState, metrics: input.metrics, meta: input.meta });
    return manifest.contentHash;
  } finally {
    disposeModel(model);
  }
}

/**
 * A checkpoint directory read as a recipe's dense source, after every check loading makes
 * (`validateCheckpoint`: hashes, config schema, tokenizer, tensors, finite weights).
 */
export function denseSourceOf(checkpointDir: string, name = checkpointDir): DenseSource {
  const { config, manifest, weights } = validateCheckpoint(checkpointDir);
  return { name, config, tokenizer: manifest.tokenizer, tensors: weights, contentHash: manifest.contentHash };
}
