/**
 * `bam import`: converts a model trained elsewhere into a bam checkpoint — a Hugging Face folder
 * of the Llama family (llama, mistral, qwen2) or GPT-NeoX, or a llama2.c `.bin` — with its
 * tokenizer (packages/core/src/import).
 */
import { importModel } from '@bam/core';
import { ensureWritableDir, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam import',
  options: {
    out: { kind: 'string', arg: 'CKPT', required: true, help: 'checkpoint directory to write (replaced if it exists), e.g. ckpt/imported' },
    tokenizer: { kind: 'string', arg: 'FILE', defaultText: 'tokenizer.bin beside the .bin', help: "a llama2.c model's tokenizer.bin" },
    json: { kind: 'flag', help: 'print one JSON object (checkpoint, source format, config hash, tokenizer, notes)' },
  },
  positionals: { name: 'SOURCE', help: 'the model folder or llama2.c .bin to convert', min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'import',
  summary: 'convert a Hugging Face (Llama family, GPT-NeoX) or llama2.c model into a bam checkpoint',
  spec,
  usage: {
    usage: 'bam import SOURCE --out CKPT [--tokenizer FILE] [--json]',
    description: `Converts SOURCE into a bam checkpoint in CKPT that bam inspect, train, scoring and the upcycle
stages read:
  - a Hugging Face model folder: config.json (model_type llama, mistral, qwen2 or gpt_neox),
    model.safetensors or model.safetensors.index.json with its shards (F32, F16 or BF16),
    and tokenizer.json (carried into the checkpoint);
  - a llama2.c model .bin with its tokenizer.bin (--tokenizer FILE).
Options bam does not implement (rope_scaling, another activation, ...) are refused by name.`,
  },
  async run({ values, positionals }) {
    ensureWritableDir(values.out, '--out');
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
});
