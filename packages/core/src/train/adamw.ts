/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", Algorithm 2), written
 * out on TF.js tensors so its state can be saved, restored and restricted to a trainable set.
 * The update is PyTorch's `torch.optim.AdamW` step for step, so the two peers agree:
 *
 *     p ← p · (1 − lr·λ)                                   decoupled decay (only on decayed params)
 *     m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
 *     p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * Weight decay: by default only parameters of rank ≥ 2 (matrices: embeddings, projections,
 * routers, the LM head) are decayed; rank-1 parameters (norm scales, biases) are not. This is the
 * common practice of nanoGPT / Megatron / OLMo; override with `decay`.
 */
import * as tf from '@tensorflow/tfjs';
import { CheckpointError, ConfigError } from '../errors.ts';
import type { CheckpointableOptimizer, OptimizerState } from '../checkpoint/checkpoint.ts';
import type { SafeTensor } from '../checkpoint/safetensors.ts';
import { adamwStep } from '../ops/adamw.ts';

/** Which parameters train: a list of names, or a predicate on the name. Default: all. */
export type TrainableSpec = readonly string[] | ((name: string) => boolean);

/** AdamW hyper-parameters; the defaults are the BAM paper's (weight decay 0.1) and common LM practice. */
export interface AdamWConfig {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.95. */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
  /** Decoupled weight decay λ (multiplied by the LR, as in PyTorch). Default 0.1. */
  weightDecay?: number;
  /** Whether parameter `name` of `shape` is decayed. Default: `shape.length >= 2`. */
  decay?: (name: string, shape: readonly number[]) => boolean;
  /** Which parameters the optimizer updates; the others are never touched. Default: all. */
  trainable?: TrainableSpec;
  /** A multiplier of the learning rate per parameter (e.g. a faster router); default 1 for every one. */
  lrScale?: (name: string) => number;
}

/** AdamW's saved state: the checkpoint's optimizer-state format (checkpoint/checkpoint.ts). */
export type AdamWState = OptimizerState;

/** Returns the names of `params` selected by `spec`; unknown names in a list are an error. */
export function resolveTrainable(params: ReadonlyMap<string, unknown>, spec?: TrainableSpec): string[] {
  if (spec === undefined) return [...params.keys()];
  if (typeof spec === 'function') return [...params.keys()].filter((n) => spec(n));
  const unknown = spec.filter((n) => !params.has(n));
  if (unknown.length) {
    throw new ConfigError('trainable parameter list', unknown.map((n) => ({ path: n, message: 'no parameter has this name' })), `known names start with: ${[...params.keys()].slice(0, 5).join(', ')}`);
  }
  const wanted = new Set(spec);
  return [...params.keys()].filter((n) => wanted.has(n));
}

/**
 * AdamW over a named parameter map. The optimizer owns its moment variables (`dispose()` frees
 * them); the parameters stay owned by the model. `apply` borrows the gradients.
 */
