/**
 * The model's forward pass over NEW tokens only, reading and extending a KV cache: prefill runs
 * it once on the prompt (T = prompt length, nothing cached), then each decoding step on one
 * token (T = 1) at position `cache.length`. Same blocks, norms, FFNs and routers as
 * model/model.ts and model/block.ts; only attention differs, since its queries attend to the
 * cached keys and values of earlier positions (BAM paper §3.2 for MoA; Table 10 for why the
 * kv-shared cache is one K/V per layer).
 *
 * RoPE: the new tokens sit at positions P..P+T-1 (P = positions cached), so their queries and
 * keys are rotated with those rows of the tables; cached keys were rotated when they were new.
 * A new query at position P+i attends to keys 0..P+i (an offset causal mask when T > 1).
 *
 * Routers: top-k and soft routing are per token, hash routing reads the token id, so routing a
 * new token needs nothing from the past. Expert-choice FFN routing (a token's route depends on
 * the other tokens of the sequence, later ones included) and per-example routing (the pooled
 * prefix changes while the sequence is shorter than prefixTokens) are not: `kvCacheSupport`
 * says so, and decoding recomputes the full forward for them.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, InvariantError } from '../errors.ts';
import { embeddingLookup, linear, matmul, matmulBt } from '../ops/index.ts';
import { headDim, type ModelConfig } from '../model/config.ts';
import { attentionKeyValues, attentionOutput, attentionQueries, type AttentionDims, type RopeTables } from '../model/attention.ts';
import { ffnLayer, getParam, type LayerContext } from '../model/block.ts';
import { checkTokens, type BamModel } from '../model/model.ts';
import { rmsNorm } from '../model/norm.ts';
import { attentionRoute, routerLogits } from '../mixture/routers/index.ts';
import type { KvCache, KvSlot } from './kv-cache.ts';

/** Whether decoding with a KV cache reproduces the full forward for this config, and why not. */
export function kvCacheSupport(config: ModelConfig): { ok: true } | { ok: false; reason: string } {
  if (config.ffn.kind === 'moe' && config.ffn.router.kind === 'expert-choice') {
    return { ok: false, reason: 'expert-choice FFN routing lets each expert pick tokens from the whole sequence, so a token’s route depends on later tokens' };
  }
  if (config.routing.perExample) {
    return { ok: false, reason: 'per-example routing pools the first prefixTokens hidden states, which change while the sequence is shorter than that' };
  }
  return { ok: true };
}

/** Additive mask [T, P+T] for new queries at positions P..P+T-1: 0 where key j ≤ P+i, else -1e9. */
function offsetCausalMask(P: number, T: number): tf.Tensor2D {
  const S = P + T;
  const m = new Float32Array(T * S);
  for (let i = 0; i < T; i++) for (let j = P + i + 1; j < S; j++) m[i * S + j] = -1e9;
  return tf.tensor2d(m, [T, S]);
}

/**
 * softmax(q·kᵀ/√Dh + mask)·v per (batch, head): q [B·H, T, Dh] (new queries), k, v [B·Hkv, S, Dh]
 * (cached + new) → [B·H, T, Dh]. One 2-D product per pair (fast on wasm), as `causalAttention`.
 */
function attendToCache(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, d: AttentionDims, mask: tf.Tensor2D | null): tf.Tensor3D {
  const { nHeads: H, nKvHeads: Hkv, headDim: Dh } = d;
  const rep = H / Hkv;
  const qs = tf.unstack(tf.mul(q, 1 / Math.sqrt(Dh))) as tf.Tensor2D[]; // B·H × [T, Dh]
  const kts = tf.unstack(tf.transpose(k, [0, 2, 1])) as tf.Tensor2D[]; // B·Hkv × [Dh, S]
  const vs = tf.unstack(v) as tf.Tensor2D[]; // B·Hkv × [S, Dh]
  const kvIndex = (g: number) => Math.floor(g / H) * Hkv + Math.floor((g % H) / rep);
  const scores = tf.stack(qs.map((qg, g) => matmul(qg, kts[kvIndex(g)]))); // [B·H, T, S]
  const probs = tf.unstack(tf.softmax(mask ? tf.add(scores, mask) : scores)) as tf.Tensor2D[]; // B·H × [T, S]
  return tf.stack(probs.map((p, g) => matmul(p, vs[kvIndex(g)]))) as tf.Tensor3D; // [B·H, T, Dh]
}

