/**
 * Analytic FLOPs and parameter counts of dense and mixture models, per the BAM paper's Table 10
 * (Zhang et al. 2024, arXiv:2408.08274) as reconciled with its Table 7 in shared/PAPER.md.
 *
 * Forward FLOPs per token, one layer (d = dModel, n = context length, N = experts, k = FFN top-k,
 * F = SwiGLU hidden width = dFF, so the paper's "FFN dimension" d_ff = 2F; qDim = H·Dh,
 * kvDim = Hkv·Dh, both = d without grouped-query attention):
 *
 *   one attention expert  = 2·d·qDim (Q) + 2·2·d·kvDim (K, V) + 2·n·qDim (scores and weighted sum,
 *                           counted once as in Table 10 / Kaplan et al.) + 2·qDim·d (O)
 *                         = 6·d² + 2·n·d + 2·d²  without GQA (Table 7)
 *   dense / BTX attention = 1 expert
 *   BAM-full (soft)       = N experts
 *   BAM-KV-shared (soft)  = N·(2·d·qDim + 2·n·qDim + 2·qDim·d) + 4·d·kvDim: Q, scores and O per
 *                           expert, K and V projected once (= N·(4d² + 2nd) + 4d² without GQA)
 *   top-k attention       = k experts' Q, scores and O per token, plus K and V of all N experts
 *                           (full) or once (shared): every token's keys may be read by a query
 *                           routed to any expert
 *   one FFN expert        = 3·d·d_ff + 1.5·d_ff = 6·d·F + 3·F (gate, up, down matmuls + the SwiGLU
 *                           element-wise work)
 *   MoE FFN               = k experts (top-k), 1 (hash), capacityFactor (expert-choice, the mean
 *                           number of experts per token)
 *   each router           = 2·N·d (FFN router: top-k and expert-choice; attention router: MoA
 *                           unless tied to the FFN router; per-example routing: 2·N·d / n)
 *
 * Whole model per token = layers · layer + 2·d·V (the LM head); embedding lookups and norms are
 * free, as in the paper. Training ≈ 3 × forward (backward = 2 × forward: gradients w.r.t. both
 * activations and weights), the usual 6·params·tokens rule.
 */
import type { ModelConfig } from '../model/config.ts';
import { BamError } from '../errors.ts';

/** The parts of a model config the accounting reads (a parsed `ModelConfig` satisfies it). */
export type FlopsConfig = Pick<
  ModelConfig,
  'vocabSize' | 'dModel' | 'nHeads' | 'nKvHeads' | 'nLayers' | 'dFF' | 'maxSeqLen' | 'block' | 'tieEmbeddings' | 'attention' | 'ffn' | 'routing'
>;

/** Forward FLOPs per token of one layer, by part. */
export interface LayerFlops {
  attention: number;
  ffn: number;
  /** All routers of the layer (2·N·d each). */
  routers: number;
  /** attention + ffn + routers (the paper's Table 7 "total"). */
  total: number;
}

/** Forward FLOPs per token of the whole model. */
export interface ModelFlops {
  /** Context length n used for the attention scores. */
  contextLength: number;
  perLayer: LayerFlops;
  layers: number;
  /** 2·d·V for the unembedding. */
  lmHead: number;
  /** layers · perLayer.total + lmHead. */
  perToken: number;
}

interface Dims {
  d: number;
  qDim: number;
  kvDim: number;
  F: number;
}

function dims(c: FlopsConfig): Dims {
  const headDim = c.dModel / c.nHeads;
  return { d: c.dModel, qDim: c.nHeads * headDim, kvDim: (c.nKvHeads ?? c.nHeads) * headDim, F: c.dFF };
}

/** Experts a token uses on average in the FFN (k, 1 for hash, capacityFactor for expert-choice). */
function ffnExpertsPerToken(c: FlopsConfig): number {
  if (c.ffn.kind === 'dense') return 1;
  switch (c.ffn.router.kind) {
    case 'topk':
      return c.ffn.router.k;
    case 'hash':
      return 1;
    case 'expert-choice':
      return c.ffn.router.capacityFactor;
  }
}

