/**
 * Attention routers for a mixture of attention experts (MoA, BAM paper §3.2 and Table 6).
 *
 * - `soft` (the paper's default): every token uses every attention expert, g = softmax(logits).
 * - `topk` (the paper's top-1 / top-2 MoA ablation): each token uses its k most probable
 *   attention experts. The paper does not say whether the chosen weights are renormalised; bam
 *   RENORMALISES them (softmax over the k chosen logits), for two reasons: (1) the weights then
 *   sum to 1 as in soft MoA, so a mixture of identical attention experts still equals the dense
 *   attention exactly, whatever the router; (2) without it, top-1 at initialisation (random router,
 *   p_top ≈ 1/E) would scale every attention output by ≈ 1/E and wreck the upcycled model. With
 *   k = E it is exactly soft routing. Pass `normalize: 'before'` to get the un-renormalised form.
 */
import type * as tf from '@tensorflow/tfjs';
import { softRoute } from './soft.ts';
import { topKRoute } from './topk.ts';
import type { Routing } from './types.ts';

/** The attention router config (same shape as `model/config.ts`'s `attention.router`). */
export type AttentionRouterSpec = { kind: 'soft' } | { kind: 'topk'; k: number };

/**
 * Routes N tokens by attention-router logits [N, E] (soft or top-k, see the module comment).
 * Returns a new `Routing` owned by the caller.
 */
export function attentionRoute(
  logits: tf.Tensor2D,
  spec: AttentionRouterSpec,
  opts: { normalize?: 'before' | 'after' } = {},
): Routing {
  if (spec.kind === 'soft') return softRoute(logits);
  return topKRoute(logits, { k: spec.k, normalize: opts.normalize ?? 'after' });
}
