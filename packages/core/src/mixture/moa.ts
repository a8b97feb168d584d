/**
 * Mixture of attention experts (MoA), BAM paper §3.2 (Zhang et al. 2024, arXiv:2408.08274):
 *
 *     g(h) = softmax(h · W_attn_router)        MoA(h) = Σ_j g_j(h) · MHA_j(h)
 *
 * Two parameterisations (the paper's BAM "expert KV" and "KV shared"):
 * - `full`: each expert j has its own Wq, Wk, Wv, Wo (upcycled from dense model j).
 * - `kv-shared`: each expert has its own Wq, Wo; ONE Wk, Wv is shared by all experts, so K and V
 *   are projected once per layer and reused by every expert (the weights have a single owner in
 *   the model's param map: `layers.{l}.attn.wk|wv`).
 *
 * Routing comes from outside (a `Routing` from `softRoute` or `attentionRoute`), so it can be
 * tied to the FFN router. With top-k attention routing only the experts chosen by at least one
 * token run; a chosen expert still runs over the whole sequence, since every token's query
 * attends to all earlier keys of that expert.
 *
 * The attention core is injected (`AttentionCore`: query / key-value projections with RoPE and
 * head split, the causal attention, the output projection), so the dense model's attention
 * (model/attention.ts, adapted by `modelAttentionCore`) is reused unchanged: a MoA of identical
 * experts equals the dense attention for any router whose weights sum to 1.
 *
 * `moaFused` is the model's fast path for the same layer: the active experts' projections are
 * concatenated into one product each (h·[Wq_1 … Wq_n], and K, V likewise unless shared), all
 * (batch, expert, head) groups go through ONE attention op (ops/attention.ts), and the gated sum
 * Σ_j g_j·(o_j·Wo_j) is one product [g_1·o_1 … g_n·o_n]·[Wo_1; …; Wo_n]. Same arithmetic, a
 * fraction of the ops; `moa` (the per-expert loop) stays as the reference the tests compare with.
 *
 * With a KV cache (model/kv-cache.ts) `moaFused` runs on the new tokens only: kv-shared extends
 * the layer's one K/V slot, full MoA one slot per expert, every expert each step (a later token
 * may route to an expert no token uses now, and then needs its keys of every earlier position).
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../errors.ts';
import { syncReadsAvailable } from '../backend/webgpu-reads.ts';
import {
  attentionKeyValues,
  attentionOutput,
  attentionQueries,
  causalAttention,
  causalMask,
  kvHeadOf,
  type AttentionDims,
  type RopeTables,
} from '../model/attention.ts';
import type { KvSlot, LayerKv } from '../model/kv-cache.ts';
import { groupedCausalAttention, linear, opsSettings } from '../ops/index.ts';
import { routerLosses } from './losses.ts';
import type { MixtureResult } from './moe-ffn.ts';
import type { Routing } from './routers/types.ts';

/**
 * The pieces of one attention, in whatever per-head layout the core uses (the model's is
 * [B·H, T, Dh], RoPE applied to queries and keys). h is [N = B·T, D], rows example-major.
 */
export interface AttentionCore {
  /** Projected (and rotated) queries of h. */
  queries(h: tf.Tensor2D, wq: tf.Tensor2D): tf.Tensor;
  /** Projected (and rotated) keys and the values of h; computed once per layer when K, V are shared. */
  keyValues(h: tf.Tensor2D, wk: tf.Tensor2D, wv: tf.Tensor2D): { k: tf.Tensor; v: tf.Tensor };
  /** Causal attention of the queries over the keys and values (per head). */
  attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor;
  /** Merges heads and projects with Wo → [N, D]. */
  output(o: tf.Tensor, wo: tf.Tensor2D): tf.Tensor2D;
}

/**
 * The dense model's attention (model/attention.ts: RoPE, GQA, causal softmax as 2-D matmuls) as an
 * `AttentionCore` for sequences of the given dims.
 */
export function modelAttentionCore(dims: AttentionDims, rope: RopeTables): AttentionCore {
  return {
    queries: (h, wq) => attentionQueries(h, wq, dims, rope), // [B·H, T, Dh]
    keyValues: (h, wk, wv) => attentionKeyValues(h, wk, wv, dims, rope), // [B·Hkv, T, Dh] each
    attend: (q, k, v) => causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, dims), // [B·H, T, Dh]
    output: (o, wo) => attentionOutput(o as tf.Tensor3D, wo, dims), // [N, D]
  };
}

/** Weights of one full attention expert (stored [in, out]). */
export interface AttentionExpertWeights {
  wq: tf.Tensor2D; // [D, H·Dh]
  wk: tf.Tensor2D; // [D, Hkv·Dh]
  wv: tf.Tensor2D; // [D, Hkv·Dh]
  wo: tf.Tensor2D; // [H·Dh, D]
}

