/**
 * The recipe registry and `buildMixture`, the one entry point from N dense checkpoints to a
 * mixture checkpoint. See each recipe file for what it builds; `types.ts` for the source order
 * (domain experts first, the seed — the general expert — last).
 */
import { BamError, configErrorFromZod, parseModelConfig, type ModelConfig } from '@bam/core';
import { nearestMatch } from '@bam/utils';
import { assembleMixture, checkCompatible } from './assemble.ts';
import { bamFull } from './bam-full.ts';
import { bamKvShared } from './bam-kv-shared.ts';
import { bamMoaTop1, bamMoaTop2 } from './bam-moa.ts';
import { btx } from './btx.ts';
import { btxExperts } from './btx-experts.ts';
import { btxTop3of6 } from './btx-top3-6.ts';
import { sparseUpcycle } from './sparse-upcycle.ts';
import type { DenseSource, MixtureCheckpoint, Recipe, RouterInit } from './types.ts';

export { checkCompatible, assembleMixture } from './assemble.ts';
export { matchedExpertCount } from './btx-experts.ts';
export { KV_SHARED_INIT } from './bam-kv-shared.ts';
export { range, seedIndex } from './common.ts';
export * from './types.ts';

/** Every built-in recipe, in the order tables list them. */
export const RECIPES: readonly Recipe[] = [btx, bamFull, bamKvShared, btxExperts, btxTop3of6, bamMoaTop1, bamMoaTop2, sparseUpcycle];

/** The ids of the built-in recipes. */
export function recipeIds(): string[] {
  return RECIPES.map((r) => r.id);
}

/** A recipe with its options parsed (defaults filled in). */
export interface ResolvedRecipe {
  recipe: Recipe;
  /** The parsed options (what the content hash and the meta record). */
  options: Record<string, unknown>;
}

/**
 * Finds a recipe by id and parses its options. `btx-experts-<M>` (e.g. `btx-experts-6`) is
 * `btx-experts-M` with `experts: M`. An unknown id throws a BamError listing the known ids and the
 * nearest one; bad options throw a ConfigError naming the fields.
 */
export function resolveRecipe(id: string, rawOptions: Record<string, unknown> = {}): ResolvedRecipe {
  let recipe = RECIPES.find((r) => r.id === id);
  let raw = rawOptions;
  const m = /^btx-experts-(\d+)$/.exec(id);
  if (!recipe && m) {
    recipe = btxExperts;
    raw = { ...rawOptions, experts: Number(m[1]) };
  }
  if (!recipe) {
    const nearest = nearestMatch(id, recipeIds());
    throw new BamError(`unknown recipe '${id}'`, 'E_RECIPE', `did you mean '${nearest}'? known recipes: ${recipeIds().join(', ')} (and btx-experts-<M>)`);
  }
  const r = recipe.options.safeParse(raw);
  if (!r.success) throw configErrorFromZod(`options of recipe '${id}'`, r.error.issues, `recipe '${recipe.id}' options are documented in packages/upcycle/src/recipes/`);
  return { recipe, options: r.data as Record<string, unknown> };
}

/** The FFN router after the `start` option: `renormalised` makes an un-renormalised top-k straight-through. */
function startRouter(recipe: Recipe, config: ModelConfig, start: unknown): ModelConfig['ffn'] {
  if (start !== 'renormalised' || config.ffn.kind !== 'moe') return config.ffn;
  const r = config.ffn.router;
  if (r.kind !== 'topk') {
    throw new BamError(`recipe '${recipe.id}': start 'renormalised' needs a top-k FFN router, not '${r.kind}'`, 'E_RECIPE', "drop the start option, or use ffnRouter {kind:'topk', ...}");
  }
  // 'after' and 'straight-through' are renormalised already; only the paper's 'before' changes.
  return r.normalize === 'before' ? { ...config.ffn, router: { ...r, normalize: 'straight-through' } } : config.ffn;
}

