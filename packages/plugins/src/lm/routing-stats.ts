/**
 * Routing statistics of token sequences through a @bam/core mixture, as the plain numbers of
 * @bam/eval's `RoutingStatsResult` (the routing analysis the BAM paper leaves open: what the soft
 * attention router and the FFN router decide, per layer).
 *
 * A sequence longer than the model reads at once is cut into disjoint chunks of at most
 * `maxLength` tokens, each routed as its own example (batch of one, so no padding enters the
 * statistics and per-example routing sees each chunk's own first tokens). Per chunk, core's
 * `forward(..., { collectStats: true })` gives the in-graph statistics and `readRoutingStats`
 * reads them; chunks are then combined weighted by their tokens. The top-1 share is counted from
 * the per-token top experts (`layers.{l}.{ffn,attn}.topExpert`), so it sums to 1 even when the
 * FFN router picks k > 1 experts (core's `tokenFraction`, here `load`, sums to k).
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, forward, readRoutingStats, type BamModel, type ModelConfig } from '@bam/core';
import type { AttentionRoutingReport, FfnRoutingReport, LayerRoutingReport, RoutingStatsResult } from '@bam/eval';

/** True when the config routes anything (a mixture of attention or of FFN experts). */
export function hasRouters(config: ModelConfig): boolean {
  return config.attention.kind === 'moa' || config.ffn.kind === 'moe';
}

/** What one chunk's forward says about one layer, before chunks are combined. */
interface ChunkLayer {
  tokens: number;
  ffn?: { load: number[]; meanGate: number[]; entropy: number; top: number[] };
  attn?: { meanWeight: number[]; entropy: number; top: number[] };
}

async function routeChunk(model: BamModel, ids: readonly number[]): Promise<Map<number, ChunkLayer>> {
  const input = tf.tensor2d([...ids], [1, ids.length], 'int32'); // [B=1, T]
  const out = forward(model, input, { collectStats: true });
  try {
    const stats = out.stats ?? {};
    const layers = await readRoutingStats(stats);
    const result = new Map<number, ChunkLayer>();
    for (const s of layers) {
      const top = async (part: 'ffn' | 'attn'): Promise<number[]> => Array.from(await stats[`layers.${s.layer}.${part}.topExpert`].data());
      const c: ChunkLayer = { tokens: ids.length };
      if (s.ffn) c.ffn = { load: s.ffn.tokenFraction, meanGate: s.ffn.meanGate, entropy: s.ffn.entropy, top: await top('ffn') };
      if (s.attn) c.attn = { meanWeight: s.attn.meanWeight, entropy: s.attn.entropy, top: await top('attn') };
      result.set(s.layer, c);
    }
    return result;
  } finally {
    tf.dispose([input, out.logits, out.aux.loadBalance, out.aux.zLoss, ...Object.values(out.stats ?? {})]);
  }
}

const ratio = (entropy: number, experts: number): number => (experts > 1 ? entropy / Math.log(experts) : 0);

function combineFfn(chunks: ChunkLayer[]): FfnRoutingReport | undefined {
  const parts = chunks.filter((c) => c.ffn);
  if (parts.length === 0) return undefined;
  const E = parts[0].ffn!.load.length;
  const N = parts.reduce((a, c) => a + c.tokens, 0);
  const topExpert = parts.flatMap((c) => c.ffn!.top);
  const counts = new Array<number>(E).fill(0);
  for (const e of topExpert) counts[e]++;
  const topShare = counts.map((n) => n / N);
  const routed = new Array<number>(E).fill(0); // tokens processed by e, summed over chunks
  const gateSum = new Array<number>(E).fill(0);
  let entropy = 0;
  for (const c of parts) {
    for (let e = 0; e < E; e++) {
      const n = c.ffn!.load[e] * c.tokens;
      routed[e] += n;
      gateSum[e] += c.ffn!.meanGate[e] * n;
    }
    entropy += c.ffn!.entropy * c.tokens;
  }
  entropy /= N;
  return {
    topShare,
    load: routed.map((n) => n / N),
    meanGate: gateSum.map((g, e) => (routed[e] > 0 ? g / routed[e] : 0)),
    entropy,
    entropyRatio: ratio(entropy, E),
    topExpert,
  };
}

function combineAttn(chunks: ChunkLayer[]): AttentionRoutingReport | undefined {
  const parts = chunks.filter((c) => c.attn);
  if (parts.length === 0) return undefined;
  const E = parts[0].attn!.meanWeight.length;
  const N = parts.reduce((a, c) => a + c.tokens, 0);
  const meanWeight = new Array<number>(E).fill(0);
  let entropy = 0;
  for (const c of parts) {
    for (let e = 0; e < E; e++) meanWeight[e] += (c.attn!.meanWeight[e] * c.tokens) / N;
    entropy += (c.attn!.entropy * c.tokens) / N;
  }
  return { meanWeight, entropy, entropyRatio: ratio(entropy, E), topExpert: parts.flatMap((c) => c.attn!.top) };
}

/**
 * Routes `ids` (the token ids the model reads, e.g. a document-start token then the text's
 * tokens) through `model` (borrowed) in chunks of at most `maxLength`, and returns, per layer,
 * the FFN router's top-1 shares, loads, mean gates and entropy, the attention router's mean
 * weights and entropy, and how often the two agree on the top expert. Throws a BamError for a
 * model without routers or an empty sequence.
 */
export async function routeTokens(model: BamModel, ids: readonly number[], maxLength: number): Promise<RoutingStatsResult> {
  if (!hasRouters(model.config)) {
    throw new BamError('routing statistics need a mixture model, but this model is dense (no routers)', 'E_NO_ROUTERS', 'use a mixture checkpoint (btx, bam-full, ...)');
  }
  if (ids.length === 0) throw new BamError('routing statistics of an empty token sequence', 'E_LM_REQUEST', 'route at least one token');
  const chunks: Array<Map<number, ChunkLayer>> = [];
  for (let start = 0; start < ids.length; start += maxLength) chunks.push(await routeChunk(model, ids.slice(start, start + maxLength)));
  const layerIds = [...new Set(chunks.flatMap((c) => [...c.keys()]))].sort((a, b) => a - b);
  const layers: LayerRoutingReport[] = layerIds.map((l) => {
    const per = chunks.map((c) => c.get(l)).filter((c): c is ChunkLayer => c !== undefined);
    const r: LayerRoutingReport = { layer: l };
    const ffn = combineFfn(per);
    const attn = combineAttn(per);
    if (ffn) r.ffn = ffn;
    if (attn) r.attn = attn;
    // As core's readRoutingStats: agreement needs both routers over the same experts.
    if (ffn && attn && ffn.topShare.length === attn.meanWeight.length) {
      let same = 0;
      for (let t = 0; t < ffn.topExpert.length; t++) if (ffn.topExpert[t] === attn.topExpert[t]) same++;
      r.agreement = same / ffn.topExpert.length;
    }
    return r;
  });
  return { tokens: ids.length, layers };
}