/** Step state shared by the layers of one cached forward. */
interface StepContext {
  layer: LayerContext;
  /** Offset causal mask [T, P+T] of the new queries, or null for a single new token. */
  mask: tf.Tensor2D | null;
}

/** One attention over h [N, D] with its cached slot: returns the output [N, D] and the extended slot. */
function cachedAttention(h: tf.Tensor2D, w: { wq: tf.Tensor2D; wo: tf.Tensor2D }, kv: KvSlot, s: StepContext): tf.Tensor2D {
  const { dims, rope } = s.layer;
  const q = attentionQueries(h, w.wq, dims, rope); // [B·H, T, Dh]
  return attentionOutput(attendToCache(q, kv.k, kv.v, dims, s.mask), w.wo, dims); // [N, D]
}

/** Keys and values of h for this step, appended to the cached ones along time: [B·Hkv, P+T, Dh] each. */
function extendSlot(h: tf.Tensor2D, wk: tf.Tensor2D, wv: tf.Tensor2D, past: KvSlot | null, s: StepContext): KvSlot {
  const { k, v } = attentionKeyValues(h, wk, wv, s.layer.dims, s.layer.rope); // [B·Hkv, T, Dh]
  if (!past) return { k, v };
  return { k: tf.concat([past.k, k], 1) as tf.Tensor3D, v: tf.concat([past.v, v], 1) as tf.Tensor3D };
}

/** The attention sub-layer with the cache: dense MHA or MoA (full: one slot per expert; kv-shared: one slot). */
function attentionStep(h: tf.Tensor2D, slots: Array<KvSlot | null>, s: StepContext): { output: tf.Tensor2D; slots: KvSlot[] } {
  const ctx = s.layer;
  const p = (name: string) => getParam<tf.Rank.R2>(ctx.params, `layers.${ctx.layer}.${name}`);
  const a = ctx.config.attention;
  if (a.kind === 'dense') {
    const kv = extendSlot(h, p('attn.wk'), p('attn.wv'), slots[0], s);
    return { output: cachedAttention(h, { wq: p('attn.wq'), wo: p('attn.wo') }, kv, s), slots: [kv] };
  }
  // MoA: the same routing as block.ts's attentionLayer (per token; tied to the FFN router if asked).
  const { routing: rc } = ctx.config;
  const tied = rc.tieAttentionToFfn;
  if (tied && ctx.config.ffn.kind === 'moe' && ctx.config.ffn.router.kind === 'hash') {
    throw new BamError(
      'routing.tieAttentionToFfn needs an FFN router with weights, but ffn.router.kind is "hash"',
      'E_CONFIG',
      'use a topk or expert-choice FFN router, or set routing.tieAttentionToFfn to false',
    );
  }
  const part = tied ? 'ffn' : 'attn';
  const wRouter = rc.shareAcrossLayers ? getParam<tf.Rank.R2>(ctx.params, `routers.${part}`) : p(`${part}.router`);
  const routing = attentionRoute(routerLogits(h, wRouter), a.router);
  const [N, D] = h.shape;
  // kv-shared: one K/V per layer, projected once and attended by every expert's queries.
  const shared = a.kvShared ? extendSlot(h, p('attn.wk'), p('attn.wv'), slots[0], s) : null;
  const next: KvSlot[] = shared ? [shared] : [];
  let output = tf.zeros([N, D]) as tf.Tensor2D;
  for (let j = 0; j < a.numExperts; j++) {
    // Full MoA: every expert's K/V is extended each step, whether or not this token uses it,
    // since later tokens may route to it.
    const kv = shared ?? extendSlot(h, p(`attn.experts.${j}.wk`), p(`attn.experts.${j}.wv`), slots[j], s);
    if (!shared) next.push(kv);
    const o = cachedAttention(h, { wq: p(`attn.experts.${j}.wq`), wo: p(`attn.experts.${j}.wo`) }, kv, s); // [N, D]
    const g = tf.slice(routing.gates, [0, j], [N, 1]); // [N, 1]
    output = tf.add(output, tf.mul(o, g)) as tf.Tensor2D; // [N, D]
  }
  return { output, slots: next };
}

