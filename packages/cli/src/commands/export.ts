/**
 * `bam export`: writes a bam checkpoint as a folder PyTorch / Hugging Face users load —
 * config.json, model.safetensors and the tokenizer (packages/core/src/export; docs/export.md).
 */
import { EXPORT_FORMATS, exportCheckpoint, parseExportFormat } from '@bam/core';
import { ensureWritableDir, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam export',
  options: {
    format: { kind: 'string', arg: 'F', required: true, choices: EXPORT_FORMATS, help: `the layout to write: ${EXPORT_FORMATS.join(', ')}` },
    out: { kind: 'string', arg: 'DIR', required: true, help: 'folder to write (replaced if it exists), e.g. exported/model' },
    json: { kind: 'flag', help: 'print one JSON object (format, out, files, tensors, bytes, notes)' },
  },
  positionals: { name: 'CKPT', help: 'the checkpoint directory to export', min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'export',
  summary: 'write a checkpoint as a Hugging Face-layout folder (hf-llama, hf-gpt-neox, hf-mixtral, hf-qwen2-moe, bam-hf)',
  spec,
  usage: {
    usage: 'bam export CKPT --format F --out DIR [--json]',
    description: `Writes the checkpoint CKPT into DIR (replaced if it exists): config.json, model.safetensors
(float32, PyTorch's [out, in] Linear layout) and the tokenizer file the checkpoint carries.
Formats:
  hf-llama      dense sequential RMSNorm/SwiGLU models (Llama; Qwen2 when q/k/v biases only)
  hf-gpt-neox   dense LayerNorm/GeLU models (Pythia; parallel or sequential residual)
  hf-mixtral    BTX mixtures whose FFN router renormalises its top-k (normalize "after")
  hf-qwen2-moe  BTX mixtures with either top-k; norm_topk_prob false is the paper's top-1
                without renormalisation (bam's default), which Mixtral cannot express
  bam-hf        any bam model (BAM attention experts, soft routing, KV-shared, parallel
                blocks): model_type "bam", run in PyTorch by python/bam_hf.py
A model the format cannot express is refused with the field at fault and the format to use.`,
  },
  async run({ values, positionals }) {
    ensureWritableDir(values.out, '--out');
    // --format is one of EXPORT_FORMATS by now; parseExportFormat narrows its type.
    const r = exportCheckpoint(positionals[0], parseExportFormat(values.format), values.out);
    if (values.json) {
      console.log(JSON.stringify({ format: r.format, out: r.outDir, files: r.files, tensors: r.tensors, bytes: r.bytes, notes: r.notes }));
      return 0;
    }
    console.log(`exported ${positionals[0]} → ${r.outDir} as ${r.format}  [${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB; ${r.files.join(', ')}]`);
    for (const note of r.notes) console.log(`  note: ${note}`);
    return 0;
  },
});
