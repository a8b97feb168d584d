/**
 * Causal multi-head self-attention with RoPE and optional grouped-query attention (GQA), as in
 * the BAM paper's seed models (§3, Table 8: 8/8 heads small, 18/6 heads large).
 *
 * Speed on wasm: batched matMul runs near 1 GFLOP/s there, plain 2-D matMul at 15–25, so the core
 * loops over the B·H (batch, head) pairs with 2-D products and does the softmax on all pairs at
 * once, as one op with a written-out gradient (ops/attention.ts; see benchmarks/ops-microbench.ts).
 * `causalAttentionReference` is the plain batched form, kept beside it as the reference the tests
 * compare against.
 *
 * Layouts: activations are 2-D [N = B·T, D]; per-head tensors are [B·H, T, Dh] (group g = b·H + h).
 * With GQA (Hkv < H), query head h reads key/value head ⌊h / (H/Hkv)⌋ (Llama's repeat_kv order;
 * `kvHeadOf`).
 *
 * With a KV cache (./kv-cache.ts) the T queries are the new tokens at positions P..P+T-1 and the
 * keys and values span S = P + T positions: the cached ones, then the new ones. The causal mask
 * is then offset by P; without a cache S = T and everything is the training computation.
 */
import * as tf from '@tensorflow/tfjs';
import { affine, groupedCausalAttention, linear, matmul, opsSettings } from '../ops/index.ts';
import { applyRope } from './rope.ts';
import type { LayerKv } from './kv-cache.ts';

/** Weights of one attention (stored [in, out]); biases only for imported models that have them. */
export interface AttentionWeights {
  wq: tf.Tensor2D; // [D, H·Dh]
  wk: tf.Tensor2D; // [D, Hkv·Dh]
  wv: tf.Tensor2D; // [D, Hkv·Dh]
  wo: tf.Tensor2D; // [H·Dh, D]
  bq?: tf.Tensor1D; // [H·Dh]
  bk?: tf.Tensor1D; // [Hkv·Dh]
  bv?: tf.Tensor1D; // [Hkv·Dh]
  bo?: tf.Tensor1D; // [D]
}

/** Sizes an attention needs besides its weights. */
export interface AttentionDims {
  batch: number; // B
  seqLen: number; // T
  nHeads: number; // H
  nKvHeads: number; // Hkv
  headDim: number; // Dh
}

/** RoPE tables for the current sequence length, from `ropeTables`. */
export interface RopeTables {
  cos: tf.Tensor2D; // [T, Dh/2]
  sin: tf.Tensor2D; // [T, Dh/2]
}

/** [N, heads·Dh] → [B·heads, T, Dh], with RoPE applied when tables are given. */
function splitHeads(x: tf.Tensor2D, heads: number, d: AttentionDims, rope?: RopeTables): tf.Tensor3D {
  const { batch: B, seqLen: T, headDim: Dh } = d;
  let x4 = tf.reshape(x, [B, T, heads, Dh]) as tf.Tensor4D; // [B, T, heads, Dh]
  if (rope) x4 = applyRope(x4, rope.cos, rope.sin);
  return tf.reshape(tf.transpose(x4, [0, 2, 1, 3]), [B * heads, T, Dh]) as tf.Tensor3D; // [B·heads, T, Dh]
}

/** Queries of h [N, D]: RoPE-rotated, [B·H, T, Dh]. */
export function attentionQueries(h: tf.Tensor2D, wq: tf.Tensor2D, d: AttentionDims, rope: RopeTables): tf.Tensor3D {
  return splitHeads(linear(h, wq), d.nHeads, d, rope);
}

/** Keys (RoPE-rotated) and values of h [N, D], each [B·Hkv, T, Dh]. BAM-KV-shared computes these once for all experts. */
export function attentionKeyValues(
  h: tf.Tensor2D,
  wk: tf.Tensor2D,
  wv: tf.Tensor2D,
  d: AttentionDims,
  rope: RopeTables,
): { k: tf.Tensor3D; v: tf.Tensor3D } {
  return { k: splitHeads(linear(h, wk), d.nKvHeads, d, rope), v: splitHeads(linear(h, wv), d.nKvHeads, d) };
}

/** Per-head outputs [B·H, T, Dh] → [N, D] through Wo. */
export function attentionOutput(o: tf.Tensor3D, wo: tf.Tensor2D, d: AttentionDims): tf.Tensor2D {
  const { batch: B, seqLen: T, nHeads: H, headDim: Dh } = d;
  const o4 = tf.reshape(o, [B, H, T, Dh]); // [B, H, T, Dh]
  const merged = tf.reshape(tf.transpose(o4, [0, 2, 1, 3]), [B * T, H * Dh]) as tf.Tensor2D; // [N, H·Dh]
  return linear(merged, wo); // [N, D]
}

/**
 * The key/value group that query group g of [B·H, T, Dh] reads in [B·Hkv, S, Dh]: head h of
 * example b (g = b·H + h) reads head ⌊h / (H/Hkv)⌋ of the same example (Llama's repeat_kv order).
 */
export function kvHeadOf(g: number, nHeads: number, nKvHeads: number): number {
  return Math.floor(g / nHeads) * nKvHeads + Math.floor((g % nHeads) / (nHeads / nKvHeads));
}

