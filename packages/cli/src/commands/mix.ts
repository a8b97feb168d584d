/**
 * `bam mix`: builds mixture checkpoints by recipe. With --preset, the pipeline's mix stage (every
 * recipe of the preset, from its seed and experts, built or reused first). With --from, one
 * mixture from any N dense checkpoints (domain experts first, the seed last) into --out.
 */
import { join } from 'node:path';
import { BACKEND_NAMES, createTokenizer, paramCounts, selectBackend, tokenizerSpecForCheckpoint, type BackendName } from '@bam/core';
import { ensureWritableDir, formatOptions, UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { buildMixture, denseSourceOf, formatStep0Gap, recipeIds, saveTensors, step0Gap } from '@bam/upcycle';
import { defineCommand, type Command } from '../command.ts';
import { stageCommand } from './upcycle.ts';

const pipelineMix = stageCommand(
  'mix',
  'mix',
  'build mixture checkpoints by recipe (from a preset\'s experts, or from --from checkpoints)',
  "Builds each recipe's untrained mixture from the preset's N dense models into --out/mix/<hash>/\n(earlier stages built or reused first).",
);

const standalone = {
  command: 'bam mix',
  options: {
    recipe: { kind: 'string', arg: 'ID', required: true, help: `recipe id: ${recipeIds().join(', ')}, btx-experts-<M>` },
    from: { kind: 'string', arg: 'CKPT1,...,SEED', required: true, help: 'the dense checkpoints: domain experts first, the seed (the general expert) last' },
    out: { kind: 'string', arg: 'DIR', required: true, help: 'where to write the mixture checkpoint' },
    options: { kind: 'string', arg: 'JSON', defaultText: '{}', help: `the recipe's options, e.g. '{"ffnRouter":{"kind":"topk","k":2,"normalize":"after"}}'` },
    backend: { kind: 'string', arg: 'B', choices: BACKEND_NAMES, defaultText: 'best available', help: BACKEND_NAMES.join(' | ') },
    json: { kind: 'flag', help: 'print one JSON object instead of the summary' },
  },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

const standaloneUsage = `or:    bam mix --recipe ID --from CKPT1,CKPT2,...,SEED --out DIR [options]

Builds one mixture checkpoint in DIR from N dense checkpoints by recipe ID. Checkpoints with
different configs, shapes or tokenizers, or with weights that are not finite, are refused with
an error naming them.

options (with --from):
${formatOptions(standalone.options)}`;

/** `bam mix --from ...`: one mixture from the given dense checkpoints. */
const standaloneMix = defineCommand({
  name: 'mix',
  summary: pipelineMix.summary,
  spec: standalone,
  usage: standaloneUsage,
  async run({ values }) {
    const from = values.from.split(',').map((s) => s.trim()).filter(Boolean);
    if (from.length === 0) throw new UsageError(standalone.command, '--from: name at least one dense checkpoint directory');
    let options: Record<string, unknown> = {};
    if (values.options !== undefined) {
      try {
        options = JSON.parse(values.options) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(standalone.command, `--options is not valid JSON (${(err as Error).message})`);
      }
    }
    ensureWritableDir(values.out, '--out');
    // Every source is validated (and refused if damaged, mismatched or not finite) before TF.js starts.
    const sources = from.map((dir) => denseSourceOf(dir));
    await selectBackend({ prefer: values.backend as BackendName | undefined, log: values.json ? () => {} : undefined });
    const mixture = buildMixture(values.recipe, sources, options);
    // How far the step-0 mixture is from the seed (the last source) on two batches of general text.
    const seed = sources[sources.length - 1];
    const tokenizer = createTokenizer(tokenizerSpecForCheckpoint(from[from.length - 1], seed.tokenizer.id));
    const gap = await step0Gap({ tokenizer, batchSize: 4, seqLen: Math.min(64, seed.config.maxSeqLen) }, seed, mixture);
    const contentHash = await saveTensors(values.out, { config: mixture.config, tokenizer: mixture.tokenizer, tensors: mixture.tensors, meta: { stage: 'mix', step0: gap, ...mixture.meta } });
    const counts = paramCounts(mixture.config);
    if (values.json) {
      console.log(JSON.stringify({ checkpoint: values.out, recipe: values.recipe, contentHash, params: { total: counts.total, active: counts.active }, layout: mixture.meta.layout, step0: gap }));
    } else {
      console.log(`built ${values.recipe} from ${from.length} dense checkpoints: ${counts.total.toLocaleString('en')} params (${counts.active.toLocaleString('en')} active)\n  ${formatStep0Gap(gap)}\n  checkpoint: ${join(values.out)}`);
    }
    return 0;
  },
});

export const command: Command = {
  name: 'mix',
  summary: pipelineMix.summary,
  usage: `${pipelineMix.usage}\n\n${standaloneUsage}`,
  run: (argv) => (argv.some((a) => a === '--from' || a.startsWith('--from=')) ? standaloneMix : pipelineMix).run(argv),
};
