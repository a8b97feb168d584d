/**
 * The training objective (docs/method.md, "Loss"): L = NLL + α·Σ_layers L_LB + β·Σ_layers L_z, with
 * the Switch load-balance loss (Fedus et al. 2021, eq. 4) and the ST-MoE router z-loss (Zoph et
 * al. 2022, eq. 5) computed by the mixture layers; α, β from `config.aux`. For a dense model both
 * router terms are 0 and L = NLL.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { opsSettings, SOFTMAX_XENT_GRAD, targetNll } from '../ops/index.ts';
import { checkTokens, forward, type BamModel } from './model.ts';

/** The loss and its parts, each a scalar owned by the caller. */
export interface LossResult {
  /** nll + α·loadBalance + β·zLoss: what the optimiser minimises. */
  loss: tf.Scalar;
  /** Mean negative log-likelihood (nats/token) over targets ≥ 0. */
  nll: tf.Scalar;
  /** Load-balance loss summed over layers, unweighted. */
  loadBalance: tf.Scalar;
  /** Router z-loss summed over layers, unweighted. */
  zLoss: tf.Scalar;
}

/**
 * Σ_n w_n·(logsumexp(logits_n) − logits_n[t_n]) with its gradient written out,
 * (softmax(logits) − onehot(t))·w·dy. TF.js's own gradient of logsumexp goes through `max`, whose
 * gradient is a broadcast `Equal` over [N, V] that takes ~200 ms on wasm for N=1024, V=4096.
 *
 * The forward needs the softmax for the gradient anyway, so each row's NLL comes from it
 * (ops/cross-entropy.ts `targetNll`). On wasm the gradient is one pass of bam's
 * `BamSoftmaxXentGrad` kernel (ops/kernels.ts).
 */
const weightedCrossEntropy = tf.customGrad(((logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor, save: tf.GradSaveFunc) => {
  const [N, V] = logits.shape;
  const probs = tf.softmax(logits as tf.Tensor2D); // [N, V]
  const nll = targetNll(logits as tf.Tensor2D, targets as tf.Tensor1D, probs); // [N]
  save([probs, targets, weights]);
  return {
    value: tf.sum(tf.mul(nll, weights)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [p, t, w] = saved;
      const scale = tf.mul(w, dy); // [N]
      const dlogits =
        tf.getBackend() === 'wasm'
          ? (tf.engine().runKernel(SOFTMAX_XENT_GRAD, { probs: p, targets: t, scale }) as tf.Tensor) // [N, V]
          : tf.mul(tf.sub(p, tf.oneHot(t as tf.Tensor1D, V)), tf.reshape(scale, [N, 1])); // [N, V]
      return [dlogits, tf.zerosLike(t), tf.zerosLike(w)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * Mean NLL of targets [B, T] under logits [B, T, V]: logsumexp(logits) − logit[target].
 * A negative target (padding) is ignored; the mean is over the other positions.
 */
export function tokenNll(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const N = B * T;
    const t = tf.reshape(targets, [N]); // [N]
    const valid = tf.greaterEqual(t, 0); // [N]
    const safe = tf.where(valid, t, tf.zerosLike(t)); // [N]
    const w = tf.cast(valid, 'float32'); // [N]
    const weights = tf.div(w, tf.maximum(tf.sum(w), 1)); // [N], sums to 1 over valid positions
    const flat = tf.reshape(logits, [N, V]); // [N, V]
    if (opsSettings().crossEntropyGradient === 'builtin') {
      const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), safe); // [N]
      const nll = tf.sub(tf.logSumExp(flat, 1), tf.gather(tf.reshape(flat, [N * V]), flatIdx)); // [N]
      return tf.sum(tf.mul(nll, weights)) as tf.Scalar;
    }
    return weightedCrossEntropy(flat, safe, weights) as tf.Scalar;
  });
}

/**
 * Runs the model on inputs [B, T] and scores targets [B, T] (int32; negative = ignore).
 * One tidy; the four scalars belong to the caller. Use inside `tf.variableGrads` or
 * `optimizer.minimize(() => computeLoss(...).loss)`, or use `computeLossAndGrads`.
 */
export function computeLoss(model: BamModel, inputs: tf.Tensor2D, targets: tf.Tensor2D): LossResult {
  checkTokens(model.config, targets, 'targets');
  if (targets.shape[0] !== inputs.shape[0] || targets.shape[1] !== inputs.shape[1]) {
    throw new ShapeError('targets', inputs.shape, targets.shape, 'computeLoss');
  }
  return tf.tidy(() => {
    const { logits, aux } = forward(model, inputs);
    const nll = tokenNll(logits, targets);
    const { loadBalance: alpha, zLoss: beta } = model.config.aux;
    const loss = tf.addN([nll, tf.mul(aux.loadBalance, alpha), tf.mul(aux.zLoss, beta)]) as tf.Scalar;
    return { loss, nll, loadBalance: aux.loadBalance, zLoss: aux.zLoss };
  });
}

/** The loss parts and the gradient of `loss` for every trainable parameter (by name). */
export interface LossAndGrads extends LossResult {
  grads: Map<string, tf.Tensor>;
}

/**
 * `computeLoss` plus the gradients of `loss` w.r.t. every parameter, keyed by parameter name.
 * Everything returned belongs to the caller (dispose the scalars and the gradients).
 */
export function computeLossAndGrads(model: BamModel, inputs: tf.Tensor2D, targets: tf.Tensor2D): LossAndGrads {
  const vars = [...model.params.values()];
  let parts: Omit<LossResult, 'loss'> | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = computeLoss(model, inputs, targets);
    // Kept past variableGrads' internal tidy; handed to the caller below.
    parts = { nll: tf.keep(r.nll), loadBalance: tf.keep(r.loadBalance), zLoss: tf.keep(r.zLoss) };
    return r.loss;
  }, vars);
  const byVar = new Map<string, string>();
  for (const [name, v] of model.params) byVar.set(v.name, name);
  const out = new Map<string, tf.Tensor>();
  for (const [varName, g] of Object.entries(grads)) out.set(byVar.get(varName)!, g);
  return { loss: value, ...parts!, grads: out };
}
