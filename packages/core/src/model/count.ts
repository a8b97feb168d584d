/**
 * The one count of a model: parameters (total and active per token) and forward FLOPs per token,
 * both read off the config's parameter specs (`paramSpecs`, addressed by `parseParamName`'s keys),
 * by the BAM paper's Table 10 accounting as reconciled with its Table 7 in docs/paper.md.
 *
 * Every weight matrix a token multiplies by costs 2 FLOPs per parameter. Per token and layer
 * (n = context length, N = experts, k = top-k, F = SwiGLU hidden width = dFF, so the paper's
 * d_ff = 2F):
 *
 *   dense / shared weight   2·size                 (Q, K, V, O of dense attention; the shared K, V of
 *                                                   BAM-KV-shared; the dense FFN)
 *   attention scores        2·n·qDim per query projection used (scores and weighted sum, counted
 *                           once as in Table 10 / Kaplan et al.; qDim = H·Dh, the width of Wq)
 *   attention expert        Wq, Wo and scores: 2·size per expert used (N soft, k top-k); Wk, Wv:
 *                           2·size for every expert (a token's keys may be read by a query routed
 *                           to any expert)
 *   FFN expert              (2·size of W_gate, W_up, W_down + 3·F SwiGLU element-wise work) per
 *                           expert used: k (top-k), 1 (hash), capacityFactor (expert-choice, mean)
 *   router                  2·size = 2·N·d, in every layer (also when shared across layers);
 *                           per-example routing: 2·N·d / n
 *
 * Whole model per token = layers · layer + 2·V·d (the LM head, the embedding matrix when tied);
 * embedding lookups and norms are free, as in the paper. Training ≈ 3 × forward (backward = 2 ×
 * forward: gradients w.r.t. both activations and weights), the usual 6·params·tokens rule.
 *
 * Active parameters: what one token uses — an expert's tensors count by the fraction of experts a
 * token uses (k/N, 1/N for hash, capacityFactor/N for expert-choice; all attention experts under
 * soft routing), everything else (shared K, V, routers, norms, embeddings, head) whole.
 */
