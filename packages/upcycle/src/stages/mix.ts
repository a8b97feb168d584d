/**
 * Stage `mix`: builds a mixture checkpoint from the N dense checkpoints by a recipe (BAM paper
 * §4.1, phase 3; the recipes are in `../recipes`). Sources are in mixture order: the domain
 * experts in the preset's domain order, then the seed (the general expert).
 */
import * as tf from '@tensorflow/tfjs';
import { basename, join } from 'node:path';
import { createBatchSource, disposeModel, forward, modelFromTensors, paramCounts, type BamModel, type ModelConfig, type SafeTensor, type Tokenizer } from '@bam/core';
import { configHash } from '@bam/utils';
import type { ResolvedRecipeEntry } from '../config.ts';
import { buildMixture, resolveRecipe } from '../recipes/index.ts';
import type { StageOutcome } from '../store.ts';
import type { F32Tensor } from '../tensors.ts';
import { denseSourceOf, domainValidationLosses, saveTensors, VALIDATION_SEED, type CheckpointStageResult, type DomainLosses, type StageContext } from './context.ts';

/** One dense model going into a mixture: its domain (`general` for the seed) and its artifact. */
export interface DenseInput {
  domain: string;
  outcome: StageOutcome<CheckpointStageResult>;
}

/**
 * What a mixture's content hash covers: the recipe, its parsed options but the training-only
 * `routerLrScale` and `mixtureSteps`, the sources' contents, and (when given) the validation
 * batches its step-0 losses are measured on.
 */
export function mixStageInputs(entry: Pick<ResolvedRecipeEntry, 'id' | 'options'>, dense: readonly DenseInput[], evalBatches?: number): Record<string, unknown> {
  // The mixture-phase options only shape the training (train-mixture's hash covers them), not the mix.
  const { routerLrScale: _lr, mixtureSteps: _steps, ...options } = resolveRecipe(entry.id, entry.options).options;
  return { recipe: entry.id, options, sources: dense.map((d) => ({ domain: d.domain, contentHash: d.outcome.result.contentHash })), ...(evalBatches !== undefined ? { evalBatches } : {}) };
}

/**
 * The mixture's per-domain validation losses before any training (`val.<domain>`, `val.mean`; the
 * batches every checkpoint of the pipeline is measured on), so a trained mixture's metrics read
 * against its step-0 ones: the loss at step 0 and how much the mixture phase recovered.
 */
export async function step0Losses(ctx: StageContext, mixture: { config: ModelConfig; tensors: ReadonlyMap<string, F32Tensor | SafeTensor> }): Promise<DomainLosses> {
  const model = modelOf(mixture.config, mixture.tensors);
  try {
    return await domainValidationLosses(model, ctx.tokenizer, ctx.preset.batchSize, ctx.preset.seqLen, ctx.preset.evalBatches);
  } finally {
    disposeModel(model);
  }
}

/** How far a mixture's step-0 next-token distributions are from the seed's (docs/method.md "Identical experts"). */
export interface Step0Gap {
  /** Mean over tokens of KL(seed ‖ mixture), nats. */
  klToSeed: number;
  /** Fraction of positions where both models' most likely next token agree. */
  argmaxAgreement: number;
  /** Validation batches of general text compared (the rows of `domainValidationLosses`). */
  batches: number;
}

function modelOf(config: ModelConfig, tensors: ReadonlyMap<string, F32Tensor | SafeTensor>): BamModel {
  const ts = new Map([...tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape, 'float32')]));
  try {
    return modelFromTensors(config, ts);
  } finally {
    ts.forEach((t) => t.dispose());
  }
}

/**
 * The step-0 gap between a mixture and its seed on `batches` validation batches of general text:
 * zero for a renormalised mixture of identical experts, large under the paper's top-1 without
 * renormalisation (each FFN output scaled by p_top ≈ 1/N at init).
 */
