/**
 * One transformer block: the single place that chooses dense or mixture layers.
 *
 * Parallel block (the BAM paper's seed, §3; PaLM / GPT-J): one scale-only norm shared by both
 * branches, y = x + Attn(h) + FFN(h) with h = Norm(x).
 * Sequential block (for ablations): y' = x + Attn(Norm1(x)); y = y' + FFN(Norm2(y')).
 * Parallel block with separate norms (GPT-NeoX's use_parallel_residual; `parallelNorms:
 * 'separate'`): y = x + Attn(Norm1(x)) + FFN(Norm2(x)).
 *
 * Every layer returns `{ output, aux, stats }` (docs/style.md): `aux` carries router losses (null for
 * dense layers), `stats` routing statistics; the model sums the aux over layers.
 */
import * as tf from '@tensorflow/tfjs';
import { InvariantError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import { paramName, type AttnWeight, type FfnWeight, type LayerParamKey, type NormWeight, type ParamKey } from './param-names.ts';
import { attentionFromProjections, multiHeadAttention, type AttentionDims, type RopeTables } from './attention.ts';
import { ffnForward, ffnWeightNames, swigluFromProjections, type AnyFfnWeights, type FfnWeights } from './ffn.ts';
import type { LayerKv } from './kv-cache.ts';
import { applyNorm, type NormWeights } from './norm.ts';
import { linear, opsSettings } from '../ops/index.ts';
import {
  attentionRoute,
  ffnRoute,
  moaFused,
  moeFfn,
  perExampleLogits,
  routerLogits,
  routingStatTensors,
  type ExpertFn,
  type MoaWeights,
} from '../mixture/index.ts';

/** Router losses of one layer, unweighted (the model applies α and β). */
export interface LayerAux {
  loadBalance: tf.Scalar;
  zLoss: tf.Scalar;
}

/** What every layer returns. Tensors belong to the enclosing forward's tidy. */
export interface LayerResult {
  output: tf.Tensor2D; // [N, D]
  aux: LayerAux | null;
  /** Routing statistics (e.g. expert load), keyed by a short name; the model prefixes the layer. */
  stats?: Record<string, tf.Tensor>;
}

/** Everything a layer may need besides its input. */
export interface LayerContext {
  config: ModelConfig;
  layer: number;
  dims: AttentionDims;
  rope: RopeTables;
  /** The input token ids [B, T] int32 (hash routing). */
  tokens: tf.Tensor2D;
  /** All model parameters, by full name (docs/internals.md). */
  params: Map<string, tf.Variable>;
  /** Whether layers should return routing statistics. */
  collectStats: boolean;
  /**
   * The layer's KV cache when the forward has one: the tokens are then the new ones (dims.seqLen
   * of them, at the positions of `rope`) and attention reads and extends the cached keys and
   * values. Absent in training.
   */
  kv?: LayerKv;
}

/** The parameter of `key` (see param-names.ts), or an InvariantError naming it. */
export function getParam<R extends tf.Rank = tf.Rank>(params: Map<string, tf.Variable>, key: ParamKey): tf.Variable<R> {
  const name = paramName(key);
  const p = params.get(name);
  if (!p) throw new InvariantError(`model has no parameter '${name}' (its params were not built from its config)`);
  return p as tf.Variable<R>;
}

/** The parameter of `key` in the context's layer. */
export function layerParam<R extends tf.Rank = tf.Rank>(ctx: LayerContext, key: LayerParamKey): tf.Variable<R> {
  return getParam<R>(ctx.params, { ...key, layer: ctx.layer } as ParamKey);
}

/** The weights of a norm (`layers.{l}.{norm|norm1|norm2}` or `final_norm`): its scale, and its bias for LayerNorm. */
export function normWeights(params: Map<string, tf.Variable>, key: Extract<ParamKey, { part: 'norm' | 'final_norm' }>): NormWeights {
  const scale = getParam<tf.Rank.R1>(params, key);
  const bias = params.get(paramName({ ...key, bias: true })) as tf.Variable<tf.Rank.R1> | undefined;
  return bias ? { scale, bias } : { scale };
}

/** The layer's norm `weight` applied to x [N, D] under the config's `norm`. */
function layerNorm(x: tf.Tensor2D, ctx: LayerContext, weight: NormWeight): tf.Tensor2D {
  return applyNorm(x, normWeights(ctx.params, { part: 'norm', layer: ctx.layer, weight }), ctx.config.norm, ctx.config.normEps); // [N, D]
}

/** The weights of the layer's dense FFN or of expert `expert`, per the config's `mlp` and `ffnBias`. */
function ffnWeights(ctx: LayerContext, expert?: number): AnyFfnWeights {
  const w: Partial<Record<FfnWeight, tf.Variable>> = {};
  for (const weight of ffnWeightNames(ctx.config)) w[weight] = layerParam(ctx, { part: 'ffn', expert, weight });
  return w as unknown as AnyFfnWeights;
}

/**
 * Router logits [N, E] of h for the `ffn` or `attn` router: the layer's own router
 * (`layers.{l}.{part}.router`) or the one shared by all layers (`routers.{part}`), per token or,
 * with `routing.perExample`, from the mean of each example's first prefixTokens hidden states
 * (capped at the batch's T).
 */
function mixtureLogits(h: tf.Tensor2D, ctx: LayerContext, part: 'ffn' | 'attn'): tf.Tensor2D {
  const { routing } = ctx.config;
  const w = getParam<tf.Rank.R2>(ctx.params, { part: 'router', of: part, layer: routing.shareAcrossLayers ? undefined : ctx.layer });
  if (!routing.perExample) return routerLogits(h, w); // [N, E]
  const { batch, seqLen } = ctx.dims;
  return perExampleLogits(h, w, { batch, seqLen, prefixTokens: Math.min(routing.perExample.prefixTokens, seqLen) }); // [N, E]
}

/** The attention sub-layer of h [N, D] (already normed): dense MHA, or a mixture of attentions. */
export function attentionLayer(h: tf.Tensor2D, ctx: LayerContext): LayerResult {
  const a = ctx.config.attention;
  switch (a.kind) {
    case 'dense':
      return {
        output: multiHeadAttention(
          h,
          {
            wq: layerParam(ctx, { part: 'attn', weight: 'wq' }),
            wk: layerParam(ctx, { part: 'attn', weight: 'wk' }),
            wv: layerParam(ctx, { part: 'attn', weight: 'wv' }),
            wo: layerParam(ctx, { part: 'attn', weight: 'wo' }),
            ...(ctx.config.qkvBias
              ? { bq: layerParam(ctx, { part: 'attn', weight: 'bq' }), bk: layerParam(ctx, { part: 'attn', weight: 'bk' }), bv: layerParam(ctx, { part: 'attn', weight: 'bv' }) }
              : {}),
            ...(ctx.config.attnOutBias ? { bo: layerParam(ctx, { part: 'attn', weight: 'bo' }) } : {}),
          },
          ctx.dims,
          ctx.rope,
          ctx.kv,
        ),
        aux: null,
      };
    case 'moa': {
      // Tied: the attention mixture routes by the FFN router's logits; its losses are the FFN's
      // (the config's validation ensures that router has weights: model/config.ts).
      const tied = ctx.config.routing.tieAttentionToFfn;
      const routing = attentionRoute(mixtureLogits(h, ctx, tied ? 'ffn' : 'attn'), a.router);
      const expert = (e: number, weight: AttnWeight) => layerParam<tf.Rank.R2>(ctx, { part: 'attn', expert: e, weight });
      const ids = Array.from({ length: a.numExperts }, (_, e) => e);
      const weights: MoaWeights = a.kvShared
        ? {
            kind: 'kv-shared',
            wk: layerParam(ctx, { part: 'attn', weight: 'wk' }),
            wv: layerParam(ctx, { part: 'attn', weight: 'wv' }),
            experts: ids.map((e) => ({ wq: expert(e, 'wq'), wo: expert(e, 'wo') })),
          }
        : { kind: 'full', experts: ids.map((e) => ({ wq: expert(e, 'wq'), wk: expert(e, 'wk'), wv: expert(e, 'wv'), wo: expert(e, 'wo') })) };
      const { output, aux } = moaFused(h, weights, routing, ctx.dims, ctx.rope, ctx.kv);
      return { output, aux: tied ? null : aux, stats: ctx.collectStats ? routingStatTensors(routing, 'attn') : undefined };
    }
  }
}

/** The FFN sub-layer of h [N, D] (already normed): dense (SwiGLU, or the config's `mlp`), or a mixture of experts. */
export function ffnLayer(h: tf.Tensor2D, ctx: LayerContext): LayerResult {
  const f = ctx.config.ffn;
  switch (f.kind) {
    case 'dense':
      return { output: ffnForward(h, ffnWeights(ctx), ctx.config.mlp), aux: null };
    case 'moe': {
      const weights = Array.from({ length: f.numExperts }, (_, e) => ffnWeights(ctx, e));
      const experts: ExpertFn[] = weights.map((w) => (x: tf.Tensor2D) => ffnForward(x, w, ctx.config.mlp));
      // Bias-free SwiGLU experts (the paper's) can run their products grouped (mixture/moe-ffn.ts).
      const swiglus = (ctx.config.mlp ?? 'swiglu') === 'swiglu' && !ctx.config.ffnBias ? (weights as FfnWeights[]) : undefined;
      // Hash routing reads the token ids (the same fixed hash in every layer); the others a router.
      const routing =
        f.router.kind === 'hash'
          ? ffnRoute(f.router, { tokenIds: ctx.tokens, numExperts: f.numExperts })
          : ffnRoute(f.router, { logits: mixtureLogits(h, ctx, 'ffn') });
      const { output, aux } = moeFfn(h, experts, routing, swiglus);
      return { output, aux, stats: ctx.collectStats ? routingStatTensors(routing, 'ffn') : undefined };
    }
  }
}

function sumAux(a: LayerAux | null, b: LayerAux | null): LayerAux | null {
  if (!a) return b;
  if (!b) return a;
  return { loadBalance: tf.add(a.loadBalance, b.loadBalance), zLoss: tf.add(a.zLoss, b.zLoss) };
}

function mergeStats(attn: LayerResult, ffn: LayerResult): Record<string, tf.Tensor> | undefined {
  if (!attn.stats && !ffn.stats) return undefined;
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(attn.stats ?? {})) out[`attn.${k}`] = v;
  for (const [k, v] of Object.entries(ffn.stats ?? {})) out[`ffn.${k}`] = v;
  return out;
}

