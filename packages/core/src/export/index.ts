/**
 * Export of bam checkpoints to folders PyTorch and Hugging Face users load (`bam export`):
 * `config.json`, `model.safetensors` (float32, streamed: ./writer.ts) and the tokenizer file the
 * checkpoint carries. The layouts are in ./layouts.ts; docs/export.md documents them and bam-hf.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CHECKPOINT_FILES, checkWeightsMatch, readCheckpoint } from '../checkpoint/index.ts';
import { CheckpointError, ConfigError } from '../errors.ts';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { paramSpecs } from '../model/params.ts';
import { TOKENIZER_FILES, fileTokenizerKind } from '../tokenizer/index.ts';
import { EXPORT_FORMATS, ExportError, planExport, type ExportFormat } from './layouts.ts';
import { writeSafetensorsStreaming } from './writer.ts';

export { EXPORT_FORMATS, ExportError, planExport, type ExportFormat, type ExportPlan } from './layouts.ts';
export { writeSafetensorsStreaming, type PlannedTensor } from './writer.ts';

/** What `exportCheckpoint` wrote. */
export interface ExportSummary {
  format: ExportFormat;
  outDir: string;
  /** Tensors and bytes of model.safetensors. */
  tensors: number;
  bytes: number;
  /** The files written, by name. */
  files: string[];
  /** What the user should know (tokenizer, layout choices), one line each. */
  notes: string[];
}

/** Parses `--format`, or throws naming the formats. */
export function parseExportFormat(format: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new ExportError(format, `unknown format '${format}'`, `use one of ${EXPORT_FORMATS.join(', ')}`);
  }
  return format as ExportFormat;
}

/**
 * Exports the checkpoint `ckptDir` as `format` into `outDir` (replaced atomically: written into a
 * temporary sibling, then renamed). Reads the weights without building a model; throws
 * `ExportError` when the format cannot express the model, `CheckpointError` for a bad checkpoint.
 */
export function exportCheckpoint(ckptDir: string, format: ExportFormat, outDir: string): ExportSummary {
  const raw = readCheckpoint(ckptDir);
  const manifestPath = join(ckptDir, CHECKPOINT_FILES.manifest);
  let config: ModelConfig;
  try {
    config = parseModelConfig(raw.manifest.config, manifestPath);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CheckpointError(manifestPath, `its model config fails the schema: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, 'run bam inspect on the checkpoint');
  }
  checkWeightsMatch(raw.weights, new Map(paramSpecs(config).map((p) => [p.name, p])), join(ckptDir, CHECKPOINT_FILES.weights));
  const plan = planExport(format, config, raw.weights);
  const notes: string[] = [];
  const tokId = raw.manifest.tokenizer.id;
  const tokKind = fileTokenizerKind(tokId);
  const tokFile = tokKind ? TOKENIZER_FILES[tokKind] : undefined;
  if (tokKind === 'llama2c') notes.push('the tokenizer is llama2.c\'s tokenizer.bin (copied); Hugging Face loaders need a tokenizer.json');
  if (!tokKind) notes.push(`the tokenizer is bam's built-in '${tokId}' (recorded as bam_tokenizer in config.json), which has no tokenizer file: encode with bam, or start from an imported model to carry a tokenizer.json (docs/export.md)`);
  const hfConfig = { ...plan.config, bam_tokenizer: tokId, bam_export: { format, checkpoint: raw.manifest.contentHash, configHash: raw.manifest.configHash } };

  const parent = dirname(outDir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(outDir)}.tmp-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(tmp);
    const bytes = writeSafetensorsStreaming(join(tmp, 'model.safetensors'), plan.tensors, { format: 'pt' });
    writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(hfConfig, null, 2)}\n`);
    const files = ['config.json', 'model.safetensors'];
    if (tokFile) {
      copyFileSync(join(ckptDir, tokFile), join(tmp, tokFile));
      files.push(tokFile);
    }
    if (existsSync(outDir)) rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
    return { format, outDir, tensors: plan.tensors.length, bytes, files, notes };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
