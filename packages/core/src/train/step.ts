/**
 * One optimizer step and one validation pass: the only places the trainer runs the model. A
 * step's scalars stay on the device (a [5] row) until the reporting step reads them back.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamsModel } from '../checkpoint/checkpoint.ts';
import { DataError } from '../errors.ts';
import type { AdamW } from './adamw.ts';
import type { BatchSource, LossFn, TokenBatch } from './types.ts';

/** Checks a batch's shape and types; a malformed batch is a `DataError` naming the step. */
export function checkBatch(b: TokenBatch, step: number, what: string): TokenBatch {
  const n = b.batchSize * b.seqLen;
  if (!(b.inputs instanceof Int32Array) || !(b.targets instanceof Int32Array) || b.inputs.length !== n || b.targets.length !== n) {
    throw new DataError(
      `${what} batch ${step} is malformed: expected Int32Array inputs and targets of ${b.batchSize}×${b.seqLen} = ${n} ids, got ${b.inputs?.length} and ${b.targets?.length}`,
      'a BatchSource must return {inputs, targets: Int32Array, batchSize, seqLen} row-major [B, T]',
    );
  }
  return b;
}

/** Mean validation loss parts over batches 0..n−1 of `source`. Reads scalars back (async). */
export async function evaluateLoss<M extends ParamsModel>(
  model: M,
  source: BatchSource,
  n: number,
  lossFn: LossFn<M>,
): Promise<{ loss: number; nll: number }> {
  let loss = 0;
  let nll = 0;
  for (let i = 0; i < n; i++) {
    const b = checkBatch(source.batch(i), i, 'validation');
    const parts = tf.tidy(() => {
      const inputs = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
      const targets = tf.tensor2d(b.targets, [b.batchSize, b.seqLen], 'int32');
      const out = lossFn(model, inputs, targets);
      return tf.stack([out.loss, out.nll]);
    });
    const v = await parts.data();
    parts.dispose();
    loss += v[0];
    nll += v[1];
  }
  return { loss: loss / n, nll: nll / n };
}

/** What a training step needs besides the batch: the model, its loss, the trainable variables and the optimizer. */
export interface StepRunner<M extends ParamsModel> {
  model: M;
  lossFn: LossFn<M>;
  /** The trainable variables, and each one's parameter name (variable names differ from parameter names). */
  trainVars: tf.Variable[];
  paramOfVar: ReadonlyMap<string, string>;
  optimizer: AdamW;
  /** Global-norm clip (0: none). */
  clipNorm: number;
}

/**
 * Runs one optimizer step on batch `b` with learning rate `lr`: loss and gradients, global
 * gradient norm, clipping, the AdamW update. Returns the step's scalars as a device row
 * `[loss, nll, loadBalance, zLoss, gradNorm]` (the caller disposes it); every other tensor is freed.
 */
export function trainStep<M extends ParamsModel>(r: StepRunner<M>, b: TokenBatch, lr: number): tf.Tensor1D {
  return tf.tidy(() => {
    const inputs = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32'); // [B, T]
    const targets = tf.tensor2d(b.targets, [b.batchSize, b.seqLen], 'int32'); // [B, T]
    let side: tf.Scalar[] = [];
    // variableGrads runs f inside its own tidy that keeps only the returned loss, so the other
    // parts are kept explicitly and disposed once they are stacked.
    const { value, grads } = tf.variableGrads(() => {
      const out = r.lossFn(r.model, inputs, targets);
      side = [tf.keep(out.nll), tf.keep(out.loadBalance), tf.keep(out.zLoss)];
      return out.loss;
    }, r.trainVars);
    const byParam = new Map<string, tf.Tensor>();
    for (const [varName, g] of Object.entries(grads)) byParam.set(r.paramOfVar.get(varName)!, g);
    const gradNorm = tf.sqrt(tf.addN([...byParam.values()].map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    // torch.nn.utils.clip_grad_norm_: scale = min(1, max_norm / (norm + 1e-6)).
    const scale = r.clipNorm > 0 ? (tf.minimum(1, tf.div(r.clipNorm, tf.add(gradNorm, 1e-6))) as tf.Scalar) : undefined;
    r.optimizer.apply(byParam, lr, scale);
    const stacked = tf.stack([value, ...side, gradNorm]) as tf.Tensor1D; // [5]
    side.forEach((t) => t.dispose());
    return stacked;
  });
}