export async function step0Gap(
  rows: { tokenizer: Tokenizer; batchSize: number; seqLen: number; batches?: number },
  seed: { config: ModelConfig; tensors: ReadonlyMap<string, F32Tensor | SafeTensor> },
  mixture: { config: ModelConfig; tensors: ReadonlyMap<string, F32Tensor | SafeTensor> },
): Promise<Step0Gap> {
  const { tokenizer, batchSize, seqLen, batches = 2 } = rows;
  const source = createBatchSource({ tokenizer, mix: { general: 1 }, split: 'validation', batchSize, seqLen, seed: VALIDATION_SEED });
  const a = modelOf(seed.config, seed.tensors);
  const b = modelOf(mixture.config, mixture.tensors);
  let kl = 0;
  let agree = 0;
  try {
    for (let i = 0; i < batches; i++) {
      const rows = source.batch(i);
      const parts = tf.tidy(() => {
        const tokens = tf.tensor2d(rows.inputs, [rows.batchSize, rows.seqLen], 'int32');
        const p = tf.logSoftmax(forward(a, tokens).logits); // [B, T, V]
        const q = tf.logSoftmax(forward(b, tokens).logits); // [B, T, V]
        const klRows = tf.sum(tf.mul(tf.exp(p), tf.sub(p, q)), -1); // [B, T]
        const same = tf.equal(tf.argMax(p, -1), tf.argMax(q, -1)); // [B, T]
        return tf.stack([tf.mean(klRows), tf.mean(tf.cast(same, 'float32'))]);
      });
      const v = await parts.data();
      parts.dispose();
      kl += v[0];
      agree += v[1];
    }
  } finally {
    disposeModel(a);
    disposeModel(b);
  }
  return { klToSeed: kl / batches, argmaxAgreement: agree / batches, batches };
}

/** One line about a step-0 gap, for the mix stage's log and `bam mix`. */
export function formatStep0Gap(gap: Step0Gap): string {
  return (
    `step-0 logits vs the seed: mean KL ${gap.klToSeed.toFixed(4)} nats/token, argmax agrees on ${(100 * gap.argmaxAgreement).toFixed(0)}% of positions` +
    (gap.klToSeed > 1e-3 ? ' (the experts differ from the seed, and under top-k without renormalisation each FFN output is scaled by its gate; docs/method.md "Identical experts")' : '')
  );
}

/** Builds (or reuses) the untrained mixture of `entry` from the dense models. */
export async function runMixStage(ctx: StageContext, entry: ResolvedRecipeEntry, dense: readonly DenseInput[]): Promise<StageOutcome<CheckpointStageResult>> {
  const inputs = mixStageInputs(entry, dense, ctx.preset.evalBatches);
  return ctx.store.run(
    'mix',
    inputs,
    async (dir) => {
      const sources = dense.map((d) => denseSourceOf(d.outcome.checkpointDir, `${d.domain} (${d.outcome.checkpointDir})`));
      const mixture = buildMixture(entry.id, sources, entry.options);
      // The seed (general expert) is the last source; a mixture's distance from it at step 0 is
      // printed and recorded so an un-renormalised router's drop is not mistaken for a bug.
      const seed = sources[sources.length - 1];
      const gap = await step0Gap({ tokenizer: ctx.tokenizer, batchSize: ctx.preset.batchSize, seqLen: ctx.preset.seqLen }, seed, mixture);
      const metrics = await step0Losses(ctx, mixture);
      const contentHash = await saveTensors(join(dir, 'model'), {
        config: mixture.config,
        tokenizer: mixture.tokenizer,
        tensors: mixture.tensors,
        trainState: { step: 0, tokensSeen: 0, flopsSpent: 0, seed: ctx.preset.seed },
        metrics,
        meta: { stage: 'mix', artifact: basename(dir), preset: ctx.preset.name, name: entry.name, experts: dense.map((d) => d.domain), step0: gap, ...mixture.meta },
      });
      const counts = paramCounts(mixture.config);
      ctx.log(`mix ${entry.name}: built from ${dense.length} dense models (${counts.total.toLocaleString('en')} params, ${counts.active.toLocaleString('en')} active)`);
      ctx.log(`mix ${entry.name}: ${formatStep0Gap(gap)}; step-0 val.mean ${metrics['val.mean'].toFixed(3)}`);
      return {
        checkpoint: 'model',
        contentHash,
        tokensSeen: 0,
        flopsSpent: 0,
        steps: 0,
        metrics,
        params: { total: counts.total, active: counts.active },
        configHash: configHash(mixture.config),
      };
    },
    { log: ctx.log, signal: ctx.signal },
  );
}
