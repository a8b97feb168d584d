/**
 * What a merge recipe is: a named, documented function from N dense checkpoints (tensors by name)
 * to one mixture checkpoint (config + tensors + meta). A recipe only decides the mixture config
 * and where each mixture tensor comes from (its `layout`); `assembleMixture` does the copying,
 * averaging and router init for every recipe the same way.
 *
 * Source order (every recipe): sources 0..N−2 are the branched domain experts in the preset's
 * domain order, source N−1 is the seed — the N-th, general expert (docs/method.md, "Phases").
 */
import { z } from 'zod';
import { FfnRouterSchema, AttentionRouterSchema, RoutingConfigSchema, type CheckpointTokenizer, type ModelConfig, type SafeTensor } from '@bam/core';
import type { F32Tensor, TensorMap } from '../tensors.ts';

/** One dense model given to a recipe. */
export interface DenseSource {
  /** What errors call it: the checkpoint directory, or a label such as `expert code`. */
  name: string;
  config: ModelConfig;
  tokenizer: CheckpointTokenizer;
  /** Its parameters by name (docs/internals.md); only read, never kept. */
  tensors: ReadonlyMap<string, SafeTensor | F32Tensor>;
  /** sha256 of its model.safetensors, when it came from a checkpoint (recorded in the meta). */
  contentHash?: string;
}

/**
 * How the routers of a mixture are initialised: N(0, std²), each router tensor seeded by
 * `paramSeed(seed, name)` (FNV-1a of `${seed}:${name}`) into mulberry32 + Box–Muller.
 */
export const RouterInitSchema = z.strictObject({
  std: z.number().positive().default(0.02),
  seed: z.number().int().default(0),
});
export type RouterInit = z.output<typeof RouterInitSchema>;

/** Options every recipe accepts. */
export const BaseRecipeOptions = {
  /** Router init (default N(0, 0.02²), seed 0). */
  routerInit: RouterInitSchema.prefault({}),
  /**
   * Override the FFN router (e.g. `{kind:'topk', k:2, normalize:'after'}`, the original BTX). The
   * paper's default (top-1, normalize 'before') scales each FFN output by its gate p_top ≈ 1/N at
   * init, so the step-0 mixture is NOT its experts (the mix stage prints the KL); 'after'
   * renormalises and a mixture of identical experts then equals them (docs/method.md "Identical experts").
   */
  ffnRouter: FfnRouterSchema.optional(),
  /**
   * The mixture's `routing` (core's RoutingConfigSchema: `shareAcrossLayers`, `tieAttentionToFfn`,
   * `perExample`), applied by `recipeConfig`/`buildMixture` on top of any recipe's config (the
   * routing studies). Absent: per-layer, per-token routers (the paper).
   */
  routing: RoutingConfigSchema.optional(),
  /**
   * Train only the routers and the averaged/shared weights in the mixture phase: every expert
   * tensor (core's `isExpertKey`: `layers.{l}.ffn.experts.*`, `layers.{l}.attn.experts.*`) stays
   * as the dense expert it came from (the frozen-experts study). Absent or false: everything trains (the paper).
   */
  freezeExperts: z.boolean().optional(),
  /**
   * How the fresh mixture starts (`MIXTURE_STARTS`). `paper` (or absent): the paper's top-1 without
   * renormalisation scales each FFN expert's output by its gate, ≈ 1/N at the router's init, so
   * the step-0 mixture is not its experts. `renormalised`: the FFN router's top-k gates are
   * renormalised (`normalize: 'straight-through'`: gate 1 at top-1, with the un-renormalised
   * gradient so the LM loss still trains the router); a mixture of N copies of the seed is then
   * the seed. `gate-compensated`: the FFN router is unchanged and every FFN expert's
   * down-projection is multiplied by E/k (Megatron-LM's upcycling), undoing the gate's 1/N in
   * expectation: exact for a uniform router, within the router's init spread otherwise.
   */
  start: z
    .enum(['paper', 'renormalised', 'gate-compensated'])
    .optional()
    .transform((s) => (s === 'paper' ? undefined : s)),
  /** The mixture's load-balance coefficient α (the config's `aux.loadBalance`; absent: core's default 0.01). */
  loadBalance: z.number().nonnegative().optional(),
  /** The routers' learning rate in the mixture phase, as a multiple of the preset's mixture LR (absent: 1). */
  routerLrScale: z.number().positive().optional(),
  /**
   * The mixture phase's data-matched length in optimizer steps for this recipe (absent: the preset's
   * `stages.mixture.steps`). The compute-matched run gets the reference's FLOPs at the same length.
   */
  mixtureSteps: z.number().int().positive().optional(),
};

/** The values of the `start` recipe option (absent means `paper`). */
export const MIXTURE_STARTS = ['paper', 'renormalised', 'gate-compensated'] as const;

/** Options of recipes with a mixture of attention: the FFN options plus the attention router. */
export const MoaRecipeOptions = {
  ...BaseRecipeOptions,
  /** Override the attention router (`{kind:'soft'}` or `{kind:'topk', k}`). */
  attentionRouter: AttentionRouterSchema.optional(),
};

/** Where each tensor of the mixture comes from (indices into the sources). */
export interface MixtureLayout {
  /** Source of each FFN expert e (`layers.{l}.ffn.experts.{e}.*` ← source's `layers.{l}.ffn.*`). */
  ffnExperts: number[];
  /** Source of each attention expert e (`layers.{l}.attn.experts.{e}.*` ← `layers.{l}.attn.*`); null: dense attention. */
  attentionExperts: number[] | null;
  /** Sources whose uniform mean gives every other (non-expert, non-router) tensor. */
  averageOver: number[];
}

/** A merge recipe. Plain object; the registry finds it by `id`. */
export interface Recipe<O = any> {
  id: string;
  /** One paragraph: what it builds and which paper setting it follows. */
  description: string;
  /** zod schema of its options (strict; defaults inside). */
  options: z.ZodType<O>;
  /** The mixture config for N dense models with config `dense`. */
  config(dense: ModelConfig, n: number, options: O): ModelConfig;
  /** Where each mixture tensor comes from, for N sources and the mixture config. */
  layout(n: number, config: ModelConfig, options: O): MixtureLayout;
  /** Extra facts for the checkpoint meta (e.g. how shared K/V were initialised). */
  notes?(options: O): Record<string, unknown>;
}

/** What the checkpoint meta of a mixture records about its making. */
export interface MixtureMeta {
  recipe: string;
  options: unknown;
  sources: Array<{ name: string; contentHash?: string }>;
  layout: MixtureLayout;
  routerInit: RouterInit & { distribution: 'normal'; mean: 0; generator: string };
  /** How every non-expert, non-router tensor was made. */
  nonExpertInit: string;
  notes: Record<string, unknown>;
}

/** A mixture built by a recipe: config, tensors (fresh arrays) and meta. */
export interface MixtureCheckpoint {
  config: ModelConfig;
  tokenizer: CheckpointTokenizer;
  tensors: TensorMap;
  meta: MixtureMeta;
}
