/**
 * The parameter names and shapes of a model config (the contract in docs/internals.md) and their
 * seeded initialisation. Counting them (parameters, FLOPs) is `count.ts`'s.
 *
 * Names are the safetensors tensor names (formatted from structured keys by `param-names.ts`), the
 * keys merge recipes average or copy by, and what the PyTorch peer loads; weights are stored
 * [in, out] so `x · W` is a plain 2-D matMul.
 */
import * as tf from '@tensorflow/tfjs';
import { headDim, type ModelConfig } from './config.ts';
import { paramName, type AttnWeight, type FfnWeight, type NormWeight, type ParamKey } from './param-names.ts';
import { ffnWeightNames } from './ffn.ts';

/** How a parameter is initialised. */
export type ParamInit = 'ones' | 'zeros' | 'normal' | 'normal-residual';

/** One parameter of a config: its name, shape and initialiser. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
}

/**
 * Every parameter the config implies, in a stable order (embedding, layers in order, final norm,
 * head). Includes the mixture parameters (experts, routers) named as in docs/internals.md.
 */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const { vocabSize: V, dModel: D, nHeads: H, nKvHeads: Hkv, nLayers: L, dFF: F } = config;
  const Dh = headDim(config);
  const spec = (key: ParamKey, shape: number[], init: ParamInit): ParamSpec => ({ name: paramName(key), shape, init });
  const specs: ParamSpec[] = [spec({ part: 'embed' }, [V, D], 'normal')];
  const { attention: attn, ffn, routing } = config;
  // A norm is its scale, plus a bias for LayerNorm.
  const layernorm = config.norm === 'layernorm';
  const normSpecs = (key: Extract<ParamKey, { part: 'norm' | 'final_norm' }>): ParamSpec[] =>
    layernorm ? [spec(key, [D], 'ones'), spec({ ...key, bias: true }, [D], 'zeros')] : [spec(key, [D], 'ones')];
  for (let layer = 0; layer < L; layer++) {
    const norm = (weight: NormWeight) => normSpecs({ part: 'norm', layer, weight });
    if (config.block === 'parallel' && config.parallelNorms !== 'separate') specs.push(...norm('norm'));
    else specs.push(...norm('norm1'), ...norm('norm2'));

    const attnShapes: Record<AttnWeight, [number[], ParamInit]> = {
      wq: [[D, H * Dh], 'normal'],
      wk: [[D, Hkv * Dh], 'normal'],
      wv: [[D, Hkv * Dh], 'normal'],
      wo: [[H * Dh, D], 'normal-residual'],
      bq: [[H * Dh], 'zeros'],
      bk: [[Hkv * Dh], 'zeros'],
      bv: [[Hkv * Dh], 'zeros'],
      bo: [[D], 'zeros'],
    };
    const attnSpec = (weight: AttnWeight, expert?: number): ParamSpec => spec({ part: 'attn', layer, expert, weight }, ...attnShapes[weight]);
    if (attn.kind === 'dense') {
      specs.push(attnSpec('wq'), attnSpec('wk'), attnSpec('wv'), attnSpec('wo'));
      if (config.qkvBias) specs.push(attnSpec('bq'), attnSpec('bk'), attnSpec('bv'));
      if (config.attnOutBias) specs.push(attnSpec('bo'));
    } else {
      if (attn.kvShared) specs.push(attnSpec('wk'), attnSpec('wv'));
      for (let e = 0; e < attn.numExperts; e++) {
        specs.push(attnSpec('wq', e));
        if (!attn.kvShared) specs.push(attnSpec('wk', e), attnSpec('wv', e));
        specs.push(attnSpec('wo', e));
      }
      if (!routing.tieAttentionToFfn && !routing.shareAcrossLayers) {
        specs.push(spec({ part: 'router', layer, of: 'attn' }, [D, attn.numExperts], 'normal'));
      }
    }

    const ffnShapes: Record<FfnWeight, [number[], ParamInit]> = {
      w_gate: [[D, F], 'normal'],
      w_up: [[D, F], 'normal'],
      w_down: [[F, D], 'normal-residual'],
      b_gate: [[F], 'zeros'],
      b_up: [[F], 'zeros'],
      b_down: [[D], 'zeros'],
    };
    const ffnSpecs = (expert?: number): ParamSpec[] => ffnWeightNames(config).map((weight) => spec({ part: 'ffn', layer, expert, weight }, ...ffnShapes[weight]));
    if (ffn.kind === 'dense') {
      specs.push(...ffnSpecs());
    } else {
      for (let e = 0; e < ffn.numExperts; e++) specs.push(...ffnSpecs(e));
      if (ffn.router.kind !== 'hash' && !routing.shareAcrossLayers) {
        specs.push(spec({ part: 'router', layer, of: 'ffn' }, [D, ffn.numExperts], 'normal'));
      }
    }
  }
  if (routing.shareAcrossLayers) {
    if (ffn.kind === 'moe' && ffn.router.kind !== 'hash') specs.push(spec({ part: 'router', of: 'ffn' }, [D, ffn.numExperts], 'normal'));
    if (attn.kind === 'moa' && !routing.tieAttentionToFfn) specs.push(spec({ part: 'router', of: 'attn' }, [D, attn.numExperts], 'normal'));
  }
  specs.push(...normSpecs({ part: 'final_norm' }));
  if (!config.tieEmbeddings) specs.push(spec({ part: 'lm_head' }, [D, V], 'normal'));
  return specs;
}

/** A 32-bit seed for one parameter: FNV-1a of `${seed}:${name}`, so each tensor is independent of the others' order. */
export function paramSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  const s = `${seed}:${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The initial value of one parameter: ones for norm scales, zeros for biases; N(0, initStd²) for matrices; the
 * residual-stream outputs (Wo, W_down) use initStd/√(2·nLayers), as GPT-2 does, so the residual
 * variance does not grow with depth. Deterministic given (seed, name). Caller owns the tensor.
 */
export function initParam(spec: ParamSpec, config: ModelConfig, seed: number): tf.Tensor {
  if (spec.init === 'ones') return tf.ones(spec.shape);
  if (spec.init === 'zeros') return tf.zeros(spec.shape);
  const std = spec.init === 'normal-residual' ? config.initStd / Math.sqrt(2 * config.nLayers) : config.initStd;
  return tf.randomNormal(spec.shape, 0, std, 'float32', paramSeed(seed, spec.name));
}
