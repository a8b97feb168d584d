/**
 * The parameter names and shapes of a model config (the contract in docs/internals.md), seeded
 * initialisation, and parameter counts (total and active per token).
 *
 * Names are the safetensors tensor names, the keys merge recipes average or copy by, and what the
 * PyTorch peer loads; weights are stored [in, out] so `x · W` is a plain 2-D matMul.
 */
import * as tf from '@tensorflow/tfjs';
import { headDim, type ModelConfig } from './config.ts';

/** How a parameter is initialised. */
export type ParamInit = 'ones' | 'normal' | 'normal-residual';

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
  const specs: ParamSpec[] = [{ name: 'embed.weight', shape: [V, D], init: 'normal' }];
  const { attention: attn, ffn, routing } = config;
  for (let l = 0; l < L; l++) {
    const p = `layers.${l}`;
    if (config.block === 'parallel') specs.push({ name: `${p}.norm.scale`, shape: [D], init: 'ones' });
    else specs.push({ name: `${p}.norm1.scale`, shape: [D], init: 'ones' }, { name: `${p}.norm2.scale`, shape: [D], init: 'ones' });

    const q = (name: string): ParamSpec => ({ name, shape: [D, H * Dh], init: 'normal' });
    const kv = (name: string): ParamSpec => ({ name, shape: [D, Hkv * Dh], init: 'normal' });
    const o = (name: string): ParamSpec => ({ name, shape: [H * Dh, D], init: 'normal-residual' });
    if (attn.kind === 'dense') {
      specs.push(q(`${p}.attn.wq`), kv(`${p}.attn.wk`), kv(`${p}.attn.wv`), o(`${p}.attn.wo`));
    } else {
      if (attn.kvShared) specs.push(kv(`${p}.attn.wk`), kv(`${p}.attn.wv`));
      for (let e = 0; e < attn.numExperts; e++) {
        const pe = `${p}.attn.experts.${e}`;
        specs.push(q(`${pe}.wq`));
        if (!attn.kvShared) specs.push(kv(`${pe}.wk`), kv(`${pe}.wv`));
        specs.push(o(`${pe}.wo`));
      }
      if (!routing.tieAttentionToFfn && !routing.shareAcrossLayers) {
        specs.push({ name: `${p}.attn.router`, shape: [D, attn.numExperts], init: 'normal' });
      }
    }

    const ffnSpecs = (pf: string): ParamSpec[] => [
      { name: `${pf}.w_gate`, shape: [D, F], init: 'normal' },
      { name: `${pf}.w_up`, shape: [D, F], init: 'normal' },
      { name: `${pf}.w_down`, shape: [F, D], init: 'normal-residual' },
    ];
    if (ffn.kind === 'dense') {
      specs.push(...ffnSpecs(`${p}.ffn`));
    } else {
      for (let e = 0; e < ffn.numExperts; e++) specs.push(...ffnSpecs(`${p}.ffn.experts.${e}`));
      if (ffn.router.kind !== 'hash' && !routing.shareAcrossLayers) {
        specs.push({ name: `${p}.ffn.router`, shape: [D, ffn.numExperts], init: 'normal' });
      }
    }
  }
  if (routing.shareAcrossLayers) {
    if (ffn.kind === 'moe' && ffn.router.kind !== 'hash') {
      specs.push({ name: 'routers.ffn', shape: [D, ffn.numExperts], init: 'normal' });
    }
    if (attn.kind === 'moa' && !routing.tieAttentionToFfn) {
      specs.push({ name: 'routers.attn', shape: [D, attn.numExperts], init: 'normal' });
    }
  }
  specs.push({ name: 'final_norm.scale', shape: [D], init: 'ones' });
  if (!config.tieEmbeddings) specs.push({ name: 'lm_head.weight', shape: [D, V], init: 'normal' });
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
 * The initial value of one parameter: ones for norm scales; N(0, initStd²) for matrices; the
 * residual-stream outputs (Wo, W_down) use initStd/√(2·nLayers), as GPT-2 does, so the residual
 * variance does not grow with depth. Deterministic given (seed, name). Caller owns the tensor.
 */
export function initParam(spec: ParamSpec, config: ModelConfig, seed: number): tf.Tensor {
  if (spec.init === 'ones') return tf.ones(spec.shape);
  const std = spec.init === 'normal-residual' ? config.initStd / Math.sqrt(2 * config.nLayers) : config.initStd;
  return tf.randomNormal(spec.shape, 0, std, 'float32', paramSeed(seed, spec.name));
}

/** Parameter counts: every parameter, and those one token uses (a mixture activates only some experts). */
export interface ParamCount {
  total: number;
  active: number;
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/**
 * Counts parameters from the config alone. `active` counts what one token touches: for top-k
 * MoE k of the E FFN experts (expert-choice: capacityFactor experts on average, hash: one);
 * for MoA all experts under soft routing, k under top-k; routers, norms, embeddings and head
 * always. The input embedding counts as active (one row is read, but the paper counts it whole).
 */
export function countParamsOfConfig(config: ModelConfig): ParamCount {
  let total = 0;
  let active = 0;
  const { attention: attn, ffn } = config;
  const ffnActiveFraction =
    ffn.kind === 'dense'
      ? 1
      : ffn.router.kind === 'topk'
        ? ffn.router.k / ffn.numExperts
        : ffn.router.kind === 'expert-choice'
          ? ffn.router.capacityFactor / ffn.numExperts
          : 1 / ffn.numExperts;
  const attnActiveFraction =
    attn.kind === 'dense' || attn.router.kind === 'soft' ? 1 : attn.router.k / attn.numExperts;
  for (const s of paramSpecs(config)) {
    const n = size(s.shape);
    total += n;
    if (/\.ffn\.experts\./.test(s.name)) active += n * ffnActiveFraction;
    else if (/\.attn\.experts\./.test(s.name)) active += n * attnActiveFraction;
    else active += n;
  }
  return { total, active: Math.round(active) };
}
