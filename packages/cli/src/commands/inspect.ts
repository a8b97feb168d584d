/**
 * `bam inspect`: validates a checkpoint directory with every check loading makes (files, hashes,
 * config schema, tokenizer against the vocabulary, tensors against the config, finite weights) and
 * prints its config, tokenizer, training state, metrics and parameter counts. Needs no tensor backend.
 */
import { countParams, validateCheckpoint } from '@bam/core';
import type { CommandLineSpec, OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam inspect',
  options: {
    json: { kind: 'flag', help: 'print one JSON object instead of the summary' },
  },
  positionals: { name: 'CKPT', help: 'a checkpoint directory (holding checkpoint.json and model.safetensors)', min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'inspect',
  summary: 'validate a checkpoint and print its config, tokenizer, training state and parameter counts',
  spec,
  usage: {
    usage: 'bam inspect CKPT [--json]',
    description: `Checks a checkpoint directory exactly as loading it does (files present, sha256 of each weights
file, the model config's schema, a tokenizer that fits the vocabulary, tensors exactly the
config's parameters, every weight finite) and prints its model config, tokenizer, training state,
metrics, and total and active parameter counts. Exits 2, naming the file and the problem, where
loading would fail.`,
  },
  async run({ values, positionals }) {
    const dir = positionals[0];
    const raw = validateCheckpoint(dir);
    const { config } = raw;
    let tensorTotal = 0;
    for (const t of raw.weights.values()) tensorTotal += t.data.length;
    const counts = countParams(config);
    const m = raw.manifest;
    const info = {
      dir,
      config,
      configHash: m.configHash,
      tokenizer: m.tokenizer,
      trainState: m.trainState,
      metrics: m.metrics,
      params: { total: tensorTotal, active: counts.active - (counts.total - tensorTotal), tensors: raw.weights.size },
      optimizer: raw.optimizer ? { step: raw.optimizer.step, tensors: raw.optimizer.m.size + raw.optimizer.v.size } : null,
      contentHash: m.contentHash,
      files: m.files,
      bamVersion: m.bamVersion,
      createdAt: m.createdAt,
      meta: m.meta,
    };
    if (values.json) {
      console.log(JSON.stringify(info));
      return 0;
    }
    const n = (x: number) => x.toLocaleString('en');
    const ts = m.trainState;
    const c = config;
    const attn = c.attention.kind === 'dense' ? 'dense' : `moa ×${c.attention.numExperts}${c.attention.kvShared ? ' (kv-shared)' : ''} ${c.attention.router.kind}`;
    const ffn = c.ffn.kind === 'dense' ? 'dense' : `moe ×${c.ffn.numExperts} ${c.ffn.router.kind}${c.ffn.router.kind === 'topk' ? `-${c.ffn.router.k}` : ''}`;
    console.log(
      [
        `checkpoint ${dir}  (valid; bam ${m.bamVersion}, ${m.createdAt})`,
        `  model       V=${c.vocabSize} D=${c.dModel} H=${c.nHeads}/${c.nKvHeads ?? c.nHeads} L=${c.nLayers} F=${c.dFF} T≤${c.maxSeqLen} ${c.block}; attention ${attn}; ffn ${ffn}  [config ${m.configHash}]`,
        `  params      total ${n(info.params.total)}, active ${n(info.params.active)} (${info.params.tensors} tensors)`,
        `  tokenizer   ${m.tokenizer.id} (${n(m.tokenizer.vocabSize)} ids)`,
        `  training    step ${n(ts.step)}, ${n(ts.tokensSeen)} tokens, ${ts.flopsSpent.toExponential(3)} FLOPs, seed ${ts.seed}, data position ${ts.dataPosition}`,
        `  metrics     ${Object.entries(m.metrics).map(([k, v]) => `${k} ${v === null ? '-' : v.toFixed(4)}`).join(', ') || '-'}`,
        `  optimizer   ${info.optimizer ? `AdamW state at step ${info.optimizer.step}` : 'none'}`,
        `  weights     sha256 ${m.contentHash}`,
      ].join('\n'),
    );
    return 0;
  },
});
