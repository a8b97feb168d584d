/**
 * Inference: batched token scoring and greedy generation, both over the model's one `forward`
 * (generation with its KV cache, model/kv-cache.ts).
 */
import * as tf from '@tensorflow/tfjs';

export { scoreTokens, type ScoreOptions, type TokenScores } from './score.ts';
export { generate, type GenerateOptions, type Generation, type FinishReason } from './generate.ts';

/** The tfjs backend computations run on now (`tf.getBackend()`: wasm, cpu, tensorflow, webgpu), for result rows. */
export function activeBackend(): string {
  return tf.getBackend();
}
