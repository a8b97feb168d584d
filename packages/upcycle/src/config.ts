/**
 * Upcycle presets: one strict zod schema for everything the pipeline needs (model preset, stage
 * steps and learning rates, batch shape, N, recipes, budgets), with the defaults in the schema
 * and the JSON presets in `presets/` (smoke, tiny, small) validated by the same schema.
 *
 * The recipe follows the BAM paper (Zhang et al. 2024, arXiv:2408.08274, §4 and docs/method.md,
 * "Phases"): pre-train a dense seed on general text; branch it N−1 times; continue pre-training each
 * copy on one domain with 10% general text at 50% of the seed's peak LR; mix the N dense models
 * (the untrained-further seed is the N-th, general expert) and train the mixture on 25% of each
 * domain.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  BamError,
  TRAINING_DOMAINS,
  configErrorFromZod,
  createTokenizer,
  loadPreset,
  presetNames,
  tokenizerSpecFromName,
  type ModelConfig,
  type Tokenizer,
} from '@bam/core';

const posInt = z.number().int().positive();

/** The two comparison regimes of the paper (the same names as @bam/eval's `Budget`). */
export const BUDGETS = ['data-matched', 'compute-matched'] as const;
/** Data-matched: every variant sees the same mixture-phase tokens; compute-matched: the same FLOPs. */
export type Budget = (typeof BUDGETS)[number];

/** A domain an expert specialises in (any training domain but general: the seed is the general expert). */
export const EXPERT_DOMAINS = TRAINING_DOMAINS.filter((d) => d !== 'general') as Array<'law' | 'code' | 'math'>;
export type ExpertDomain = 'law' | 'code' | 'math';

/** A learning-rate schedule: peak, linear warm-up steps, cosine decay to `minRatio`·peak. */
const LrSchema = z.strictObject({
  peak: z.number().positive(),
  warmup: z.number().int().nonnegative().default(0),
  minRatio: z.number().min(0).max(1).default(0.1),
});

/** One recipe in a preset: an id (`btx`), or an id with options and the name its outputs go by. */
export const RecipeEntrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    /** The recipe id (see `recipeIds()`). */
    id: z.string().min(1),
    /** The name in tables and result keys (default: the id); must be unique in the preset. */
    name: z.string().min(1).optional(),
    /** Options of the recipe (validated by the recipe's own schema). */
    options: z.record(z.string(), z.unknown()).default({}),
  }),
]);
export type RecipeEntryInput = z.input<typeof RecipeEntrySchema>;