/**
 * Forward FLOPs per token of one layer (see the module comment for every formula).
 * `contextLength` defaults to `config.maxSeqLen`.
 */
export function layerFlops(c: FlopsConfig, contextLength = c.maxSeqLen): LayerFlops {
  const { d, qDim, kvDim, F } = dims(c);
  const n = contextLength;
  const q = 2 * d * qDim;
  const kv = 2 * 2 * d * kvDim;
  const scores = 2 * n * qDim;
  const o = 2 * qDim * d;
  let attention: number;
  let routerCount = 0;
  let routerExperts = 0;
  if (c.attention.kind === 'dense') {
    attention = q + kv + scores + o;
  } else {
    const N = c.attention.numExperts;
    const used = c.attention.router.kind === 'soft' ? N : c.attention.router.k;
    const kvTotal = c.attention.kvShared ? kv : N * kv;
    attention = used * (q + scores + o) + kvTotal;
    if (!c.routing.tieAttentionToFfn) {
      routerCount += 1;
      routerExperts += N;
    }
  }
  const ffnExpert = 6 * d * F + 3 * F; // = 3·d·d_ff + 1.5·d_ff with d_ff = 2F
  const ffn = ffnExpertsPerToken(c) * ffnExpert;
  if (c.ffn.kind === 'moe' && c.ffn.router.kind !== 'hash') {
    routerCount += 1;
    routerExperts += c.ffn.numExperts;
  }
  const perExampleScale = c.routing.perExample ? 1 / n : 1;
  const routers = routerCount === 0 ? 0 : 2 * routerExperts * d * perExampleScale;
  return { attention, ffn, routers, total: attention + ffn + routers };
}

/** Forward FLOPs per token of the whole model (layers + LM head). */
export function forwardFlops(c: FlopsConfig, contextLength = c.maxSeqLen): ModelFlops {
  const perLayer = layerFlops(c, contextLength);
  const lmHead = 2 * c.dModel * c.vocabSize;
  return { contextLength, perLayer, layers: c.nLayers, lmHead, perToken: c.nLayers * perLayer.total + lmHead };
}

/**
 * Training FLOPs for `tokens` tokens: 3 × forward (the backward pass costs about twice the
 * forward). Use it to give every variant the same compute budget (compute-matched regime).
 */
export function trainingFlops(c: FlopsConfig, tokens: number, contextLength = c.maxSeqLen): number {
  if (!(tokens >= 0)) throw new BamError(`tokens must be ≥ 0, got ${tokens}`, 'E_FLOPS');
  return 3 * forwardFlops(c, contextLength).perToken * tokens;
}

/** Tokens that fit a training FLOPs budget: floor(budget / (3 · forward FLOPs per token)). */
export function tokensForBudget(c: FlopsConfig, budgetFlops: number, contextLength = c.maxSeqLen): number {
  if (!(budgetFlops >= 0)) throw new BamError(`FLOPs budget must be ≥ 0, got ${budgetFlops}`, 'E_FLOPS');
  return Math.floor(budgetFlops / (3 * forwardFlops(c, contextLength).perToken));
}

/** Parameter counts: everything stored (`total`) and what one token uses (`active`). */
export interface ParamCounts {
  total: number;
  /**
   * Parameters one token uses: all attention experts under soft routing, k of them under top-k
   * (plus the shared K, V), k FFN experts (capacityFactor on average for expert-choice), and
   * every router, norm and embedding.
   */
  active: number;
  /** Embedding + LM head (0 extra when tied). */
  embeddings: number;
  /** Scale vectors of all norms (layer norms + final norm). */
  norms: number;
  /** Per layer, attention (all experts / active). */
  attention: { total: number; active: number };
  /** Per layer, FFN (all experts / active). */
  ffn: { total: number; active: number };
  /** All routers of the model (per layer × layers, or once when shared across layers). */
  routers: number;
}