/**
 * The recipe's config with the config-level options put in: `routing`, `start: 'renormalised'`
 * (the FFN router) and `loadBalance` (`aux.loadBalance`); validated by the model schema.
 */
function configWithOptions(recipe: Recipe, dense: ModelConfig, n: number, options: Record<string, unknown>): ModelConfig {
  const config = recipe.config(dense, n, options);
  const { routing, start, loadBalance } = options;
  if (routing === undefined && start !== 'renormalised' && loadBalance === undefined) return config;
  return parseModelConfig(
    {
      ...config,
      ...(routing !== undefined ? { routing } : {}),
      ffn: startRouter(recipe, config, start),
      ...(loadBalance !== undefined ? { aux: { ...config.aux, loadBalance } } : {}),
    },
    `recipe '${recipe.id}' with its options`,
  );
}

/**
 * The factor `start: 'gate-compensated'` multiplies every FFN expert's down-projection by: E/k
 * for an un-renormalised top-k router (its gates sum to ≈ k/E under a uniform router), else 1.
 * Throws for a router whose gates it cannot compensate.
 */
export function gateCompensation(recipeId: string, config: ModelConfig, start: unknown): number {
  if (start !== 'gate-compensated' || config.ffn.kind !== 'moe') return 1;
  const r = config.ffn.router;
  if (r.kind !== 'topk' || r.normalize !== 'before') {
    throw new BamError(
      `recipe '${recipeId}': start 'gate-compensated' scales the experts of an un-renormalised top-k router, but the FFN router is ${r.kind === 'topk' ? `top-${r.k} '${r.normalize}'` : `'${r.kind}'`}`,
      'E_RECIPE',
      "its gates need no compensation: drop the start option (or use start 'renormalised')",
    );
  }
  return config.ffn.numExperts / r.k;
}

/** The mixture config a recipe makes from N dense models of config `dense` (no tensors needed), with its config-level options. */
export function recipeConfig(id: string, dense: ModelConfig, n: number, rawOptions: Record<string, unknown> = {}): ModelConfig {
  const { recipe, options } = resolveRecipe(id, rawOptions);
  return configWithOptions(recipe, dense, n, options);
}

/**
 * Builds a mixture checkpoint from N dense sources (domain experts first, the seed last) by the
 * recipe `id`. Checks the sources first (same config, tokenizer and shapes; else a BamError
 * naming them). The returned tensors are fresh arrays owned by the caller.
 */
export function buildMixture(id: string, sources: readonly DenseSource[], rawOptions: Record<string, unknown> = {}): MixtureCheckpoint {
  const { recipe, options } = resolveRecipe(id, rawOptions);
  checkCompatible(sources, id);
  const n = sources.length;
  const config = configWithOptions(recipe, sources[0].config, n, options);
  const layout = recipe.layout(n, config, options);
  const routerInit = options.routerInit as RouterInit;
  const ffnOutputScale = gateCompensation(id, config, options.start);
  const tensors = assembleMixture(sources, config, layout, routerInit, { ffnOutputScale });
  return {
    config,
    tokenizer: { ...sources[0].tokenizer },
    tensors,
    meta: {
      recipe: id,
      options,
      sources: sources.map((s) => ({ name: s.name, ...(s.contentHash ? { contentHash: s.contentHash } : {}) })),
      layout,
      routerInit: { ...routerInit, distribution: 'normal', mean: 0, generator: 'mulberry32(paramSeed(seed, name)) + Box-Muller, one stream per router tensor' },
      nonExpertInit: `uniform mean of sources [${layout.averageOver.join(', ')}]`,
      notes: { ...(recipe.notes?.(options) ?? {}), ...(ffnOutputScale !== 1 ? { gateCompensation: `every FFN expert's w_down (and b_down) multiplied by E/k = ${ffnOutputScale}` } : {}) },
    },
  };
}