const UpcyclePresetObject = z.strictObject({
  /** The preset's name (recorded in checkpoints' meta, not in content hashes). */
  name: z.string().min(1),
  description: z.string().default(''),
  /** The core model preset of the dense seed (`smoke`, `tiny`, `small`, ...). */
  model: z.string().min(1),
  /** Shallow overrides of the model preset (e.g. `{ "nLayers": 2 }`). */
  modelOverrides: z.record(z.string(), z.unknown()).default({}),
  /** Tokenizer name: `byte`, `gpt2-<vocab>`; default byte for a 256-token vocabulary, else gpt2-<vocabSize>. */
  tokenizer: z.string().optional(),
  /** Seeds the seed model's init and every stage's data order. */
  seed: z.number().int().nonnegative().default(0),
  /**
   * Seeds only the mixture phase (router init, unless a recipe sets `routerInit.seed`, and the
   * mixture data order), so the seeds of a sweep share one seed model and one set of experts.
   * null: the mixture phase is seeded from `seed`.
   */
  mixtureSeed: z.number().int().nonnegative().nullable().default(null),
  /** B: rows per batch, every stage. */
  batchSize: posInt,
  /** T: tokens per row, every stage (≤ the model's maxSeqLen). */
  seqLen: posInt,
  /** N: experts in the mixture = the domain experts + the seed (the general expert). */
  numExperts: posInt.default(4),
  /** The domains of the N−1 branched experts, in expert order (the seed is expert N−1). */
  domains: z.array(z.enum(EXPERT_DOMAINS as [ExpertDomain, ...ExpertDomain[]])).min(1).default(['code', 'law', 'math']),
  /** General text in each expert's continued pre-training mix (the paper: 10%). */
  generalShare: z.number().min(0).max(1).default(0.1),
  stages: z.strictObject({
    /** Pre-training of the dense seed on general text. */
    seed: z.strictObject({ steps: posInt, lr: LrSchema }),
    /** Continued pre-training of each branch: peak LR = lrRatio × the seed's peak (the paper: 50%). */
    experts: z.strictObject({
      steps: posInt,
      lrRatio: z.number().positive().default(0.5),
      warmup: z.number().int().nonnegative().default(0),
    }),
    /**
     * Mixture training: `steps` is the data-matched length; compute-matched runs derive theirs.
     * `routerLrScale`: the routers' LR as a multiple of `lr` for every recipe that sets none
     * (absent: 1, the paper's single LR).
     */
    mixture: z.strictObject({ steps: posInt, lr: LrSchema, routerLrScale: z.number().positive().optional() }),
  }),
  /** AdamW decoupled weight decay (the paper: 0.1). */
  weightDecay: z.number().nonnegative().default(0.1),
  /** Global gradient-norm clip (0 = off). */
  clipNorm: z.number().nonnegative().default(1.0),
  /** Trainer checkpoints every this many steps, for resume (0: only at the end). */
  checkpointEvery: z.number().int().nonnegative().default(0),
  /** Divergence thresholds of every training stage (core's `DivergenceOptions`; absent: core's defaults). */
  divergence: z
    .strictObject({
      lossRatio: z.number().nonnegative().optional(),
      minLossRise: z.number().nonnegative().optional(),
      gradNormRatio: z.number().nonnegative().optional(),
      emaBeta: z.number().min(0).lt(1).optional(),
      warmupSteps: z.number().int().nonnegative().optional(),
    })
    .optional(),
  /** Validation batches [B, T] per domain for each checkpoint's per-domain validation loss. */
  evalBatches: posInt.default(2),
  /** The recipes built and trained (see `recipeIds()`). */
  recipes: z.array(RecipeEntrySchema).min(1),
  /** The regimes each recipe's mixture is trained under. */
  budgets: z.array(z.enum(BUDGETS)).min(1).default([...BUDGETS]),
  /** The recipe whose data-matched FLOPs set the compute-matched budget (the paper: BTX). */
  reference: z.string().default('btx'),
});

/**
 * The upcycle preset schema: strict objects, defaults filled in, and cross-field checks (N equals
 * the domains plus the seed, no repeated domain or recipe name).
 */
export const UpcyclePresetSchema = UpcyclePresetObject.superRefine((p, ctx) => {
  if (p.numExperts !== p.domains.length + 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['numExperts'],
      message: `numExperts (${p.numExperts}) must be the number of domains (${p.domains.length}: ${p.domains.join(', ')}) + 1 for the seed, the general expert`,
    });
  }
  const seen = new Set<string>();
  p.domains.forEach((d, i) => {
    if (seen.has(d)) ctx.addIssue({ code: 'custom', path: ['domains', i], message: `domain '${d}' appears twice` });
    seen.add(d);
  });
  const names = new Set<string>();
  p.recipes.forEach((r, i) => {
    const name = typeof r === 'string' ? r : (r.name ?? r.id);
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['recipes', i], message: `recipe name '${name}' appears twice (give one a distinct "name")` });
    names.add(name);
  });
  if (p.stages.seed.lr.warmup >= p.stages.seed.steps) {
    ctx.addIssue({ code: 'custom', path: ['stages', 'seed', 'lr', 'warmup'], message: `must be < stages.seed.steps (${p.stages.seed.steps})` });
  }
});

/** A parsed, validated upcycle preset (defaults filled in). */
export type UpcyclePreset = z.output<typeof UpcyclePresetSchema>;
/** What a preset file may hold (defaults omitted). */
export type UpcyclePresetInput = z.input<typeof UpcyclePresetSchema>;

/** Parses and validates an upcycle preset (JSON value); a ConfigError names every bad field. */
export function parseUpcyclePreset(json: unknown, source?: string): UpcyclePreset {
  const r = UpcyclePresetSchema.safeParse(json);
  if (!r.success) {
    throw configErrorFromZod(
      source ? `upcycle preset (${source})` : 'upcycle preset',
      r.error.issues,
      'fix the fields listed above; see packages/upcycle/src/config.ts for every field and its default',
    );
  }
  return r.data;
}

