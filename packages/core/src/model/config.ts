/**
 * Model configuration: one strict zod schema with the defaults in it, a refined cross-field
 * check, and the JSON presets in `presets/` validated by the same schema.
 *
 * Architecture follows the BAM paper (Zhang et al. 2024, arXiv:2408.08274, §3 and Table 8):
 * decoder-only, parallel blocks, scale-only RMSNorm, RoPE, SwiGLU, untied embeddings at small
 * scale. The mixture parts (`attention`, `ffn`, `routing`, `aux`) are settled here and
 * implemented in `../mixture`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BamError, configErrorFromZod } from '../errors.ts';

const posInt = z.number().int().positive();

/** Attention router of a mixture of attention heads (MoA): soft (every expert) or top-k. */
export const AttentionRouterSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('soft') }),
  z.strictObject({ kind: z.literal('topk'), k: posInt }),
]);

/** Attention: one dense MHA, or a mixture of N attention experts (BAM-full / BAM-KV-shared). */
export const AttentionConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('dense') }),
  z.strictObject({
    kind: z.literal('moa'),
    numExperts: posInt,
    /** true: one Wk, Wv shared by all experts (BAM-KV-shared); false: each expert its own (BAM-full). */
    kvShared: z.boolean(),
    router: AttentionRouterSchema.prefault({ kind: 'soft' }),
  }),
]);

/**
 * FFN router of a mixture of experts.
 * - `topk` with `normalize: 'before'`: softmax over all experts, then top-k, no renormalisation
 *   (the BAM paper's top-1 and its BTX baseline).
 * - `topk` with `normalize: 'after'`: softmax over the top-k logits, renormalised (original BTX top-2).
 *   Only this form makes a mixture of N copies of one dense model reproduce it exactly: with
 *   'before' each FFN output is p_top·FFN(h), ≈ 1/N at the router's initialisation (on `tiny`
 *   with 4 copies the logits move by 3.8, 50% relative, and the argmax agrees on 67% of
 *   positions), a drop the mixture phase trains away (docs/method.md "Identical experts").
 * - `topk` with `normalize: 'straight-through'`: the values of 'after' with the gradient of
 *   'before' (mixture/routers/topk.ts). For top-1, 'after' makes the gate the constant 1 and the
 *   router learns only from the auxiliary losses; straight-through starts a mixture of identical
 *   experts equal to them and still trains the router on the language-model loss.
 * - `expert-choice`: each expert picks its tokens (Zhou et al. 2022), capacity = factor·tokens/E.
 * - `hash`: a fixed hash of the token id picks the expert (Roller et al. 2021); no router weights.
 */
export const FfnRouterSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('topk'),
    k: posInt,
    normalize: z.enum(['before', 'after', 'straight-through']).default('before'),
  }),
  z.strictObject({ kind: z.literal('expert-choice'), capacityFactor: z.number().positive() }),
  z.strictObject({ kind: z.literal('hash') }),
]);

/** FFN: one dense SwiGLU, or a mixture of N SwiGLU experts (BTX / BAM). */
export const FfnConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('dense') }),
  z.strictObject({
    kind: z.literal('moe'),
    numExperts: posInt,
    router: FfnRouterSchema.prefault({ kind: 'topk', k: 1 }),
  }),
]);

/** How routers are shared and what they see. */
export const RoutingConfigSchema = z.strictObject({
  /** One router per kind (`routers.ffn`, `routers.attn`) shared by all layers. */
  shareAcrossLayers: z.boolean().default(false),
  /** The attention mixture uses the FFN router's probabilities (needs equal numExperts). */
  tieAttentionToFfn: z.boolean().default(false),
  /** Route a whole example by the mean of its first `prefixTokens` hidden states; null = per token. */
  perExample: z.strictObject({ prefixTokens: posInt }).nullable().default(null),
});

/** Coefficients of the router auxiliary losses (the paper gives no values; these are ours). */
export const AuxConfigSchema = z.strictObject({
  /** α of the Switch Transformer load-balance loss. */
  loadBalance: z.number().nonnegative().default(0.01),
  /** β of the ST-MoE router z-loss. */
  zLoss: z.number().nonnegative().default(0.001),
});