export class AdamW implements CheckpointableOptimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Names of the parameters this optimizer updates, in model order. */
  readonly trainableNames: readonly string[];
  private readonly decayed: ReadonlySet<string>;
  private readonly lrScale: ReadonlyMap<string, number>;
  private readonly params: Map<string, tf.Variable>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(params: Map<string, tf.Variable>, config: AdamWConfig = {}) {
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.95;
    this.epsilon = config.epsilon ?? 1e-8;
    this.weightDecay = config.weightDecay ?? 0.1;
    const issues: Array<{ path: string; message: string }> = [];
    for (const [k, val] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(val >= 0 && val < 1)) issues.push({ path: k, message: `must be in [0, 1), got ${val}` });
    }
    if (!(this.epsilon > 0)) issues.push({ path: 'epsilon', message: `must be > 0, got ${this.epsilon}` });
    if (!(this.weightDecay >= 0 && Number.isFinite(this.weightDecay))) issues.push({ path: 'weightDecay', message: `must be a finite number >= 0, got ${this.weightDecay}` });
    if (issues.length) throw new ConfigError('AdamW config', issues);
    this.params = params;
    this.trainableNames = resolveTrainable(params, config.trainable);
    const decay = config.decay ?? ((_name: string, shape: readonly number[]) => shape.length >= 2);
    this.decayed = new Set(this.trainableNames.filter((n) => decay(n, params.get(n)!.shape)));
    const scales = this.trainableNames.map((n) => [n, config.lrScale?.(n) ?? 1] as const);
    const badScale = scales.find(([, x]) => !(x >= 0 && Number.isFinite(x)));
    if (badScale) throw new ConfigError('AdamW config', [{ path: `lrScale(${badScale[0]})`, message: `must be a finite number >= 0, got ${badScale[1]}` }]);
    this.lrScale = new Map(scales.filter(([, x]) => x !== 1));
    for (const n of this.trainableNames) {
      const p = params.get(n)!;
      this.m.set(n, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(n, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Number of updates applied so far (the `t` of the bias corrections). */
  get step(): number {
    return this.t;
  }

  /** Whether parameter `name` receives weight decay. */
  isDecayed(name: string): boolean {
    return this.decayed.has(name);
  }

  /**
   * Applies one AdamW update with learning rate `lr` (times the parameter's `lrScale`). `grads` maps parameter names to gradients
   * (borrowed); a trainable parameter without a gradient is skipped entirely (no decay, no moment
   * update), as PyTorch skips parameters whose `.grad` is None. Gradients of non-trainable
   * parameters are ignored. `gradScale` (a borrowed scalar, e.g. the clip coefficient) multiplies
   * every gradient first.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor> | Record<string, tf.Tensor>, lr: number, gradScale?: tf.Scalar): void {
    const get = (n: string): tf.Tensor | undefined => (grads instanceof Map ? grads.get(n) : (grads as Record<string, tf.Tensor>)[n]);
    this.t += 1;
    // One fused pass per parameter (ops/adamw.ts: a single wasm kernel, tfjs ops elsewhere).
    const hyper = { lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, t: this.t, gradScale };
    for (const n of this.trainableNames) {
      const g = get(n);
      if (!g) continue;
      const p = this.params.get(n)!;
      if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
        throw new ConfigError('AdamW gradients', [{ path: n, message: `gradient shape [${g.shape}] does not match parameter shape [${p.shape}]` }]);
      }
      const m = this.m.get(n)!;
      const v = this.v.get(n)!;
      const next = adamwStep(p, m, v, g, { ...hyper, lr: lr * (this.lrScale.get(n) ?? 1), weightDecay: this.decayed.has(n) ? this.weightDecay : 0 });
      p.assign(next.p);
      m.assign(next.m);
      v.assign(next.v);
      next.p.dispose();
      next.m.dispose();
      next.v.dispose();
    }
  }

  /** Reads the state back as plain arrays (for `optimizer.safetensors`). */
  async getState(): Promise<AdamWState> {
    const m = new Map<string, SafeTensor>();
    const v = new Map<string, SafeTensor>();
    for (const n of this.trainableNames) {
      const mv = this.m.get(n)!;
      const vv = this.v.get(n)!;
      m.set(n, { dtype: 'F32', shape: [...mv.shape], data: (await mv.data()) as Float32Array });
      v.set(n, { dtype: 'F32', shape: [...vv.shape], data: (await vv.data()) as Float32Array });
    }
    return { step: this.t, m, v };
  }

  /**
   * Restores a saved state. Every trainable parameter must have both moments with its shape,
   * and the state may hold no other names; otherwise a `CheckpointError` names the tensor
   * (`file` says where the state came from).
   */
  setState(state: AdamWState, file = 'optimizer state'): void {
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new CheckpointError(file, `invalid optimizer step ${state.step}`);
    for (const [kind, map] of [['m', state.m], ['v', state.v]] as const) {
      for (const n of map.keys()) {
        if (!this.m.has(n)) {
          throw new CheckpointError(file, `optimizer tensor '${kind}.${n}' has no trainable parameter of that name`, 'the optimizer state was saved for a different model or trainable set; resume with the same settings or start the optimizer fresh');
        }
      }
      for (const n of this.trainableNames) {
        const t = map.get(n);
        const want = this.params.get(n)!.shape;
        if (!t) throw new CheckpointError(file, `optimizer tensor '${kind}.${n}' is missing`, 'the optimizer state was saved for a different trainable set');
        if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
          throw new CheckpointError(file, `optimizer tensor '${kind}.${n}' has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
        }
      }
    }
    for (const n of this.trainableNames) {
      const shape = this.params.get(n)!.shape;
      tf.tidy(() => {
        this.m.get(n)!.assign(tf.tensor(state.m.get(n)!.data, shape, 'float32'));
        this.v.get(n)!.assign(tf.tensor(state.v.get(n)!.data, shape, 'float32'));
      });
    }
    this.t = state.step;
  }

  /** Frees the moment variables. The parameters are not touched. */
  dispose(): void {
    for (const x of this.m.values()) x.dispose();
    for (const x of this.v.values()) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}
