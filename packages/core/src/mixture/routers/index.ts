/** Routers: one module per rule, plus the dispatch from a model config's router spec. */
import type * as tf from '@tensorflow/tfjs';
import { BamError } from '../../errors.ts';
import { expertChoiceRoute } from './expert-choice.ts';
import { hashRoute } from './hash.ts';
import { topKRoute } from './topk.ts';
import type { Routing } from './types.ts';

export type { Routing, RouterKind } from './types.ts';
export { topKRoute, type TopKRouteOptions } from './topk.ts';
export { softRoute } from './soft.ts';
export { attentionRoute, type AttentionRouterSpec } from './attention.ts';
export { expertChoiceRoute, expertCapacity } from './expert-choice.ts';
export { hashRoute, hashExpert } from './hash.ts';
export { routerLogits, perExampleLogits } from './logits.ts';
export { topKIndices, indicesToMask, oneHotFloat, stopGradient } from './no-grad.ts';

/** The FFN router config (same shape as `model/config.ts`'s `ffn.router`). */
export type FfnRouterSpec =
  | { kind: 'topk'; k: number; normalize: 'before' | 'after' | 'straight-through' }
  | { kind: 'expert-choice'; capacityFactor: number }
  | { kind: 'hash' };

/**
 * Routes N tokens for an FFN mixture by its config: top-k and expert-choice need `logits`
 * [N, E]; hash needs `tokenIds` (N ids) and `numExperts`. Returns a new `Routing` owned by the
 * caller; a missing input throws a `BamError` naming it.
 */
export function ffnRoute(
  spec: FfnRouterSpec,
  inputs: { logits?: tf.Tensor2D; tokenIds?: Int32Array | readonly number[] | tf.Tensor; numExperts?: number; hashSeed?: number },
): Routing {
  switch (spec.kind) {
    case 'topk':
    case 'expert-choice': {
      if (!inputs.logits) throw new BamError(`the ${spec.kind} router needs router logits`, 'E_ROUTER', 'pass { logits: routerLogits(h, W_router) }');
      return spec.kind === 'topk'
        ? topKRoute(inputs.logits, { k: spec.k, normalize: spec.normalize })
        : expertChoiceRoute(inputs.logits, { capacityFactor: spec.capacityFactor });
    }
    case 'hash': {
      const E = inputs.numExperts ?? inputs.logits?.shape[1];
      if (!inputs.tokenIds || !E) {
        throw new BamError('the hash router needs the token ids and the number of experts', 'E_ROUTER', 'pass { tokenIds, numExperts }');
      }
      return hashRoute(inputs.tokenIds, E, { seed: inputs.hashSeed });
    }
    default:
      throw new BamError(`unknown FFN router kind '${(spec as { kind: string }).kind}'`, 'E_ROUTER', 'use topk, expert-choice or hash');
  }
}
