/** Argument checks shared by the routers: each names what to fix. */
import type * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../../errors.ts';

/** Throws unless `logits` is [N, E] float32 with E ≥ 1; returns [N, E]. */
export function checkLogits(logits: tf.Tensor, where: string): [number, number] {
  if (logits.rank !== 2) throw new ShapeError('router logits', [-1, -1], logits.shape, where);
  if (logits.dtype !== 'float32') {
    throw new BamError(`router logits must be float32, got ${logits.dtype} (${where})`, 'E_DTYPE', 'compute logits as h · W_router with float32 weights');
  }
  return [logits.shape[0] as number, logits.shape[1] as number];
}

/** Throws unless k is an integer in [1, numExperts]. */
export function checkK(k: number, numExperts: number, where: string): void {
  if (!Number.isInteger(k) || k < 1 || k > numExperts) {
    throw new BamError(
      `top-k needs an integer k in [1, ${numExperts}], got ${k} (${where})`,
      'E_ROUTER',
      `set router.k to at most numExperts (${numExperts})`,
    );
  }
}