/**
 * Counts parameters from the config (the names and shapes of docs/internals.md: weights without
 * biases, scale-only norms — one per layer for parallel blocks, two for sequential — and a final
 * norm; untied embeddings count V·D twice).
 */
export function paramCounts(c: FlopsConfig): ParamCounts {
  const { d, qDim, kvDim, F } = dims(c);
  const embeddings = c.vocabSize * d * (c.tieEmbeddings ? 1 : 2);
  const norms = d * (c.nLayers * (c.block === 'sequential' ? 2 : 1) + 1);
  const qo = d * qDim + qDim * d;
  const kv = 2 * d * kvDim;
  let attention: { total: number; active: number };
  let routersPerLayer = 0;
  if (c.attention.kind === 'dense') {
    attention = { total: qo + kv, active: qo + kv };
  } else {
    const N = c.attention.numExperts;
    const used = c.attention.router.kind === 'soft' ? N : c.attention.router.k;
    attention = c.attention.kvShared
      ? { total: N * qo + kv, active: used * qo + kv }
      : { total: N * (qo + kv), active: used * (qo + kv) };
    if (!c.routing.tieAttentionToFfn) routersPerLayer += d * N;
  }
  const ffnExpert = 3 * d * F;
  const ffnExperts = c.ffn.kind === 'moe' ? c.ffn.numExperts : 1;
  const ffn = { total: ffnExperts * ffnExpert, active: ffnExpertsPerToken(c) * ffnExpert };
  if (c.ffn.kind === 'moe' && c.ffn.router.kind !== 'hash') routersPerLayer += d * c.ffn.numExperts;
  const routers = c.routing.shareAcrossLayers ? routersPerLayer : routersPerLayer * c.nLayers;
  const fixed = embeddings + norms + routers;
  return {
    total: fixed + c.nLayers * (attention.total + ffn.total),
    active: fixed + c.nLayers * (attention.active + ffn.active),
    embeddings,
    norms,
    attention,
    ffn,
    routers,
  };
}

/** The paper's mixture variants (and `dense`), as named in DESIGN.md and the CLI. */
export const FLOPS_VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared', 'btx-top3-6'] as const;
export type FlopsVariant = (typeof FLOPS_VARIANTS)[number];

/**
 * A dense config turned into one of the paper's variants (a plain object for
 * `parseModelConfig`): `btx` = dense attention + top-k MoE FFN; `bam-full` / `bam-kv-shared` =
 * soft MoA (own / shared K, V) + top-k MoE FFN; `btx-top3-6` = btx with 6 experts, top-3. Experts
 * default to 4 and top-k to 1 (softmax before top-k, the paper's setting).
 */
export function variantConfig<C extends object>(
  base: C,
  variant: FlopsVariant,
  opts: { experts?: number; topK?: number } = {},
): C & { attention: unknown; ffn: unknown } {
  const preset6 = variant === 'btx-top3-6';
  const N = opts.experts ?? (preset6 ? 6 : 4);
  const k = opts.topK ?? (preset6 ? 3 : 1);
  const moe = { kind: 'moe', numExperts: N, router: { kind: 'topk', k, normalize: 'before' } };
  switch (variant) {
    case 'dense':
      return { ...base, attention: { kind: 'dense' }, ffn: { kind: 'dense' } };
    case 'btx':
    case 'btx-top3-6':
      return { ...base, attention: { kind: 'dense' }, ffn: moe };
    case 'bam-full':
    case 'bam-kv-shared':
      return {
        ...base,
        attention: { kind: 'moa', numExperts: N, kvShared: variant === 'bam-kv-shared', router: { kind: 'soft' } },
        ffn: moe,
      };
    default:
      throw new BamError(`unknown variant '${variant as string}'`, 'E_FLOPS', `use one of: ${FLOPS_VARIANTS.join(', ')}`);
  }
}
