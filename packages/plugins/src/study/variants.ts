/**
 * The study variants (issue 7 part 2): what routing freedoms buy, each a variant usable in any
 * sweep. Every mixture study is `bam-full` (Zhang et al. 2024: soft MoA over the N attention
 * experts, top-1 FFN MoE, the rest averaged) with one recipe option set, built through
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
 * And `oracle-specialist`: no mixture at all — each job is answered by the dense model of the
 * task's domain (the code expert for code tasks, ..., the seed for general text): routing each
 * domain to its own specialist, the unmixed upper bound the mixtures are compared with.
 */
import { z } from 'zod';
import { BamError, createTokenizer, tokenizerSpecFromId } from '@bam/core';
import { defineVariant, type LanguageModel, type PluginContext, type RoutingStatsRequest, type RoutingStatsResult, type VariantPlugin } from '@bam/eval';
import { presetModelConfig } from '@bam/upcycle';
import { loadLanguageModel } from '../lm/index.ts';
import { PresetOption, ensureBackend, ensurePipeline, mixtureVariant, presetForSeed, type MixtureVariantOptions } from '../variants/index.ts';

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
  const base = inner.options as unknown as z.ZodObject<z.ZodRawShape>;
  const extra = (spec.extra ?? {}) as X;
  const schema = base
    .omit(Object.fromEntries(spec.fixes.map((k) => [k, true])) as Record<string, true>)
    .extend(extra)
    .strict() as unknown as z.ZodType<MixtureVariantOptions>;
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

/** The dense models an oracle may answer with: the seed (general text) or a domain expert. */
export const ORACLE_MODELS = ['general', 'code', 'law', 'math'] as const;
/** One of ORACLE_MODELS. */
export type OracleModel = (typeof ORACLE_MODELS)[number];

/**
 * Which expert answers which built-in task (any other task: the seed). The routing tasks of a
 * domain count as that domain's: the oracle's routing is its choice of expert.
 */
export const ORACLE_TASK_DOMAINS: Readonly<Record<string, Exclude<OracleModel, 'general'>>> = Object.freeze({
  'ppl-code': 'code',
  'code-completion': 'code',
  'routing-code': 'code',
  'ppl-law': 'law',
  'license-id': 'law',
  'routing-law': 'law',
  'ppl-math': 'math',
  arithmetic: 'math',
  'routing-math': 'math',
});

/** Options of `oracle-specialist`. */
export const OracleOptionsSchema = z
  .object({
    preset: PresetOption,
    /** `auto`: the expert of the job's task (ORACLE_TASK_DOMAINS + `taskDomains`, else the seed); or always this one. */
    domain: z.enum(['auto', ...ORACLE_MODELS]).default('auto'),
    /** More task ids → expert (e.g. your own tasks); they win over the built-in map. */
    taskDomains: z.record(z.string(), z.enum(ORACLE_MODELS)).default({}),
  })
  .strict();
/** Parsed options of `oracle-specialist`. */
export type OracleOptions = z.output<typeof OracleOptionsSchema>;

/** The dense model the oracle answers task `taskId` with. */
export function oracleModelFor(taskId: string, taskDomains: Readonly<Record<string, OracleModel>> = {}): OracleModel {
  return taskDomains[taskId] ?? ORACLE_TASK_DOMAINS[taskId] ?? 'general';
}

function chosenModel(opts: OracleOptions, ctx: PluginContext): OracleModel {
  if (opts.domain !== 'auto') return opts.domain;
  if (!ctx.task) {
    throw new BamError(
      "oracle-specialist (domain 'auto') needs the job's task to pick its expert, but the harness passed none (PluginContext.task)",
      'E_VARIANT_CONTEXT',
      "run it in a sweep (which passes the task to create()), or set options.domain to 'general', 'code', 'law' or 'math'",
    );
  }
  return oracleModelFor(ctx.task.id, opts.taskDomains);
}

/**
 * The oracle's routing, reported through the same `routingStats` as a mixture's: every token of
 * every layer goes to expert `k` (its attention and its FFN), so shares and weights are one-hot,
 * entropies 0 and agreement 1. `tokens` counts the positions the dense model reads, as
 * `coreLanguageModel` does: the document-start token and the text's tokens.
 */
