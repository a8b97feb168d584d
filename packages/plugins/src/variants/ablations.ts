/**
 * The bam-full ablations among the study variants (issue 7 part 2): what routing freedoms buy,
 * each a variant usable in any sweep. Every one is `bam-full` (Zhang et al. 2024: soft MoA over
 * the N attention experts, top-1 FFN MoE, the rest averaged) with one recipe option set, built through
 * `upcycle()` like the built-in mixtures, so it shares the seed and the experts with every other
 * variant of the same preset and seed (same content hashes) and differs from `bam-full` only in:
 *
 * | variant                 | recipe option on bam-full                                   |
 * |-------------------------|-------------------------------------------------------------|
 * | `frozen-experts`        | `freezeExperts: true` (mixture phase trains routers, embeddings, norms, LM head only) |
 * | `shared-router`         | `routing: { shareAcrossLayers: true }` (one FFN and one attention router for all layers) |
 * | `tied-routing`          | `routing: { tieAttentionToFfn: true }` (attention mixes by the FFN router's probabilities) |
 * | `per-example-routing`   | `routing: { perExample: { prefixTokens } }` (a sequence routed by its first k tokens) |
 * | `expert-choice-routing` | `ffnRouter: { kind: 'expert-choice', capacityFactor }` (Zhou et al. 2022) |
 * | `hash-routing`          | `ffnRouter: { kind: 'hash' }` (Roller et al. 2021: the token id picks the FFN expert) |
 *
 * `oracle.ts` holds the other study variant, `oracle-specialist` (no mixture).
 */
import { z } from 'zod';
import { defineVariant, type VariantPlugin } from '@bam/eval';
import { resolveRecipe } from '@bam/upcycle';
import { mixtureOptionsObject, mixtureVariant, withByoCheck, type MixtureVariantOptions } from './mixture.ts';

/** The recipe every mixture study variant sets its option on. */
export const STUDY_BASE_RECIPE = 'bam-full';

/** What `studyVariant` builds: a bam-full variant with some recipe options fixed. */
export interface StudyVariantSpec<X extends z.ZodRawShape> {
  id: string;
  description: string;
  /** Recipe option keys the study fixes (removed from the variant's options). */
  fixes: readonly string[];
  /** The study's own options (e.g. `prefixTokens`), with defaults. */
  extra?: X;
  /** The fixed recipe options, from the study's own options. */
  recipeOptions(extra: z.output<z.ZodObject<X>>): Record<string, unknown>;
}

/**
 * A mixture study variant: `bam-full` (STUDY_BASE_RECIPE) with `spec.recipeOptions` set, trained
 * and loaded exactly as the built-in mixtures are (`mixtureVariant`: the preset's pipeline plus
 * one recipe entry named `<id>-<options hash>`), under the sweep's budgets. Its options are
 * bam-full's (preset, routerInit, ...) minus the keys it fixes, plus its own.
 */
export function studyVariant<X extends z.ZodRawShape>(spec: StudyVariantSpec<X>): VariantPlugin<MixtureVariantOptions> {
  const inner = mixtureVariant(spec.id, STUDY_BASE_RECIPE, spec.description);
  const base = mixtureOptionsObject(resolveRecipe(STUDY_BASE_RECIPE).recipe);
  const extra = (spec.extra ?? {}) as X;
  const schema = withByoCheck(
    base
      .omit(Object.fromEntries(spec.fixes.map((k) => [k, true])) as Record<string, true>)
      .extend(extra)
      .strict(),
  );
  const toRecipe = (opts: MixtureVariantOptions): MixtureVariantOptions => {
    const own: Record<string, unknown> = {};
    const rest: Record<string, unknown> = { ...opts };
    for (const k of Object.keys(extra)) {
      own[k] = rest[k];
      delete rest[k];
    }
    return { ...(rest as MixtureVariantOptions), ...spec.recipeOptions(own as z.output<z.ZodObject<X>>) };
  };
  return defineVariant<MixtureVariantOptions>({
    id: spec.id,
    description: spec.description,
    options: schema,
    usesBudget: true,
    setup: inner.setup,
    prepare: (opts, ctx) => inner.prepare!(toRecipe(opts), ctx),
    create: (opts, ctx) => inner.create(toRecipe(opts), ctx),
  });
}

/** `frozen-experts`: bam-full whose mixture phase updates only routers and averaged weights. */
export const frozenExpertsVariant = studyVariant({
  id: 'frozen-experts',
  description:
    "bam-full with every FFN and attention expert frozen in the mixture phase (recipe option freezeExperts): only the routers and the averaged embeddings, norms and LM head train. How much of BAM's gain is the router vs. tuning the experts together.",
  fixes: ['freezeExperts'],
  recipeOptions: () => ({ freezeExperts: true }),
});

/** `shared-router`: one FFN router and one attention router for all layers. */
export const sharedRouterVariant = studyVariant({
  id: 'shared-router',
  description: 'bam-full with one FFN router and one attention router shared by all layers (routing.shareAcrossLayers): what per-layer routing freedom buys.',
  fixes: ['routing'],
  recipeOptions: () => ({ routing: { shareAcrossLayers: true } }),
});

/** `tied-routing`: the attention mixture follows the FFN router. */
export const tiedRoutingVariant = studyVariant({
  id: 'tied-routing',
  description: "bam-full whose attention experts are mixed by the FFN router's probabilities (routing.tieAttentionToFfn; no attention router): what a separate attention router buys.",
  fixes: ['routing'],
  recipeOptions: () => ({ routing: { tieAttentionToFfn: true } }),
});

/** `per-example-routing`: a whole sequence routed by the mean of its first `prefixTokens` hidden states. */
export const perExampleRoutingVariant = studyVariant({
  id: 'per-example-routing',
  description:
    'bam-full routing each sequence as a whole by the mean hidden state of its first prefixTokens tokens (routing.perExample; default 8): every token of a sequence goes to the same experts. Per-token vs per-document routing.',
  fixes: ['routing'],
  extra: { prefixTokens: z.number().int().positive().default(8) },
  recipeOptions: (o) => ({ routing: { perExample: { prefixTokens: o.prefixTokens } } }),
});

/** `expert-choice-routing`: each FFN expert picks its tokens (capacity = capacityFactor · tokens / E). */
export const expertChoiceRoutingVariant = studyVariant({
  id: 'expert-choice-routing',
  description:
    'bam-full with expert-choice FFN routing (Zhou et al. 2022; ffnRouter expert-choice, capacityFactor default 1): each expert takes its top tokens of the sequence. Note that an expert choosing over the whole sequence lets later tokens change the routing of earlier ones (not causal).',
  fixes: ['ffnRouter'],
  extra: { capacityFactor: z.number().positive().default(1) },
  recipeOptions: (o) => ({ ffnRouter: { kind: 'expert-choice', capacityFactor: o.capacityFactor } }),
});

/** `hash-routing`: a fixed hash of the token id picks the FFN expert. */
export const hashRoutingVariant = studyVariant({
  id: 'hash-routing',
  description: 'bam-full with hash FFN routing (Roller et al. 2021; ffnRouter hash): a fixed hash of the token id picks the FFN expert, no learned FFN router. The attention router stays soft and learned.',
  fixes: ['ffnRouter'],
  recipeOptions: () => ({ ffnRouter: { kind: 'hash' } }),
});
