/**
 * The key/value cache of greedy decoding: the keys (RoPE already applied) and values of every
 * position seen so far, per layer, so each new token costs one query against the cache instead
 * of a forward over the whole prefix. `forward(model, tokens, { cache })` (./model.ts) reads and
 * extends it, as Hugging Face models take `past_key_values`: the same blocks, attention core
 * and mixture layers as training, on the new tokens only.
 *
 * Slots per layer follow the attention kind (BAM paper §3.2, Table 10):
 * - dense attention (also BTX, whose attention is the averaged dense one): one K/V;
 * - MoA full ("expert KV"): one K/V per attention expert, E in all;
 * - MoA kv-shared: ONE K/V for all attention experts — the inference saving that is the point of
 *   sharing Wk, Wv: the cache is exactly the dense model's size.
 *
 * Layout of one slot: k, v are [B·Hkv, S, Dh] (S = positions cached, group g = b·Hkv + j), the
 * layout of `attentionKeyValues` in model/attention.ts, so prefill output is stored as it comes.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, InvariantError } from '../errors.ts';
import { headDim, ropeDims, type ModelConfig } from './config.ts';
import { ropeTables } from './rope.ts';

/** Cached keys and values of one attention (one expert's, or the layer's shared ones). */
export type KvSlot = {
  k: tf.Tensor3D; // [B·Hkv, S, Dh], RoPE applied
  v: tf.Tensor3D; // [B·Hkv, S, Dh]
};

/**
 * A KV cache for `batch` sequences decoded in lock-step. Owns its tensors: dispose it with
 * `disposeKvCache` (it is not a model parameter and no tidy frees it).
 */
export interface KvCache {
  readonly batch: number;
  /** Positions cached so far; the next token goes at this position. */
  length: number;
  /** The most positions it can hold: the model's maxSeqLen. */
  readonly capacity: number;
  /** [layer][slot]: null until the first forward fills it. Slot count from `kvCacheSlots`. */
  layers: Array<Array<KvSlot | null>>;
  /** RoPE tables for positions 0..capacity-1, each [capacity, Dh/2]; sliced per step. */
  readonly rope: { cos: tf.Tensor2D; sin: tf.Tensor2D };
}

/**
 * Whether decoding with a KV cache reproduces the full forward for this config, and why not.
 * Top-k and soft routing are per token and hash routing reads the token id, so routing a new
 * token needs nothing from the past. Expert-choice FFN routing (a token's route depends on the
 * other tokens of the sequence, later ones included) and per-example routing (the pooled prefix
 * changes while the sequence is shorter than prefixTokens) are not per token.
 */
export function kvCacheSupport(config: ModelConfig): { ok: true } | { ok: false; reason: string } {
  if (config.ffn.kind === 'moe' && config.ffn.router.kind === 'expert-choice') {
    return { ok: false, reason: 'expert-choice FFN routing lets each expert pick tokens from the whole sequence, so a token’s route depends on later tokens' };
  }
  if (config.routing.perExample) {
    return { ok: false, reason: 'per-example routing pools the first prefixTokens hidden states, which change while the sequence is shorter than that' };
  }
  return { ok: true };
}

/** K/V slots one layer caches: E for MoA full, else 1 (dense attention, MoA kv-shared). */
export function kvCacheSlots(config: ModelConfig): number {
  return config.attention.kind === 'moa' && !config.attention.kvShared ? config.attention.numExperts : 1;
}

/**
 * Bytes of float32 K/V cache one token position needs, from the config alone:
 * 2 (K and V) · L · Hkv · Dh · 4 bytes, times E for MoA full (each attention expert keeps its own
 * keys and values), times 1 for MoA kv-shared (one K/V per layer, as dense).
 */
export function kvCacheBytesPerToken(config: ModelConfig): number {
  return 2 * config.nLayers * config.nKvHeads * headDim(config) * 4 * kvCacheSlots(config);
}

/** An empty cache for `batch` sequences of the model with `config`; the caller owns it. */
export function createKvCache(config: ModelConfig, batch: number): KvCache {
  if (!Number.isInteger(batch) || batch < 1) {
    throw new BamError(`KV cache batch must be a positive integer, got ${batch}`, 'E_INFERENCE', 'pass the number of sequences decoded together');
  }
  const slots = kvCacheSlots(config);
  return {
    batch,
    length: 0,
    capacity: config.maxSeqLen,
    layers: Array.from({ length: config.nLayers }, () => Array.from({ length: slots }, () => null)),
    rope: ropeTables(config.maxSeqLen, ropeDims(config), config.ropeBase),
  };
}

/** Bytes the cache's K/V tensors hold now (float32), measured from the tensors themselves. */
export function kvCacheBytes(cache: KvCache): number {
  let bytes = 0;
  for (const layer of cache.layers) for (const s of layer) if (s) bytes += (s.k.size + s.v.size) * 4;
  return bytes;
}