const ModelConfigObject = z.strictObject({
  vocabSize: posInt,
  dModel: posInt,
  nHeads: posInt,
  /** Key/value heads (grouped-query attention); defaults to nHeads (plain MHA). */
  nKvHeads: posInt.optional(),
  nLayers: posInt,
  /** SwiGLU hidden width F (half the paper's "gate+up concatenated" FFN dimension). */
  dFF: posInt,
  maxSeqLen: posInt,
  block: z.enum(['parallel', 'sequential']).default('parallel'),
  ropeBase: z.number().positive().default(10000),
  normEps: z.number().positive().default(1e-6),
  initStd: z.number().positive().default(0.02),
  tieEmbeddings: z.boolean().default(false),
  // Architecture options for imported models (docs/internals.md "Imported architectures"). They
  // are optional with no schema default, so a config that leaves them out parses to the same
  // object, hashes to the same configHash and runs the same code as before they existed; absent
  // means the paper's architecture (the value named first in each comment).
  /** 'rms' (scale-only RMSNorm) or 'layernorm' (mean-centred, with a bias), for every norm. */
  norm: z.enum(['rms', 'layernorm']).optional(),
  /** FFN of every layer and expert: 'swiglu', or a two-matrix MLP with exact ('gelu') or tanh GeLU. */
  mlp: z.enum(['swiglu', 'gelu', 'gelu-tanh']).optional(),
  /** Biases on the query, key and value projections (Qwen2, GPT-NeoX); default false. */
  qkvBias: z.boolean().optional(),
  /** A bias on the attention output projection (GPT-NeoX); default false. */
  attnOutBias: z.boolean().optional(),
  /** Biases on the FFN's matrices (GPT-NeoX); default false. */
  ffnBias: z.boolean().optional(),
  /** Fraction of each head's dimensions RoPE rotates (GPT-NeoX rotary_pct); default 1. */
  rotaryFraction: z.number().gt(0).max(1).optional(),
  /** Parallel block: one norm shared by both branches ('shared'), or one each ('separate', GPT-NeoX). */
  parallelNorms: z.enum(['shared', 'separate']).optional(),
  attention: AttentionConfigSchema.prefault({ kind: 'dense' }),
  ffn: FfnConfigSchema.prefault({ kind: 'dense' }),
  routing: RoutingConfigSchema.prefault({}),
  aux: AuxConfigSchema.prefault({}),
});

type ModelConfigObjectOut = z.output<typeof ModelConfigObject>;

function crossFieldIssues(c: ModelConfigObjectOut): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  const nKv = c.nKvHeads ?? c.nHeads;
  if (c.dModel % c.nHeads !== 0) {
    issues.push({ path: ['nHeads'], message: `nHeads (${c.nHeads}) must divide dModel (${c.dModel})` });
  } else if ((c.dModel / c.nHeads) % 2 !== 0) {
    issues.push({
      path: ['nHeads'],
      message: `head width dModel/nHeads = ${c.dModel / c.nHeads} must be even for RoPE (it rotates pairs)`,
    });
  }
  if (c.dModel % c.nHeads === 0 && c.rotaryFraction !== undefined) {
    const rot = Math.floor((c.dModel / c.nHeads) * c.rotaryFraction);
    if (rot < 2 || rot % 2 !== 0) {
      issues.push({ path: ['rotaryFraction'], message: `rotary dims ⌊headDim·rotaryFraction⌋ = ${rot} must be even and at least 2` });
    }
  }
  if (c.parallelNorms !== undefined && c.block !== 'parallel') {
    issues.push({ path: ['parallelNorms'], message: 'only applies to block "parallel"' });
  }
  if ((c.qkvBias || c.attnOutBias) && c.attention.kind !== 'dense') {
    issues.push({ path: ['qkvBias'], message: 'attention biases are implemented for attention.kind "dense" only' });
  }
  if (c.nHeads % nKv !== 0) {
    issues.push({ path: ['nKvHeads'], message: `nKvHeads (${nKv}) must divide nHeads (${c.nHeads})` });
  }
  if (c.attention.kind === 'moa' && c.attention.router.kind === 'topk' && c.attention.router.k > c.attention.numExperts) {
    issues.push({
      path: ['attention', 'router', 'k'],
      message: `k (${c.attention.router.k}) must be <= attention.numExperts (${c.attention.numExperts})`,
    });
  }
  if (c.ffn.kind === 'moe' && c.ffn.router.kind === 'topk' && c.ffn.router.k > c.ffn.numExperts) {
    issues.push({
      path: ['ffn', 'router', 'k'],
      message: `k (${c.ffn.router.k}) must be <= ffn.numExperts (${c.ffn.numExperts})`,
    });
  }
  if (c.ffn.kind === 'moe' && c.ffn.router.kind === 'expert-choice' && c.ffn.router.capacityFactor > c.ffn.numExperts) {
    issues.push({
      path: ['ffn', 'router', 'capacityFactor'],
      message: `capacityFactor (${c.ffn.router.capacityFactor}) must be <= ffn.numExperts (${c.ffn.numExperts})`,
    });
  }
  const mixture = c.attention.kind === 'moa' || c.ffn.kind === 'moe';
  if (c.routing.shareAcrossLayers && !mixture) {
    issues.push({ path: ['routing', 'shareAcrossLayers'], message: 'needs attention.kind "moa" or ffn.kind "moe"' });
  }
  if (c.routing.tieAttentionToFfn) {
    if (c.attention.kind !== 'moa' || c.ffn.kind !== 'moe') {
      issues.push({
        path: ['routing', 'tieAttentionToFfn'],
        message: 'needs attention.kind "moa" and ffn.kind "moe"',
      });
    } else if (c.attention.numExperts !== c.ffn.numExperts) {
      issues.push({
        path: ['routing', 'tieAttentionToFfn'],
        message: `needs attention.numExperts (${c.attention.numExperts}) == ffn.numExperts (${c.ffn.numExperts})`,
      });
    } else if (c.ffn.router.kind === 'hash') {
      issues.push({
        path: ['routing', 'tieAttentionToFfn'],
        message: 'needs an FFN router with weights, but ffn.router.kind is "hash" (use a topk or expert-choice FFN router, or set it to false)',
      });
    }
  }
  if (c.routing.perExample) {
    if (!mixture) {
      issues.push({ path: ['routing', 'perExample'], message: 'needs attention.kind "moa" or ffn.kind "moe"' });
    }
    if (c.routing.perExample.prefixTokens > c.maxSeqLen) {
      issues.push({
        path: ['routing', 'perExample', 'prefixTokens'],
        message: `prefixTokens (${c.routing.perExample.prefixTokens}) must be <= maxSeqLen (${c.maxSeqLen})`,
      });
    }
  }
  return issues;
}

