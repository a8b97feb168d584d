/** Small helpers the recipe files share. */
import { parseModelConfig, type AttentionConfig, type FfnConfig, type ModelConfig } from '@bam/core';

/** 0, 1, …, n−1. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The index of the seed (the general expert) among N sources: the last one. */
export const seedIndex = (n: number): number => n - 1;

/** The BAM paper's FFN router: top-1, softmax over all experts before top-k, no renormalisation. */
export const PAPER_FFN_ROUTER = { kind: 'topk', k: 1, normalize: 'before' } as const;

/** The dense config with its attention and FFN replaced (validated by the model schema). */
export function mixtureConfig(dense: ModelConfig, attention: AttentionConfig, ffn: FfnConfig): ModelConfig {
  return parseModelConfig({ ...dense, attention, ffn }, 'mixture config');
}
