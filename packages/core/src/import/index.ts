/**
 * Import of models trained elsewhere into bam checkpoints (`bam import`): Hugging Face folders
 * of the Llama family and GPT-NeoX (./hf.ts) and llama2.c `.bin` files (./llama2c.ts). The
 * checkpoint is an ordinary one (core/src/checkpoint) whose config uses the model config's
 * optional architecture fields and which carries its tokenizer file.
 */
import { existsSync, statSync } from 'node:fs';
import { checkWeightsMatch, saveCheckpoint, type CheckpointManifest, type SafeTensor } from '../checkpoint/index.ts';
import { paramSpecs } from '../model/params.ts';
import { readHfModel, type ImportedModel } from './hf.ts';
import { readLlama2cModel } from './llama2c.ts';
import { ImportError } from './tensors.ts';

export { readHfModel, checkVocab, HF_MODEL_TYPES, type ImportedModel } from './hf.ts';
export { readLlama2cModel } from './llama2c.ts';
export { ImportError, SourceTensors, transposeRows } from './tensors.ts';

/** Options of `importModel`. */
export interface ImportOptions {
  /** llama2.c only: the tokenizer.bin (default: tokenizer.bin beside the .bin). */
  tokenizerPath?: string;
}

/**
 * Reads a model for import: a folder is a Hugging Face model (config.json), a file a llama2.c
 * `.bin`. Throws an `ImportError` naming what is wrong.
 */
export function readModelForImport(source: string, opts: ImportOptions = {}): ImportedModel {
  if (!existsSync(source)) throw new ImportError(source, 'not found', 'give a Hugging Face model folder (config.json, safetensors, tokenizer.json) or a llama2.c .bin');
  return statSync(source).isDirectory() ? readHfModel(source) : readLlama2cModel(source, opts.tokenizerPath);
}

/** What `importModel` did. */
export interface ImportSummary {
  manifest: CheckpointManifest;
  source: string;
  notes: string[];
}

/**
 * Imports `source` (see `readModelForImport`) and saves it as a bam checkpoint in `outDir`
 * (atomically; meta records the source and format). The tensors are checked against the
 * config's parameter names and shapes first, and written straight from their float32 arrays
 * (no tensor backend, no second copy in variables).
 */
export async function importModel(source: string, outDir: string, opts: ImportOptions = {}): Promise<ImportSummary> {
  const imported = readModelForImport(source, opts);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of imported.tensors) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  checkWeightsMatch(tensors, new Map(paramSpecs(imported.config).map((p) => [p.name, p])), source);
  const manifest = await saveCheckpoint(outDir, {
    model: { config: imported.config, tensors },
    tokenizer: imported.tokenizer,
    meta: { stage: 'import', importedFrom: source, importFormat: imported.source, importNotes: imported.notes },
  });
  return { manifest, source: imported.source, notes: imported.notes };
}