/** Frees every tensor of the cache; it must not be used afterwards. */
export function disposeKvCache(cache: KvCache): void {
  for (const layer of cache.layers) {
    for (let i = 0; i < layer.length; i++) {
      const s = layer[i];
      if (s) tf.dispose([s.k, s.v]);
      layer[i] = null;
    }
  }
  tf.dispose([cache.rope.cos, cache.rope.sin]);
  cache.length = 0;
}

/**
 * One layer's access to the cache during a forward, as Hugging Face's `Cache.update`: `update`
 * appends the new keys and values of one slot (each [B·Hkv, T, Dh], RoPE applied) to the cached
 * ones and returns the whole [B·Hkv, P+T, Dh] to attend to. The cache takes the extended slots
 * when the forward ends (`commitKvStep`); a forward that throws discards them (`discardKvStep`)
 * and leaves the cache unchanged.
 */
export interface LayerKv {
  update(slot: number, kv: KvSlot): KvSlot;
}

/** One forward's pending writes to a cache: the extended slots per layer, made inside its tidy. */
export interface KvStep {
  cache: KvCache;
  /** Positions cached before this forward (P); the new tokens sit at P..P+T-1. */
  past: number;
  /** New positions (T). */
  length: number;
  /** [layer][slot]: the extended K/V, filled by the layers' `update` calls; kept out of every tidy. */
  written: KvSlot[][];
}

/**
 * Starts a forward of `batch` sequences of `length` new tokens on the cache; throws a BamError
 * when the config cannot decode with a cache, the batch differs from the cache's, or the
 * positions would exceed its capacity.
 */
export function beginKvStep(config: ModelConfig, cache: KvCache, batch: number, length: number): KvStep {
  const support = kvCacheSupport(config);
  if (!support.ok) {
    throw new BamError(`this model cannot decode with a KV cache: ${support.reason}`, 'E_INFERENCE', 'use generate(..., {useCache: false}) or forward without a cache');
  }
  if (batch !== cache.batch) {
    throw new BamError(`tokens have batch ${batch} but the KV cache was made for ${cache.batch}`, 'E_INFERENCE', 'create one cache per batch of sequences');
  }
  if (cache.length + length > cache.capacity) {
    throw new BamError(
      `${cache.length} cached + ${length} new positions exceed the model's maxSeqLen ${cache.capacity}`,
      'E_SEQ_LEN',
      'shorten the prompt or generate fewer tokens',
    );
  }
  return { cache, past: cache.length, length, written: cache.layers.map(() => []) };
}

/** RoPE tables of the step's new positions P..P+T-1, each [T, Dh/2] (slices of the cache's tables). */
export function kvStepRope(step: KvStep): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const { cache, past: P, length: T } = step;
  const half = cache.rope.cos.shape[1];
  return { cos: tf.slice(cache.rope.cos, [P, 0], [T, half]), sin: tf.slice(cache.rope.sin, [P, 0], [T, half]) }; // [T, Dh/2] each
}

/**
 * Layer `layer`'s `LayerKv` for this step. The extended slots are `tf.keep`-ed: they outlive the
 * tidies they are made in (the forward's, and a mixture layer's own), until commit or discard.
 */
export function layerKv(step: KvStep, layer: number): LayerKv {
  const out = step.written[layer];
  return {
    update(slot, kv) {
      const past = step.cache.layers[layer][slot];
      const full = past ? { k: tf.concat([past.k, kv.k], 1) as tf.Tensor3D, v: tf.concat([past.v, kv.v], 1) as tf.Tensor3D } : kv; // [B·Hkv, P+T, Dh]
      out[slot] = { k: tf.keep(full.k), v: tf.keep(full.v) };
      return full;
    },
  };
}

/** Frees the slots a failed forward extended; the cache keeps its old ones. */
export function discardKvStep(step: KvStep): void {
  for (const layer of step.written) for (const s of layer) if (s) tf.dispose([s.k, s.v]);
}

/**
 * Ends a step after the forward's tidy kept `step.written`: every slot of every layer must have
 * been extended; the old tensors are disposed and the cache advances by the step's length.
 */
export function commitKvStep(step: KvStep): void {
  const { cache } = step;
  cache.layers.forEach((old, l) => {
    const next = step.written[l];
    if (next.length !== old.length || old.some((_, i) => !next[i])) {
      throw new InvariantError(`layer ${l} extended ${next.filter(Boolean).length} KV slots, the cache has ${old.length}`);
    }
  });
  cache.layers.forEach((old, l) => {
    for (const s of old) if (s) tf.dispose([s.k, s.v]);
    cache.layers[l] = step.written[l];
  });
  cache.length = step.past + step.length;
}
