/**
 * `bam import`: converts a model trained elsewhere into a bam checkpoint — a Hugging Face folder
 * of the Llama family (llama, mistral, qwen2) or GPT-NeoX, or a llama2.c `.bin` — with its
 * tokenizer (packages/core/src/import).
 */
import { parseArgs } from 'node:util';
import { ConfigError, importModel } from '@bam/core';
import type { Command } from '../command.ts';

const usage = `usage: bam import SOURCE --out CKPT [--tokenizer FILE] [--json]

Converts SOURCE into a bam checkpoint in CKPT (replaced if it exists) that bam inspect, train,
scoring and the upcycle stages read:
  - a Hugging Face model folder: config.json (model_type llama, mistral, qwen2 or gpt_neox),
    model.safetensors or model.safetensors.index.json with its shards (F32, F16 or BF16),
    and tokenizer.json (carried into the checkpoint);
  - a llama2.c model .bin with its tokenizer.bin (--tokenizer FILE; default: beside the .bin).
Options bam does not implement (rope_scaling, another activation, ...) are refused by name.
--json prints one JSON object (checkpoint, source format, config hash, tokenizer, notes).`;

export const command: Command = {
  name: 'import',
  summary: 'convert a Hugging Face (Llama family, GPT-NeoX) or llama2.c model into a bam checkpoint',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { out: { type: 'string' }, tokenizer: { type: 'string' }, json: { type: 'boolean', default: false } },
    });
    if (positionals.length !== 1) {
      throw new ConfigError('bam import arguments', [{ path: 'SOURCE', message: `expected one model folder or .bin, got ${positionals.length}` }], 'see bam import --help');
    }
    if (!values.out) throw new ConfigError('bam import arguments', [{ path: '--out', message: 'is required' }], 'give the checkpoint directory to write, e.g. --out ckpt/imported');
    const r = await importModel(positionals[0], values.out, { tokenizerPath: values.tokenizer });
    const m = r.manifest;
    if (values.json) {
      console.log(JSON.stringify({ checkpoint: values.out, source: r.source, configHash: m.configHash, contentHash: m.contentHash, tokenizer: m.tokenizer, notes: r.notes }));
      return 0;
    }
    const c = m.config as { vocabSize: number; dModel: number; nLayers: number };
    console.log(`imported ${positionals[0]} (${r.source}) → ${values.out}  [V=${c.vocabSize} D=${c.dModel} L=${c.nLayers}; config ${m.configHash}; tokenizer ${m.tokenizer.id}]`);
    for (const note of r.notes) console.log(`  note: ${note}`);
    return 0;
  },
};
