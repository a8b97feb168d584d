/**
 * Each row's cross-entropy −log softmax(logits_n)[t_n], shared by the training loss (model/loss.ts)
 * and scoring (inference/score.ts).
 *
 * On wasm (`opsSettings().crossEntropyForward === 'fused'`) it is read off the softmax by bam's
 * `BamXentNll` kernel (ops/kernels.ts): N reads of the [N, V] probabilities, with a float64
 * logsumexp for the rare rows where the target's float32 probability underflows. Elsewhere, and as
 * the reference, logsumexp comes from the softmax too: with m = max_v logits_n, the most probable
 * entry has p_max = exp(m − lse), so lse = m − log(p_max); p_max ≥ 1/V never underflows, so this is
 * exact to float rounding. Both avoid tf.logSumExp, which costs ~3× a native softmax on wasm (a
 * third of a `tiny` scoring forward).
 */
import * as tf from '@tensorflow/tfjs';
import { XENT_NLL } from './kernels.ts';
import { fusedOnWasm } from './settings.ts';

/**
 * −log softmax(logits)[n, targets[n]] for logits [N, V] and int32 targets [N] in [0, V) → [N].
 * `probs` is softmax(logits) when the caller has it already (the loss keeps it for its gradient).
 */
export function targetNll(logits: tf.Tensor2D, targets: tf.Tensor1D, probs?: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const p = probs ?? tf.softmax(logits); // [N, V]
    if (fusedOnWasm('crossEntropyForward', logits)) return tf.engine().runKernel(XENT_NLL, { probs: p, logits, targets }) as tf.Tensor1D; // [N]
    const [N, V] = logits.shape;
    // A gather on the flattened logits (index n·V + t) instead of a [N, V] one-hot product.
    const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), targets); // [N]
    const picked = tf.gather(tf.reshape(logits, [N * V]), flatIdx); // [N]
    const lse = tf.sub(tf.max(logits, 1), tf.log(tf.max(p, 1))); // [N]
    return tf.sub(lse, picked) as tf.Tensor1D; // [N]
  });
}
