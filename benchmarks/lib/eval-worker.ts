/**
 * One task of benchmarks/eval.ts in a worker thread: score texts with `loglikelihoodRolling` of
 * the real LanguageModel over a checkpoint (@bam/plugins `loadLanguageModel`). The model is
 * loaded once per worker and checkpoint, and kept for the next tasks.
 */
import { blasStatus, selectBackend } from '@bam/core';
import { loadLanguageModel } from '@bam/plugins';

/** A chunk of texts to score with the checkpoint's model. */
export interface EvalTask {
  checkpoint: string;
  texts: string[];
  batchSize: number;
}

/** Tokens scored and the sum of their log-probs (plain numbers). */
export interface EvalReply {
  tokens: number;
  logprob: number;
  /** What ran this worker's matrix products (`blasStatus().detail`). */
  matmul: string;
}

const ready = selectBackend({ prefer: 'wasm', log: () => {} });
const models = new Map<string, ReturnType<typeof loadLanguageModel>>();

export default async function scoreChunk(task: EvalTask): Promise<EvalReply> {
  await ready;
  let lm = models.get(task.checkpoint);
  if (!lm) {
    lm = loadLanguageModel(task.checkpoint, { batchSize: task.batchSize });
    models.set(task.checkpoint, lm);
  }
  const results = await lm.loglikelihoodRolling(task.texts.map((text) => ({ text })));
  return { tokens: results.reduce((a, r) => a + r.tokens, 0), logprob: results.reduce((a, r) => a + r.logprob, 0), matmul: blasStatus().detail };
}