function oracleRouting(lm: LanguageModel, k: number, numExperts: number, nLayers: number): (requests: RoutingStatsRequest[]) => Promise<RoutingStatsResult[]> {
  const tokenizer = createTokenizer(tokenizerSpecFromId(String(lm.info.tokenizer)));
  const oneHot = Array.from({ length: numExperts }, (_, e) => (e === k ? 1 : 0));
  return async (requests) =>
    requests.map((r) => {
      const tokens = 1 + tokenizer.encode(r.text).length;
      const top = new Array<number>(tokens).fill(k);
      return {
        tokens,
        layers: Array.from({ length: nLayers }, (_, layer) => ({
          layer,
          ffn: { topShare: [...oneHot], load: [...oneHot], meanGate: [...oneHot], entropy: 0, entropyRatio: 0, topExpert: [...top] },
          attn: { meanWeight: [...oneHot], entropy: 0, entropyRatio: 0, topExpert: [...top] },
          agreement: 1,
        })),
      };
    });
}

/**
 * `oracle-specialist`: each job answered by its domain's own dense model — the code expert for
 * `ppl-code`/`code-completion`, the law expert for `ppl-law`/`license-id`, the math expert for
 * `ppl-math`/`arithmetic`, the seed for everything else (ORACLE_TASK_DOMAINS). The same
 * checkpoints as the `dense` variant, so its score on a domain is exactly that expert's.
 */
export const oracleSpecialistVariant = defineVariant<OracleOptions>({
  id: 'oracle-specialist',
  description:
    "Each task answered by its own domain's dense expert (code tasks by the code expert, law by law, math by math, anything else by the seed): routing each domain to its specialist, the unmixed upper bound. Needs the job's task (or options.domain).",
  options: OracleOptionsSchema,
  setup: async (ctx) => {
    await ensureBackend(ctx.logger);
  },
  prepare: async (opts, ctx) => {
    await ensurePipeline({ preset: presetForSeed(opts.preset, ctx.seed), until: 'experts', budgets: [] }, { artifactsDir: ctx.artifactsDir, logger: ctx.logger });
  },
  create: async (opts, ctx) => {
    const model = chosenModel(opts, ctx);
    const preset = presetForSeed(opts.preset, ctx.seed);
    if (model !== 'general' && !preset.domains.includes(model)) {
      throw new BamError(
        `oracle-specialist: task '${ctx.task?.id ?? '(none)'}' wants the ${model} expert, but upcycle preset '${preset.name}' trains none (its domains: ${preset.domains.join(', ')})`,
        'E_VARIANT_OPTIONS',
        `use a preset with a ${model} expert, or map the task to another model with options.taskDomains`,
      );
    }
    // Everything exists after prepare: one thread, nothing to train, only the lookup.
    const r = await ensurePipeline({ preset, until: 'experts', budgets: [] }, { artifactsDir: ctx.artifactsDir, logger: ctx.logger, workers: 1 });
    const a = model === 'general' ? r.seed : r.experts[model];
    if (!a) throw new BamError(`upcycle returned no '${model}' model for preset '${preset.name}'`, 'E_VARIANT');
    const what = model === 'general' ? 'seed' : `${model}-expert`;
    const lm = loadLanguageModel(a.checkpoint, {
      name: `${preset.name}/oracle-specialist/${what}/seed${ctx.seed}`,
      info: { variant: 'oracle-specialist', preset: preset.name, model: model === 'general' ? 'seed' : model, task: ctx.task?.id ?? null, artifact: a.hash, tokensSeen: a.tokensSeen, params: a.params.total },
    });
    // Mixture order: the experts in the preset's domain order, the seed (general) last.
    const k = model === 'general' ? preset.numExperts - 1 : preset.domains.indexOf(model);
    return { ...lm, routingStats: oracleRouting(lm, k, preset.numExperts, presetModelConfig(preset).nLayers) };
  },
});

/**
 * Every study variant, in the order a results table reads best: the oracle first (the unmixed
 * upper bound), then the routing freedoms, then the FFN routers.
 */
export const studyVariants: readonly VariantPlugin[] = Object.freeze([
  oracleSpecialistVariant,
  frozenExpertsVariant,
  sharedRouterVariant,
  tiedRoutingVariant,
  perExampleRoutingVariant,
  expertChoiceRoutingVariant,
  hashRoutingVariant,
]);
