/**
 * `dense`: one dense model of the upcycling pipeline — the seed (pre-trained on general text; the
 * paper's "seed" row and the mixtures' general expert) or one domain expert after continued
 * pre-training (the paper's "code expert", "law expert", "math expert" rows of Table 1).
 */
import { z } from 'zod';
import { BamError, InvariantError } from '@bam/core';
import { defineVariant, type PluginContext } from '@bam/eval';
import { loadLanguageModel } from '../lm/index.ts';
import { ensureBackend } from './backend.ts';
import { PresetOption, ensurePipeline, pipelineTrainingLogs, presetForSeed, seedLabel, type PipelineRequest } from './pipeline.ts';

/** Options of the `dense` variant. */
export const DenseVariantOptionsSchema = z
  .object({
    /** Which dense model: the seed, or the expert of a domain. */
    model: z.enum(['seed', 'code', 'law', 'math']).default('seed'),
    preset: PresetOption,
  })
  .strict();
export type DenseVariantOptions = z.output<typeof DenseVariantOptionsSchema>;

function request(opts: DenseVariantOptions, ctx: PluginContext): PipelineRequest {
  const preset = presetForSeed(opts.preset, ctx.seed, ctx.seedKind);
  if (opts.model !== 'seed' && !preset.domains.includes(opts.model)) {
    throw new BamError(
      `upcycle preset '${preset.name}' trains no '${opts.model}' expert (its domains: ${preset.domains.join(', ')})`,
      'E_VARIANT_OPTIONS',
      `use model 'seed' or one of ${preset.domains.map((d) => `'${d}'`).join(', ')}, or a preset with a ${opts.model} expert`,
    );
  }
  return { preset, until: 'experts', budgets: [] };
}

/** The seed or one dense domain expert of an upcycle preset's pipeline (trained once, shared by every mixture). */
export const denseVariant = defineVariant<DenseVariantOptions>({
  id: 'dense',
  description: "A dense model of the upcycling pipeline: the seed (model 'seed', the general expert) or the code, law or math expert after continued pre-training.",
  options: DenseVariantOptionsSchema,
  setup: async (ctx) => {
    await ensureBackend(ctx.logger);
  },
  prepare: async (opts, ctx) => {
    await ensurePipeline(request(opts, ctx), { artifactsDir: ctx.artifactsDir, logger: ctx.logger });
  },
  create: async (opts, ctx) => {
    const req = request(opts, ctx);
    // prepare built everything: only look the checkpoint up (a missing one is an error, never trained here).
    const r = await ensurePipeline(req, { artifactsDir: ctx.artifactsDir, logger: ctx.logger, lookupOnly: true });
    const a = opts.model === 'seed' ? r.seed : r.experts[opts.model];
    if (!a) throw new InvariantError(`upcycle returned no '${opts.model}' expert for preset '${req.preset.name}'`);
    const what = opts.model === 'seed' ? 'seed' : `${opts.model}-expert`;
    return loadLanguageModel(a.checkpoint, {
      name: `${req.preset.name}/${what}/${seedLabel(ctx.seed, ctx.seedKind)}`,
      info: {
        variant: 'dense',
        preset: req.preset.name,
        model: opts.model,
        artifact: a.hash,
        tokensSeen: a.tokensSeen,
        params: a.params.total,
        trainingLogs: pipelineTrainingLogs(r, { experts: opts.model === 'seed' ? [] : [opts.model] }),
      },
    });
  },
});
