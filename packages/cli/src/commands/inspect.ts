/**
 * `bam inspect`: validates a checkpoint directory (hashes, tensors against the config) and prints
 * its config, tokenizer, training state, metrics and parameter counts. Needs no tensor backend.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CHECKPOINT_FILES,
  CheckpointError,
  ConfigError,
  checkWeightsMatch,
  countParams,
  paramSpecs,
  parseModelConfig,
  readCheckpoint,
  type ModelConfig,
} from '@bam/core';
import type { Command } from '../command.ts';

const usage = `usage: bam inspect CKPT [--json]

Checks a checkpoint directory (files present, sha256 of each weights file, tensors exactly the
config's parameters) and prints its model config, tokenizer, training state, metrics, and total
and active parameter counts. --json prints one JSON object instead.`;

export const command: Command = {
  name: 'inspect',
  summary: 'validate a checkpoint and print its config, tokenizer, training state and parameter counts',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
    if (positionals.length !== 1) {
      throw new ConfigError('bam inspect arguments', [{ path: 'CKPT', message: `expected one checkpoint directory, got ${positionals.length}` }], 'see bam inspect --help');
    }
    const dir = positionals[0];
    const raw = readCheckpoint(dir);
    const manifestPath = join(dir, CHECKPOINT_FILES.manifest);
    let config: ModelConfig;
    try {
      config = parseModelConfig(raw.manifest.config, manifestPath);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new CheckpointError(manifestPath, `its model config fails the schema:\n${err.issues.map((i) => `  - config.${i.path}: ${i.message}`).join('\n')}`);
    }
    const specs = new Map(paramSpecs(config).map((p) => [p.name, p]));
    checkWeightsMatch(raw.weights, specs, join(dir, CHECKPOINT_FILES.weights));
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
};