import { BamError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import type { BamModel } from './model.ts';
import { paramSpecs } from './params.ts';
import { isExpertKey, parseParamName, type ParamKey } from './param-names.ts';

/** Forward FLOPs per token of one layer, by part. */
export interface LayerFlops {
  attention: number;
  ffn: number;
  /** All routers the layer runs (2·N·d each). */
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

/** Parameter counts: every parameter stored (`total`) and what one token uses (`active`). */
export interface ParamCount {
  total: number;
  active: number;
}

/** Parameter counts with their parts (see the module comment for `active`). */
export interface ParamCounts extends ParamCount {
  /** Embedding + LM head (the head adds nothing when tied). */
  embeddings: number;
  /** Scale vectors of all norms (layer norms + final norm). */
  norms: number;
  /** Per layer, attention (all experts / active). */
  attention: ParamCount;
  /** Per layer, FFN (all experts / active). */
  ffn: ParamCount;
  /** All routers of the model (per layer × layers, or once when shared across layers). */
  routers: number;
}

/** Experts of the part a token uses, and how many there are (1 of 1 for a dense part). */
function expertsUsed(c: ModelConfig, part: 'attn' | 'ffn'): { used: number; of: number } {
  if (part === 'attn') {
    const a = c.attention;
    if (a.kind === 'dense') return { used: 1, of: 1 };
    return { used: a.router.kind === 'soft' ? a.numExperts : a.router.k, of: a.numExperts };
  }
  const f = c.ffn;
  if (f.kind === 'dense') return { used: 1, of: 1 };
  const r = f.router;
  return { used: r.kind === 'topk' ? r.k : r.kind === 'hash' ? 1 : r.capacityFactor, of: f.numExperts };
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** One parameter spec with its key and size. */
interface Counted {
  key: ParamKey;
  shape: number[];
  size: number;
}

function counted(c: ModelConfig): Counted[] {
  return paramSpecs(c).map((s) => ({ key: parseParamName(s.name), shape: s.shape, size: size(s.shape) }));
}

/**
 * Sums that an expert fraction scales: `whole` counts once, `experts` (summed over all N equal
 * experts of the part) as one expert's share times the experts used, (sum / N) · used, which is
 * exact: sum / N is one expert's integer count.
 */
class Tally {
  whole = 0;
  experts = 0;
  add(n: number, expert: boolean): void {
    if (expert) this.experts += n;
    else this.whole += n;
  }
  value({ used, of }: { used: number; of: number }): number {
    return this.whole + (this.experts / of) * used;
  }
}

/**
 * Counts parameters of a config from its parameter specs: `total` (every tensor), `active` (what
 * one token uses, rounded to an integer) and the parts.
 */
export function paramCounts(c: ModelConfig): ParamCounts {
  let embeddings = 0;
  let norms = 0;
  let routers = 0;
  const attn = { total: new Tally(), active: new Tally() };
  const ffn = { total: new Tally(), active: new Tally() };
  for (const { key, size: n } of counted(c)) {
    if (key.part === 'embed' || key.part === 'lm_head') embeddings += n;
    else if (key.part === 'norm' || key.part === 'final_norm') norms += n;
    else if (key.part === 'router') routers += n;
    else if (key.layer === 0) {
      const t = key.part === 'attn' ? attn : ffn;
      t.total.add(n, false);
      t.active.add(n, isExpertKey(key));
    }
  }
  const part = (t: typeof attn, p: 'attn' | 'ffn'): ParamCount => ({ total: t.total.value({ used: 1, of: 1 }), active: t.active.value(expertsUsed(c, p)) });
  const attention = part(attn, 'attn');
  const ffnCount = part(ffn, 'ffn');
  const fixed = embeddings + norms + routers;
  return {
    total: fixed + c.nLayers * (attention.total + ffnCount.total),
    active: Math.round(fixed + c.nLayers * (attention.active + ffnCount.active)),
    embeddings,
    norms,
    attention,
    ffn: ffnCount,
    routers,
  };
}

/**
 * Parameter counts of a model or a config: `total`, and `active` (see `paramCounts`). For a model,
 * `total` is the sum of its actual tensors' sizes (a model built from tensors may lack some).
 */
export function countParams(modelOrConfig: BamModel | ModelConfig): ParamCount {
  const fromConfig = paramCounts('params' in modelOrConfig ? modelOrConfig.config : modelOrConfig);
  if (!('params' in modelOrConfig)) return { total: fromConfig.total, active: fromConfig.active };
  let total = 0;
  for (const v of modelOrConfig.params.values()) total += v.size;
  return { total, active: fromConfig.active - (fromConfig.total - total) };
}

/**
 * Forward FLOPs per token of one layer (see the module comment for every term).
 * `contextLength` defaults to `config.maxSeqLen`.
 */
export function layerFlops(c: ModelConfig, contextLength = c.maxSeqLen): LayerFlops {
  const n = contextLength;
  const attention = new Tally();
  const ffn = new Tally();
  let routerParams = 0;
  for (const { key, shape, size: s } of counted(c)) {
    if (key.part === 'router') {
      // A router shared by all layers runs in each of them: count it in every layer.
      if (key.layer === undefined || key.layer === 0) routerParams += s;
    } else if ((key.part === 'attn' || key.part === 'ffn') && key.layer === 0) {
      const expert = isExpertKey(key);
      // A matrix costs a multiply and an add per parameter; a bias (imported models) one add.
      const perParam = shape.length === 1 ? 1 : 2;
      if (key.part === 'attn') {
        // Every expert's K and V are computed for every token; Q, O and the scores only for the experts used.
        const perUse = key.weight === 'wq' || key.weight === 'wo';
        attention.add(perParam * s, expert && perUse);
        if (key.weight === 'wq') attention.add(2 * n * shape[1], expert); // scores and weighted sum over qDim
      } else {
        ffn.add(perParam * s, expert);
        if (key.weight === 'w_gate') ffn.add(3 * shape[1], expert); // SwiGLU element-wise work over F
      }
    }
  }
  const perExampleScale = c.routing.perExample ? 1 / n : 1;
  const routers = 2 * routerParams * perExampleScale;
  const a = attention.value(expertsUsed(c, 'attn'));
  const f = ffn.value(expertsUsed(c, 'ffn'));
  return { attention: a, ffn: f, routers, total: a + f + routers };
}

/** Forward FLOPs per token of the whole model (layers + LM head). */
export function forwardFlops(c: ModelConfig, contextLength = c.maxSeqLen): ModelFlops {
  const perLayer = layerFlops(c, contextLength);
  const lmHead = 2 * c.dModel * c.vocabSize;
  return { contextLength, perLayer, layers: c.nLayers, lmHead, perToken: c.nLayers * perLayer.total + lmHead };
}

/**
 * Training FLOPs for `tokens` tokens: 3 × forward (the backward pass costs about twice the
 * forward). Use it to give every variant the same compute budget (compute-matched regime).
 */
export function trainingFlops(c: ModelConfig, tokens: number, contextLength = c.maxSeqLen): number {
  if (!(tokens >= 0)) throw new BamError(`tokens must be ≥ 0, got ${tokens}`, 'E_FLOPS', 'pass a token count ≥ 0');
  return 3 * forwardFlops(c, contextLength).perToken * tokens;
}