/** The weights of a MoA layer; borrowed (the model's param map owns them). */
export type MoaWeights =
  | { kind: 'full'; experts: AttentionExpertWeights[] }
  | {
      kind: 'kv-shared';
      /** The one key projection of all experts [D, Hkv·Dh]. */
      wk: tf.Tensor2D;
      /** The one value projection of all experts [D, Hkv·Dh]. */
      wv: tf.Tensor2D;
      experts: Array<{ wq: tf.Tensor2D; wo: tf.Tensor2D }>;
    };

/** Experts that at least one token uses (all of them for soft routing; one sync read otherwise). */
function activeExperts(routing: Routing, E: number): number[] {
  // webgpu cannot read the mask synchronously: run every expert (unused ones have zero gates).
  if (routing.kind === 'soft' || !syncReadsAvailable()) return Array.from({ length: E }, (_, j) => j);
  const used = tf.tidy(() => tf.sum(routing.mask, 0));
  const u = used.dataSync(); // [E]
  used.dispose();
  const out: number[] = [];
  for (let j = 0; j < E; j++) if (u[j] > 0) out.push(j);
  return out;
}

/**
 * MoA forward: h [N, D] (N = B·T rows, example-major), the weights of E experts, a `Routing` over
 * E, and the attention core. Returns `{output [N, D], aux}` (aux = the router losses of
 * `routing`), owned by the caller; arguments are borrowed.
 */
export function moa(h: tf.Tensor2D, weights: MoaWeights, routing: Routing, core: AttentionCore): MixtureResult {
  if (h.rank !== 2) throw new ShapeError('MoA input h', [-1, -1], h.shape, 'moa');
  const [N, D] = h.shape;
  const E = weights.experts.length;
  if (E < 1) throw new BamError('moa needs at least one attention expert', 'E_MIXTURE', 'pass the attention experts of this layer');
  if (routing.gates.shape[0] !== N || routing.gates.shape[1] !== E) {
    throw new ShapeError('attention routing gates', [N, E], routing.gates.shape, 'moa');
  }
  return tf.tidy(() => {
    // kv-shared: K (rotated) and V once per layer, reused by every expert.
    const shared = weights.kind === 'kv-shared' ? core.keyValues(h, weights.wk, weights.wv) : null;
    let output = tf.zeros([N, D]) as tf.Tensor2D;
    for (const j of activeExperts(routing, E)) {
      const w = weights.experts[j];
      const q = core.queries(h, w.wq);
      const { k, v } = shared ?? core.keyValues(h, (w as AttentionExpertWeights).wk, (w as AttentionExpertWeights).wv);
      const o = core.output(core.attend(q, k, v), w.wo); // [N, D]
      if (o.shape[0] !== N || o.shape[1] !== D) throw new ShapeError(`attention expert ${j} output`, [N, D], o.shape, 'moa');
      const g = tf.slice(routing.gates, [0, j], [N, 1]); // [N, 1]
      output = tf.add(output, tf.mul(o, g)) as tf.Tensor2D; // [N, D]
    }
    return { output, aux: routerLosses(routing) };
  });
}

/**
 * Full MoA with a cache: the new keys (or values) of all E experts [B·E·Hkv, T, Dh] (group
 * b·E·Hkv + e·Hkv + j) go into the experts' slots [B·Hkv, T, Dh] each, and the extended slots
 * come back in the same layout, [B·E·Hkv, P+T, Dh].
 */
function extendExpertKv(k: tf.Tensor3D, v: tf.Tensor3D, E: number, dims: AttentionDims, kv: LayerKv): KvSlot {
  const { batch: B, seqLen: T, nKvHeads: Hkv, headDim: Dh } = dims;
  const perExpert = (x: tf.Tensor3D) =>
    tf.split(tf.reshape(x, [B, E, Hkv * T * Dh]), E, 1).map((p) => tf.reshape(p, [B * Hkv, T, Dh]) as tf.Tensor3D); // E × [B·Hkv, T, Dh]
  const ks = perExpert(k);
  const vs = perExpert(v);
  const slots = ks.map((ke, e) => kv.update(e, { k: ke, v: vs[e] })); // E × [B·Hkv, S, Dh]
  const S = slots[0].k.shape[1];
  const join = (xs: tf.Tensor3D[]) =>
    tf.reshape(tf.concat(xs.map((x) => tf.reshape(x, [B, 1, Hkv * S * Dh])), 1), [B * E * Hkv, S, Dh]) as tf.Tensor3D; // [B·E·Hkv, S, Dh]
  return { k: join(slots.map((s) => s.k)), v: join(slots.map((s) => s.v)) };
}

