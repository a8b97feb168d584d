/**
 * The key/value cache of greedy decoding: the keys (RoPE already applied) and values of every
 * position seen so far, per layer, so each new token costs one query against the cache instead
 * of a forward over the whole prefix.
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
import { BamError } from '../errors.ts';
import { headDim, type ModelConfig } from '../model/config.ts';
import { ropeTables } from '../model/rope.ts';

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
    rope: ropeTables(config.maxSeqLen, headDim(config), config.ropeBase),
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
