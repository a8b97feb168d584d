/**
 * A tiny bigram "language model" for trainer and checkpoint tests that must not depend on the
 * real model: logits = (onehot(x) · E) ⊙ s · W. Its batches follow x[i+1] = (x[i] + 3) mod V,
 * which the model can learn exactly, so the loss falls fast from ln V.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchSource, LossParts } from '../../src/train/trainer.ts';

export interface LinearModel {
  config: { kind: 'linear-test'; vocabSize: number; dModel: number };
  params: Map<string, tf.Variable>;
}

/** A seeded linear model with parameters named like the real model's. */
export function createLinearModel(vocabSize: number, dModel: number, seed: number): LinearModel {
  const params = new Map<string, tf.Variable>();
  params.set('embed.weight', tf.tidy(() => tf.variable(tf.randomNormal([vocabSize, dModel], 0, 0.5, 'float32', seed))));
  params.set('final_norm.scale', tf.tidy(() => tf.variable(tf.ones([dModel]))));
  params.set('lm_head.weight', tf.tidy(() => tf.variable(tf.randomNormal([dModel, vocabSize], 0, 0.5, 'float32', seed + 1))));
  return { config: { kind: 'linear-test', vocabSize, dModel }, params };
}

/** Logits [B·T, V] of the linear model. */
export function linearLogits(model: LinearModel, inputs: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const V = model.config.vocabSize;
    const x = tf.oneHot(tf.reshape(inputs, [-1]) as tf.Tensor1D, V).toFloat(); // [B·T, V]
    const h = tf.mul(tf.matMul(x, model.params.get('embed.weight')!), model.params.get('final_norm.scale')!); // [B·T, D]
    return tf.matMul(h, model.params.get('lm_head.weight')!) as tf.Tensor2D; // [B·T, V]
  });
}

/** Mean next-token cross-entropy; the router terms are zero. */
export function linearLoss(model: LinearModel, inputs: tf.Tensor2D, targets: tf.Tensor2D): LossParts {
  return tf.tidy(() => {
    const logits = linearLogits(model, inputs); // [B·T, V]
    const t = tf.oneHot(tf.reshape(targets, [-1]) as tf.Tensor1D, model.config.vocabSize).toFloat(); // [B·T, V]
    const nll = tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, t), 1))) as tf.Scalar;
    return { loss: nll, nll: tf.clone(nll), loadBalance: tf.scalar(0), zLoss: tf.scalar(0) };
  });
}

/** Batches of the +3 mod V sequence with start tokens a pure function of (salt, step, row). */
export function stepSource(vocabSize: number, batchSize: number, seqLen: number, salt = 0): BatchSource {
  return {
    batch(step: number) {
      const inputs = new Int32Array(batchSize * seqLen);
      const targets = new Int32Array(batchSize * seqLen);
      for (let r = 0; r < batchSize; r++) {
        let x = (Math.imul(step + 1, 2654435761) ^ Math.imul(r + 7 + salt, 40503)) >>> 0;
        x %= vocabSize;
        for (let i = 0; i < seqLen; i++) {
          inputs[r * seqLen + i] = x;
          x = (x + 3) % vocabSize;
          targets[r * seqLen + i] = x;
        }
      }
      return { inputs, targets, batchSize, seqLen };
    },
  };
}
