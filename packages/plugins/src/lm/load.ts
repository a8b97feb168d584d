/**
 * A `LanguageModel` straight from a checkpoint directory: the weights and config through
 * @bam/core's `loadCheckpoint` (validated), the tokenizer rebuilt from the id the checkpoint
 * records (`tokenizerSpecForCheckpoint`: an imported model's tokenizer.json comes from the folder).
 */
import { basename, resolve } from 'node:path';
import { CheckpointError, createTokenizer, disposeModel, loadCheckpoint, tokenizerSpecForCheckpoint } from '@bam/core';
import type { LanguageModel } from '@bam/eval';
import { coreLanguageModel, type CoreLanguageModelOptions } from './core-model.ts';

/** Options of `loadLanguageModel`: those of `coreLanguageModel` but the model and tokenizer; `name` defaults to the directory's name. */
export type LoadLanguageModelOptions = Partial<Omit<CoreLanguageModelOptions, 'model' | 'tokenizer' | 'ownsModel'>>;

/**
 * Loads the checkpoint in `checkpointDir` into a `LanguageModel` that owns the model (its
 * `dispose()` frees the weights). `info.configHash` is the checkpoint's config hash unless given;
 * `info` also carries the checkpoint's `contentHash` (sha256 of its weights), `step` and `checkpoint`
 * (the directory). Throws `CheckpointError` naming the file at fault.
 */
export function loadLanguageModel(checkpointDir: string, opts: LoadLanguageModelOptions = {}): LanguageModel {
  const ckpt = loadCheckpoint(checkpointDir);
  try {
    const tokenizer = createTokenizer(tokenizerSpecForCheckpoint(checkpointDir, ckpt.tokenizer.id));
    if (tokenizer.vocabSize !== ckpt.tokenizer.vocabSize) {
      throw new CheckpointError(checkpointDir, `its tokenizer '${ckpt.tokenizer.id}' has ${tokenizer.vocabSize} ids, but the checkpoint records ${ckpt.tokenizer.vocabSize}`);
    }
    return coreLanguageModel({
      ...opts,
      model: ckpt.model,
      tokenizer,
      name: opts.name ?? basename(resolve(checkpointDir)),
      configHash: opts.configHash ?? ckpt.manifest.configHash,
      ownsModel: true,
      info: { contentHash: ckpt.manifest.contentHash, step: ckpt.trainState.step, checkpoint: resolve(checkpointDir), ...opts.info },
    });
  } catch (err) {
    disposeModel(ckpt.model);
    throw err;
  }
}