/** One block (parallel or sequential, as block.ts) on x [N, D] with the layer's cache slots. */
function blockStep(x: tf.Tensor2D, slots: Array<KvSlot | null>, s: StepContext): { output: tf.Tensor2D; slots: KvSlot[] } {
  const ctx = s.layer;
  const eps = ctx.config.normEps;
  const scale = (name: string) => ({ scale: getParam<tf.Rank.R1>(ctx.params, `layers.${ctx.layer}.${name}`) });
  if (ctx.config.block === 'parallel') {
    const h = rmsNorm(x, scale('norm.scale'), eps); // [N, D]
    const attn = attentionStep(h, slots, s);
    const ffn = ffnLayer(h, ctx);
    return { output: tf.addN([x, attn.output, ffn.output]) as tf.Tensor2D, slots: attn.slots }; // [N, D]
  }
  const attn = attentionStep(rmsNorm(x, scale('norm1.scale'), eps), slots, s);
  const mid = tf.add(x, attn.output) as tf.Tensor2D; // [N, D]
  const ffn = ffnLayer(rmsNorm(mid, scale('norm2.scale'), eps), ctx);
  return { output: tf.add(mid, ffn.output) as tf.Tensor2D, slots: attn.slots }; // [N, D]
}

/**
 * Runs the model on new tokens [B, T] int32 at positions cache.length .. cache.length+T-1,
 * attending to everything cached, and appends their keys and values to `cache` (its old tensors
 * are disposed). Returns the logits [B, T, V] of the new positions, owned by the caller; `tokens`
 * is borrowed. Equals the last T positions of `forward` on the whole sequence (to float error)
 * for configs where `kvCacheSupport(config).ok`; throws a BamError for the others.
 */
export function forwardCached(model: BamModel, tokens: tf.Tensor2D, cache: KvCache): tf.Tensor3D {
  const { config, params } = model;
  checkTokens(config, tokens);
  const support = kvCacheSupport(config);
  if (!support.ok) {
    throw new BamError(`this model cannot decode with a KV cache: ${support.reason}`, 'E_INFERENCE', 'use generate(..., {useCache: false}) or plain forward');
  }
  const [B, T] = tokens.shape;
  const P = cache.length;
  if (B !== cache.batch) {
    throw new BamError(`tokens have batch ${B} but the KV cache was made for ${cache.batch}`, 'E_INFERENCE', 'create one cache per batch of sequences');
  }
  if (P + T > cache.capacity) {
    throw new BamError(
      `${P} cached + ${T} new positions exceed the model's maxSeqLen ${cache.capacity}`,
      'E_SEQ_LEN',
      'shorten the prompt or generate fewer tokens',
    );
  }
  const Dh = headDim(config);
  const result = tf.tidy(() => {
    const embed = getParam<tf.Rank.R2>(params, 'embed.weight');
    let x = embeddingLookup(embed, tf.reshape(tokens, [B * T])) as tf.Tensor2D; // [N, D]
    const rope: RopeTables = {
      cos: tf.slice(cache.rope.cos, [P, 0], [T, Dh / 2]), // [T, Dh/2]
      sin: tf.slice(cache.rope.sin, [P, 0], [T, Dh / 2]), // [T, Dh/2]
    };
    const dims: AttentionDims = { batch: B, seqLen: T, nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: Dh };
    // A single new token sees every cached key: no mask needed.
    const mask = T > 1 ? offsetCausalMask(P, T) : null;
    const layers: KvSlot[][] = [];
    for (let l = 0; l < config.nLayers; l++) {
      const layer: LayerContext = { config, layer: l, dims, rope, tokens, params, collectStats: false };
      const r = blockStep(x, cache.layers[l], { layer, mask });
      x = r.output; // [N, D]
      layers.push(r.slots);
    }
    const h = rmsNorm(x, { scale: getParam<tf.Rank.R1>(params, 'final_norm.scale') }, config.normEps); // [N, D]
    const logits2d = config.tieEmbeddings
      ? matmulBt(h, embed) // [N, V]
      : linear(h, getParam<tf.Rank.R2>(params, 'lm_head.weight')); // [N, V]
    return { logits: tf.reshape(logits2d, [B, T, config.vocabSize]) as tf.Tensor3D, layers }; // [B, T, V]
  });
  for (let l = 0; l < config.nLayers; l++) {
    const old = cache.layers[l];
    if (result.layers[l].length !== old.length) {
      throw new InvariantError(`layer ${l} produced ${result.layers[l].length} KV slots, the cache has ${old.length}`);
    }
    for (const s of old) if (s) tf.dispose([s.k, s.v]);
    cache.layers[l] = result.layers[l];
  }
  cache.length = P + T;
  return result.logits;
}