/**
 * The dense parallel block's sub-layers from ONE product: h·[Wq | Wk | Wv | Wgate | Wup], split
 * into the five projections (PaLM §2: the parallel form lets the input matrices fuse). Same
 * function as attentionLayer + ffnLayer, to float32 rounding. Off by default
 * (`opsSettings().parallelProjections`): slower than five products on OpenBLAS.
 */
function fusedDenseSubLayers(h: tf.Tensor2D, ctx: LayerContext): tf.Tensor2D[] {
  const a = (weight: AttnWeight) => layerParam<tf.Rank.R2>(ctx, { part: 'attn', weight });
  const f = (weight: FfnWeight) => layerParam<tf.Rank.R2>(ctx, { part: 'ffn', weight });
  const parts = [a('wq'), a('wk'), a('wv'), f('w_gate'), f('w_up')];
  const proj = linear(h, tf.concat(parts, 1) as tf.Tensor2D); // [N, H·Dh + 2·Hkv·Dh + 2F]
  const [q, k, v, gate, up] = tf.split(proj, parts.map((p) => p.shape[1]), 1) as tf.Tensor2D[];
  return [attentionFromProjections(q, k, v, a('wo'), ctx.dims, ctx.rope, ctx.kv), swigluFromProjections(gate, up, f('w_down'))];
}

