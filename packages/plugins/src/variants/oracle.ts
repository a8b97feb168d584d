/**
 * `oracle-specialist`, the study variant with no mixture at all (issue 7 part 2): each job is
 * answered by the dense model of the task's domain (the code expert for code tasks, ..., the seed
 * for general text) — routing each domain to its own specialist, the unmixed upper bound the
 * mixtures are compared with.
 */
import { z } from 'zod';
import { BamError, createTokenizer, tokenizerSpecFromId } from '@bam/core';
import { defineVariant, type LanguageModel, type PluginContext, type RoutingStatsRequest, type RoutingStatsResult } from '@bam/eval';
import { presetModelConfig } from '@bam/upcycle';
import { loadLanguageModel } from '../lm/index.ts';
import { ensureBackend } from './backend.ts';
import { PresetOption, ensurePipeline, presetForSeed } from './pipeline.ts';

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
    await ensurePipeline({ preset: presetForSeed(opts.preset, ctx.seed, ctx.seedKind), until: 'experts', budgets: [] }, { artifactsDir: ctx.artifactsDir, logger: ctx.logger });
  },
  create: async (opts, ctx) => {
    const model = chosenModel(opts, ctx);
    const preset = presetForSeed(opts.preset, ctx.seed, ctx.seedKind);
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