/**
 * The model config schema: strict objects (a misspelt key fails), defaults in the schema,
 * cross-field checks refined in, and `nKvHeads` filled in (= nHeads) on output.
 */
export const ModelConfigSchema = ModelConfigObject.superRefine((c, ctx) => {
  for (const issue of crossFieldIssues(c)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}).transform((c) => ({ ...c, nKvHeads: c.nKvHeads ?? c.nHeads }));

/** A parsed, validated model config (every default filled in). */
export type ModelConfig = z.output<typeof ModelConfigSchema>;
/** What a user may write: a model config with defaults omitted. */
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;
export type AttentionConfig = ModelConfig['attention'];
export type FfnConfig = ModelConfig['ffn'];
export type RoutingConfig = ModelConfig['routing'];
export type AuxConfig = ModelConfig['aux'];

/** Head width Dh = dModel / nHeads. */
export function headDim(config: ModelConfig): number {
  return config.dModel / config.nHeads;
}

/**
 * Dimensions of each head that RoPE rotates: ⌊Dh · rotaryFraction⌋ (all of them by default). The
 * rest pass through unrotated (GPT-NeoX's partial rotary).
 */
export function ropeDims(config: ModelConfig): number {
  return config.rotaryFraction === undefined ? headDim(config) : Math.floor(headDim(config) * config.rotaryFraction);
}

/**
 * Parses and validates a model config (JSON value). Throws `ConfigError` naming every bad
 * field; `source` (a file name, "preset tiny", ...) goes into the message.
 */
export function parseModelConfig(json: unknown, source?: string): ModelConfig {
  const r = ModelConfigSchema.safeParse(json);
  if (!r.success) {
    throw configErrorFromZod(
      source ? `model config (${source})` : 'model config',
      r.error.issues,
      'fix the fields listed above; see packages/core/src/model/config.ts for every field and its default',
    );
  }
  return r.data;
}

const PRESET_DIR = fileURLToPath(new URL('./presets/', import.meta.url));

/** Names of the built-in presets (JSON files in `model/presets/`). */
export function presetNames(): string[] {
  return readdirSync(PRESET_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/**
 * Loads a built-in preset (`smoke`, `tiny`, `small`, `paper-small`, `paper-large`) and validates
 * it with `ModelConfigSchema`. `overrides` are shallow-merged first (e.g. `{ ffn: {...} }`).
 * An unknown name throws a `BamError` listing the known presets.
 */
export function loadPreset(name: string, overrides: Partial<ModelConfigInput> = {}): ModelConfig {
  const known = presetNames();
  if (!known.includes(name)) {
    throw new BamError(`unknown model preset '${name}'`, 'E_PRESET', `known presets: ${known.join(', ')}`);
  }
  const json = JSON.parse(readFileSync(`${PRESET_DIR}${name}.json`, 'utf8')) as Record<string, unknown>;
  return parseModelConfig({ ...json, ...overrides }, `preset ${name}`);
}