/** Whether the config is the paper's dense parallel block, whose projections `fusedDenseSubLayers` may fuse. */
function fusable(c: ModelConfig): boolean {
  return c.attention.kind === 'dense' && c.ffn.kind === 'dense' && (c.mlp ?? 'swiglu') === 'swiglu' && !c.qkvBias && !c.attnOutBias && !c.ffnBias;
}

/** One block on x [N, D] → [N, D] (residual stream), parallel or sequential per the config. */
export function block(x: tf.Tensor2D, ctx: LayerContext): LayerResult {
  if (ctx.config.block === 'parallel') {
    const separate = ctx.config.parallelNorms === 'separate';
    const h = layerNorm(x, ctx, separate ? 'norm1' : 'norm'); // [N, D]
    if (!separate && fusable(ctx.config) && opsSettings().parallelProjections === 'fused') {
      return { output: tf.addN([x, ...fusedDenseSubLayers(h, ctx)]) as tf.Tensor2D, aux: null }; // [N, D]
    }
    const attn = attentionLayer(h, ctx);
    const ffn = ffnLayer(separate ? layerNorm(x, ctx, 'norm2') : h, ctx);
    return {
      output: tf.addN([x, attn.output, ffn.output]) as tf.Tensor2D, // [N, D]
      aux: sumAux(attn.aux, ffn.aux),
      stats: mergeStats(attn, ffn),
    };
  }
  const attn = attentionLayer(layerNorm(x, ctx, 'norm1'), ctx);
  const mid = tf.add(x, attn.output) as tf.Tensor2D; // [N, D]
  const ffn = ffnLayer(layerNorm(mid, ctx, 'norm2'), ctx);
  return {
    output: tf.add(mid, ffn.output) as tf.Tensor2D, // [N, D]
    aux: sumAux(attn.aux, ffn.aux),
    stats: mergeStats(attn, ffn),
  };
}