/**
 * Additive causal mask [T, S] for T queries at positions S−T..S−1 over S keys: 0 where key j is
 * at or before query i's position (j ≤ S−T+i), -1e9 after (exp underflows to 0). S = T (the
 * default) is the square mask of a forward without a cache.
 */
export function causalMask(T: number, S = T): tf.Tensor2D {
  const m = new Float32Array(T * S);
  for (let i = 0; i < T; i++) for (let j = S - T + i + 1; j < S; j++) m[i * S + j] = -1e9;
  return tf.tensor2d(m, [T, S]);
}

/**
 * softmax(q·kᵀ/√Dh + causal mask)·v for every (batch, head): q [B·H, T, Dh], k, v [B·Hkv, S, Dh]
 * (S = T without a cache, P + T with P positions cached) → [B·H, T, Dh]. Fast path (`attention:
 * 'fused'`, the default): one op with its own gradient over one 2-D product per pair;
 * `per-head`: the same products from autodiff pieces.
 */
export function causalAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, d: AttentionDims): tf.Tensor3D {
  const mode = opsSettings().attention;
  if (mode === 'batched') return causalAttentionReference(q, k, v, d);
  const { seqLen: T, nHeads: H, nKvHeads: Hkv, headDim: Dh } = d;
  const S = k.shape[1];
  const kvOf = Array.from({ length: q.shape[0] }, (_, g) => kvHeadOf(g, H, Hkv));
  if (mode === 'fused') return groupedCausalAttention(q, k, v, { kvOf, scale: 1 / Math.sqrt(Dh), mask: causalMask(T, S) }); // [B·H, T, Dh]
  const qs = tf.unstack(tf.mul(q, 1 / Math.sqrt(Dh))) as tf.Tensor2D[]; // B·H × [T, Dh]
  const kts = tf.unstack(tf.transpose(k, [0, 2, 1])) as tf.Tensor2D[]; // B·Hkv × [Dh, S]
  const vs = tf.unstack(v) as tf.Tensor2D[]; // B·Hkv × [S, Dh]
  const scores = tf.stack(qs.map((qg, g) => matmul(qg, kts[kvOf[g]]))); // [B·H, T, S]
  const probs = tf.unstack(tf.softmax(tf.add(scores, causalMask(T, S)))) as tf.Tensor2D[]; // B·H × [T, S]
  return tf.stack(probs.map((p, g) => matmul(p, vs[kvOf[g]]))) as tf.Tensor3D; // [B·H, T, Dh]
}

/** The plain batched form of `causalAttention` (GQA by gathering the shared heads): the tests' reference. */
export function causalAttentionReference(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, d: AttentionDims): tf.Tensor3D {
  const { batch: B, seqLen: T, nHeads: H, nKvHeads: Hkv, headDim: Dh } = d;
  const S = k.shape[1];
  const idx = tf.tensor1d(Array.from({ length: B * H }, (_, g) => kvHeadOf(g, H, Hkv)), 'int32'); // [B·H]
  const kr = tf.gather(k, idx); // [B·H, S, Dh]
  const vr = tf.gather(v, idx); // [B·H, S, Dh]
  const scores = tf.mul(tf.matMul(q, kr, false, true), 1 / Math.sqrt(Dh)); // [B·H, T, S]
  return tf.matMul(tf.softmax(tf.add(scores, causalMask(T, S))), vr) as tf.Tensor3D; // [B·H, T, Dh]
}

/**
 * Causal MHA (GQA when Hkv < H) of h [N, D] → [N, D]; with `kv`, h holds the new tokens and
 * attends to the cached positions too (slot 0). Call inside the forward's tidy.
 */
export function multiHeadAttention(h: tf.Tensor2D, w: AttentionWeights, d: AttentionDims, rope: RopeTables, kv?: LayerKv): tf.Tensor2D {
  const out = attentionFromProjections(affine(h, w.wq, w.bq), affine(h, w.wk, w.bk), affine(h, w.wv, w.bv), w.wo, d, rope, kv); // [N, D]
  return w.bo ? (tf.add(out, w.bo) as tf.Tensor2D) : out; // [N, D]
}

/**
 * Causal MHA from projections already made: q [N, H·Dh], k and v [N, Hkv·Dh] → [N, D] (the
 * parallel block computes them in one product with the FFN's inputs; model/block.ts). With
 * `kv`, the new keys and values extend the cache's slot 0 and the queries attend to all of them.
 */
export function attentionFromProjections(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  wo: tf.Tensor2D,
  d: AttentionDims,
  rope: RopeTables,
  kv?: LayerKv,
): tf.Tensor2D {
  const queries = splitHeads(q, d.nHeads, d, rope); // [B·H, T, Dh]
  let keys = { k: splitHeads(k, d.nKvHeads, d, rope), v: splitHeads(v, d.nKvHeads, d) }; // [B·Hkv, T, Dh] each
  if (kv) keys = kv.update(0, keys); // [B·Hkv, P+T, Dh] each
  const heads = causalAttention(queries, keys.k, keys.v, d); // [B·H, T, Dh]
  return attentionOutput(heads, wo, d); // [N, D]
}