const PRESET_DIR = fileURLToPath(new URL('./presets/', import.meta.url));

/** Names of the built-in upcycle presets (`presets/*.json`). */
export function upcyclePresetNames(): string[] {
  return readdirSync(PRESET_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/**
 * Loads an upcycle preset by built-in name (`smoke`, `tiny`, `small`) or from a JSON file path.
 * An unknown name throws a BamError listing the known presets.
 */
export function loadUpcyclePreset(nameOrPath: string): UpcyclePreset {
  const known = upcyclePresetNames();
  let file: string;
  if (known.includes(nameOrPath)) file = `${PRESET_DIR}${nameOrPath}.json`;
  else if (nameOrPath.endsWith('.json') && existsSync(nameOrPath)) file = nameOrPath;
  else throw new BamError(`unknown upcycle preset '${nameOrPath}'`, 'E_PRESET', `use one of ${known.join(', ')} or the path of a preset JSON file`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BamError(`upcycle preset ${file} is not valid JSON (${(err as Error).message})`, 'E_PRESET', 'fix the JSON syntax');
  }
  return parseUpcyclePreset(json, file);
}

/** The preset's dense model config (the core model preset with `modelOverrides`), checked against `seqLen`. */
export function presetModelConfig(preset: UpcyclePreset): ModelConfig {
  if (!presetNames().includes(preset.model)) {
    throw new BamError(`upcycle preset '${preset.name}' names unknown model preset '${preset.model}'`, 'E_PRESET', `known model presets: ${presetNames().join(', ')}`);
  }
  const config = loadPreset(preset.model, preset.modelOverrides);
  if (config.attention.kind !== 'dense' || config.ffn.kind !== 'dense') {
    throw new BamError(`upcycle preset '${preset.name}': the seed must be dense, but model '${preset.model}' has a mixture`, 'E_PRESET', 'use a dense model preset; recipes add the experts');
  }
  if (preset.seqLen > config.maxSeqLen) {
    throw new BamError(`upcycle preset '${preset.name}': seqLen ${preset.seqLen} exceeds model '${preset.model}' maxSeqLen ${config.maxSeqLen}`, 'E_PRESET', 'lower seqLen or raise maxSeqLen in modelOverrides');
  }
  return config;
}

/** The preset's tokenizer (named, or the default for the model's vocabulary), checked against the vocabulary. */
export function presetTokenizer(preset: UpcyclePreset, config: ModelConfig = presetModelConfig(preset)): Tokenizer {
  const name = preset.tokenizer ?? (config.vocabSize === 256 ? 'byte' : `gpt2-${config.vocabSize}`);
  const tokenizer = createTokenizer(tokenizerSpecFromName(name));
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new BamError(`upcycle preset '${preset.name}': tokenizer '${tokenizer.id}' has ${tokenizer.vocabSize} ids but model '${preset.model}' only ${config.vocabSize}`, 'E_PRESET', 'use a smaller tokenizer or a larger vocabSize');
  }
  return tokenizer;
}

/** A recipe entry resolved: its id, its output name and its raw options. */
export interface ResolvedRecipeEntry {
  id: string;
  name: string;
  options: Record<string, unknown>;
}

/**
 * The preset's recipe entries as `{id, name, options}`; with a `mixtureSeed`, routers are seeded
 * by it unless an entry sets `routerInit.seed` itself.
 */
export function recipeEntries(preset: Pick<UpcyclePreset, 'recipes'> & Partial<Pick<UpcyclePreset, 'mixtureSeed'>>): ResolvedRecipeEntry[] {
  return preset.recipes.map((r) => {
    const e = typeof r === 'string' ? { id: r, name: r, options: {} } : { id: r.id, name: r.name ?? r.id, options: r.options ?? {} };
    return withMixtureSeed(e, preset.mixtureSeed ?? null);
  });
}

/** The entry with its routers seeded by `mixtureSeed` (when not null and the entry sets no router seed). */
export function withMixtureSeed(e: ResolvedRecipeEntry, mixtureSeed: number | null): ResolvedRecipeEntry {
  const init = (e.options.routerInit ?? {}) as Record<string, unknown>;
  if (mixtureSeed === null || init.seed !== undefined) return e;
  return { ...e, options: { ...e.options, routerInit: { ...init, seed: mixtureSeed } } };
}
