/** Inference: batched token scoring, KV-cache decoding and greedy generation. */
import * as tf from '@tensorflow/tfjs';

export { scoreTokens, checkTokenIds, type ScoreOptions, type TokenScores } from './score.ts';
export { generate, type GenerateOptions, type Generation, type FinishReason } from './generate.ts';
export { forwardCached, kvCacheSupport } from './cached-forward.ts';
export {
  createKvCache,
  disposeKvCache,
  kvCacheBytes,
  kvCacheBytesPerToken,
  kvCacheSlots,
  type KvCache,
  type KvSlot,
} from './kv-cache.ts';

/** The tfjs backend computations run on now (`tf.getBackend()`: wasm, cpu, tensorflow, webgpu), for result rows. */
export function activeBackend(): string {
  return tf.getBackend();
}