/**
 * The MoA layer of the model, fused (see the module comment): h [N, D] (N = B·T rows,
 * example-major), the weights of E experts, a `Routing` over E, and the model's attention dims
 * and RoPE tables. Equal to `moa(h, weights, routing, modelAttentionCore(dims, rope))` up to float
 * rounding, which it delegates to when `opsSettings().attention` is not `fused` and no cache is
 * given. With `kv`, h holds the new tokens, whose keys and values extend the cache's slots, and
 * the queries attend to every cached position too. Returns `{output [N, D], aux}` owned by the
 * caller; arguments are borrowed.
 */
export function moaFused(h: tf.Tensor2D, weights: MoaWeights, routing: Routing, dims: AttentionDims, rope: RopeTables, kv?: LayerKv): MixtureResult {
  if (!kv && opsSettings().attention !== 'fused') return moa(h, weights, routing, modelAttentionCore(dims, rope));
  if (h.rank !== 2) throw new ShapeError('MoA input h', [-1, -1], h.shape, 'moaFused');
  const [N, D] = h.shape;
  const E = weights.experts.length;
  if (E < 1) throw new BamError('moa needs at least one attention expert', 'E_MIXTURE', 'pass the attention experts of this layer');
  if (routing.gates.shape[0] !== N || routing.gates.shape[1] !== E) {
    throw new ShapeError('attention routing gates', [N, E], routing.gates.shape, 'moaFused');
  }
  return tf.tidy(() => {
    const { batch: B, seqLen: T, nHeads: H, nKvHeads: Hkv, headDim: Dh } = dims;
    // With a cache every expert runs: its K/V must cover every position (see the module comment).
    const active = kv ? Array.from({ length: E }, (_, j) => j) : activeExperts(routing, E);
    const n = active.length;
    const cat = (ws: tf.Tensor2D[], axis: number) => (ws.length === 1 ? ws[0] : (tf.concat(ws, axis) as tf.Tensor2D));
    // Queries of all active experts: group g = b·(n·H) + i·H + head, for the i-th active expert.
    const q = attentionQueries(h, cat(active.map((j) => weights.experts[j].wq), 1), { ...dims, nHeads: n * H }, rope); // [B·n·H, T, Dh]
    let k: tf.Tensor3D;
    let v: tf.Tensor3D;
    let kvOf: number[];
    if (weights.kind === 'kv-shared') {
      ({ k, v } = attentionKeyValues(h, weights.wk, weights.wv, dims, rope)); // [B·Hkv, T, Dh]
      if (kv) ({ k, v } = kv.update(0, { k, v })); // [B·Hkv, P+T, Dh]
      // Head h of every expert of example b reads the shared head of (b, h).
      kvOf = Array.from({ length: B * n * H }, (_, g) => kvHeadOf(Math.floor(g / (n * H)) * H + (g % H), H, Hkv));
    } else {
      const ex = active.map((j) => weights.experts[j] as AttentionExpertWeights);
      const kvDims = { ...dims, nKvHeads: n * Hkv };
      ({ k, v } = attentionKeyValues(h, cat(ex.map((w) => w.wk), 1), cat(ex.map((w) => w.wv), 1), kvDims, rope)); // [B·n·Hkv, T, Dh]
      if (kv) ({ k, v } = extendExpertKv(k, v, n, dims, kv)); // [B·n·Hkv, P+T, Dh]
      // (example b, expert i) is one "example" of H query heads over its own Hkv heads.
      kvOf = Array.from({ length: B * n * H }, (_, g) => kvHeadOf(g, H, Hkv));
    }
    const o = groupedCausalAttention(q, k, v, { kvOf, scale: 1 / Math.sqrt(Dh), mask: causalMask(T, k.shape[1]) }); // [B·n·H, T, Dh]
    const merged = tf.reshape(tf.transpose(tf.reshape(o, [B, n * H, T, Dh]), [0, 2, 1, 3]), [N, n, H * Dh]); // [N, n, H·Dh]
    const gates = n === E ? routing.gates : (tf.gather(routing.gates, tf.tensor1d(active, 'int32'), 1) as tf.Tensor2D); // [N, n]
    const gated = tf.reshape(tf.mul(merged, tf.reshape(gates, [N, n, 1])), [N, n * H * Dh]) as tf.Tensor2D; // [N, n·H·Dh]
    const output = linear(gated, cat(active.map((j) => weights.experts[j].wo), 0)); // [N, D]
    if (output.shape[1] !== D) throw new ShapeError('MoA output', [N, D], output.shape, 'moaFused');
    return { output, aux: routerLosses(routing) };
  });
}
