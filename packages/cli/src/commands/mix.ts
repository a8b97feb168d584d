/**
 * `bam mix`: builds mixture checkpoints by recipe. With --preset, the pipeline's mix stage (every
 * recipe of the preset, from its seed and experts, built or reused first). With --from, one
 * mixture from any N dense checkpoints (domain experts first, the seed last) into --out.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { ConfigError, createTokenizer, paramCounts, selectBackend, tokenizerSpecForCheckpoint, type BackendName } from '@bam/core';
import { buildMixture, denseSourceOf, formatStep0Gap, recipeIds, saveTensors, step0Gap } from '@bam/upcycle';
import type { Command } from '../command.ts';
import { stageCommand } from './upcycle.ts';

const pipelineMix = stageCommand(
  'mix',
  'mix',
  'build mixture checkpoints by recipe (from a preset\'s experts, or from --from checkpoints)',
  "Builds each recipe's untrained mixture from the preset's N dense models into --out/mix/<hash>/\n(earlier stages built or reused first).",
);

const standaloneUsage = `or:    bam mix --recipe ID --from CKPT1,CKPT2,...,SEED --out DIR [--options JSON] [--json]

Builds one mixture checkpoint in DIR from N dense checkpoints (domain experts first, the seed —
the general expert — last) by recipe ID (${recipeIds().join(', ')}, btx-experts-<M>).
--options is the recipe's options as JSON, e.g. '{"ffnRouter":{"kind":"topk","k":2,"normalize":"after"}}'.
Checkpoints with different configs, shapes or tokenizers are refused with an error naming them.`;

export const command: Command = {
  name: 'mix',
  summary: pipelineMix.summary,
  usage: `${pipelineMix.usage}\n\n${standaloneUsage}`,
  async run(argv) {
    if (!argv.includes('--from')) return pipelineMix.run(argv);
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        recipe: { type: 'string' },
        from: { type: 'string' },
        out: { type: 'string' },
        options: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    const issues: Array<{ path: string; message: string }> = [];
    if (!values.recipe) issues.push({ path: '--recipe', message: 'is required with --from' });
    if (!values.out) issues.push({ path: '--out', message: 'is required' });
    const from = (values.from ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (from.length === 0) issues.push({ path: '--from', message: 'name at least one dense checkpoint directory' });
    let options: Record<string, unknown> = {};
    if (values.options !== undefined) {
      try {
        options = JSON.parse(values.options) as Record<string, unknown>;
      } catch (err) {
        issues.push({ path: '--options', message: `is not valid JSON (${(err as Error).message})` });
      }
    }
    if (issues.length) throw new ConfigError('bam mix options', issues, 'see bam mix --help');
    await selectBackend({ prefer: values.backend as BackendName | undefined, log: values.json ? () => {} : undefined });
    const sources = from.map((dir) => denseSourceOf(dir));
    const mixture = buildMixture(values.recipe!, sources, options);
    // How far the step-0 mixture is from the seed (the last source) on two batches of general text.
    const seed = sources[sources.length - 1];
    const tokenizer = createTokenizer(tokenizerSpecForCheckpoint(from[from.length - 1], seed.tokenizer.id));
    const gap = await step0Gap({ tokenizer, batchSize: 4, seqLen: Math.min(64, seed.config.maxSeqLen) }, seed, mixture);
    const contentHash = await saveTensors(values.out!, { config: mixture.config, tokenizer: mixture.tokenizer, tensors: mixture.tensors, meta: { stage: 'mix', step0: gap, ...mixture.meta } });
    const counts = paramCounts(mixture.config);
    if (values.json) {
      console.log(JSON.stringify({ checkpoint: values.out, recipe: values.recipe, contentHash, params: { total: counts.total, active: counts.active }, layout: mixture.meta.layout, step0: gap }));
    } else {
      console.log(`built ${values.recipe} from ${from.length} dense checkpoints: ${counts.total.toLocaleString('en')} params (${counts.active.toLocaleString('en')} active)\n  ${formatStep0Gap(gap)}\n  checkpoint: ${join(values.out!)}`);
    }
    return 0;
  },
};
