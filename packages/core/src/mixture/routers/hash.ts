/**
 * Hash routing (Roller et al. 2021, "Hash Layers For Large Sparse Models").
 *
 * A fixed hash of the token id picks one expert; there are no router weights and nothing to
 * learn, so routing is a pure function of (token id, number of experts, seed). The combine
 * weight is 1 (the chosen expert's output is used as is). The hash is murmur3's 32-bit finaliser
 * (fmix32), which spreads consecutive ids evenly.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../../errors.ts';
import { fmix32 } from '@bam/utils';
import { syncReadsAvailable } from '../../backend/webgpu-reads.ts';
import { oneHotFloat } from './no-grad.ts';
import type { Routing } from './types.ts';

/**
 * The expert for one token id: fmix32(id XOR fmix32(seed)) mod E. A pure function: the same
 * (tokenId, numExperts, seed) always gives the same expert.
 */
export function hashExpert(tokenId: number, numExperts: number, seed = 0): number {
  if (!Number.isInteger(tokenId) || tokenId < 0) {
    throw new BamError(`hash routing needs non-negative integer token ids, got ${tokenId}`, 'E_ROUTER', 'pass the int32 token ids of the batch');
  }
  if (!Number.isInteger(numExperts) || numExperts < 1) {
    throw new BamError(`hash routing needs numExperts ≥ 1, got ${numExperts}`, 'E_ROUTER');
  }
  return fmix32(tokenId ^ fmix32(seed)) % numExperts;
}

/**
 * Hash routing of N tokens given their ids (Int32Array, number[] or an int32 tensor of any shape,
 * flattened row-major to match the [B·T, D] hidden states). `gates` = `mask` = `probs` = the
 * one-hot assignment [N, E], `indices` [N, 1], `logits` zeros. Reads a tensor's ids with
 * `dataSync` (cheap on wasm/cpu). Returns a new `Routing` owned by the caller.
 */
export function hashRoute(
  tokenIds: Int32Array | readonly number[] | tf.Tensor,
  numExperts: number,
  opts: { seed?: number } = {},
): Routing {
  let ids: ArrayLike<number>;
  if (tokenIds instanceof tf.Tensor) {
    if (tokenIds.dtype !== 'int32') {
      throw new BamError(`hash routing needs int32 token ids, got ${tokenIds.dtype}`, 'E_DTYPE', "make token tensors with dtype 'int32'");
    }
    if (!syncReadsAvailable()) {
      throw new BamError(
        'hash routing reads the token ids synchronously, which the webgpu backend cannot do in Node',
        'E_BACKEND',
        'use a topk or expert-choice FFN router on webgpu, pass the ids as an Int32Array, or use BAM_BACKEND=wasm',
      );
    }
    ids = tokenIds.dataSync();
  } else {
    ids = tokenIds;
  }
  const N = ids.length;
  const chosen = new Int32Array(N);
  for (let i = 0; i < N; i++) chosen[i] = hashExpert(ids[i], numExperts, opts.seed ?? 0);
  return tf.tidy(() => {
    const indices = tf.tensor2d(chosen, [N, 1], 'int32'); // [N, 1]
    const mask = oneHotFloat(tf.reshape(indices, [N]), numExperts) as tf.Tensor2D; // [N, E]
    return {
      kind: 'hash' as const,
      gates: tf.clone(mask),
      mask,
      indices,
      probs: tf.clone(mask),
      logits: tf.zeros([N, numExperts]) as tf.Tensor2D,
    };
  });
}
