/**
 * Routing statistics of mixture layers (for logs, CSVs and the paper's routing analysis).
 *
 * Two steps, so a forward pass never reads tensors back: `routingStatTensors` builds small tensors
 * in-graph (what `forward(..., { collectStats: true })` returns, keyed `layers.{l}.ffn.*` /
 * `layers.{l}.attn.*`), and `readRoutingStats` / `routingStats` turn them into plain numbers with
 * `await data()` — call those only when asked (at log intervals, in analysis).
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../errors.ts';
import type { Routing } from './routers/types.ts';

/** Statistics of an FFN router over N tokens and E experts. */
export interface FfnRoutingStats {
  /** Per expert: fraction of the N tokens routed to it (sums to k for top-k; 1 for top-1 and hash). */
  tokenFraction: number[];
  /** Per expert: mean combine weight over the tokens routed to it (0 if none). */
  meanGate: number[];
  /** Mean over tokens of the router entropy −Σ_e p_e·ln p_e (nats). */
  entropy: number;
  /** `entropy / ln E` in [0, 1] (1 = uniform router; 0 when E = 1). */
  entropyRatio: number;
}

/** Statistics of an attention router over N tokens and E experts. */
export interface AttentionRoutingStats {
  /** Per expert: mean routing weight over all N tokens (sums to 1). */
  meanWeight: number[];
  /** Mean over tokens of the router entropy (nats). */
  entropy: number;
  /** `entropy / ln E` in [0, 1]. */
  entropyRatio: number;
}

/** Routing statistics of one layer, as plain numbers. */
export interface LayerRoutingStats {
  /** Layer index (from the stats keys; 0 for `routingStats` of a single layer). */
  layer: number;
  /** Tokens the statistics cover (to weight an average over batches). */
  tokens: number;
  ffn?: FfnRoutingStats;
  attn?: AttentionRoutingStats;
  /**
   * Fraction of tokens whose most probable attention expert is also their top FFN expert (present
   * when both routers exist with the same E).
   */
  agreement?: number;
}

/** Mean over rows of −Σ p·ln p, for probs [N, E] (0·ln 0 = 0). */
function meanEntropy(probs: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const safe = tf.maximum(probs, 1e-30); // ln of an exact 0 would be −∞; its term is 0 anyway
    return tf.neg(tf.mean(tf.sum(tf.mul(probs, tf.log(safe)), 1))) as tf.Scalar;
  });
}

/**
 * In-graph statistics of one routing decision, keyed for `readRoutingStats`: for `part = 'ffn'`
 * `tokenFraction` [E], `meanGate` [E], `entropy` [], `topExpert` [N] int32; for `part = 'attn'`
 * `meanWeight` [E], `entropy` [], `topExpert` [N] int32. No reads; tensors owned by the caller.
 */
export function routingStatTensors(routing: Routing, part: 'ffn' | 'attn'): Record<string, tf.Tensor> {
  return tf.tidy((): Record<string, tf.Tensor> => {
    const N = routing.mask.shape[0];
    const top = tf.reshape(tf.slice(routing.indices, [0, 0], [N, 1]), [N]); // [N] int32
    const entropy = meanEntropy(routing.probs);
    if (part === 'attn') {
      return { meanWeight: tf.mean(routing.gates, 0), entropy, topExpert: top };
    }
    const count = tf.sum(routing.mask, 0); // [E]
    return {
      tokenFraction: tf.div(count, N),
      meanGate: tf.div(tf.sum(routing.gates, 0), tf.maximum(count, 1)), // 0 where no token chose e
      entropy,
      topExpert: top,
    };
  });
}

async function numbers(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

const entropyRatio = (entropy: number, E: number) => (E > 1 ? entropy / Math.log(E) : 0);

/**
 * Reads stat tensors (as returned by `forward(..., { collectStats: true })`: keys
 * `layers.{l}.ffn.{name}` and `layers.{l}.attn.{name}`) into plain numbers per layer, sorted by
 * layer. Borrows the tensors (dispose them yourself). Keys of other shapes are ignored.
 */
export async function readRoutingStats(stats: Record<string, tf.Tensor>): Promise<LayerRoutingStats[]> {
  const byLayer = new Map<number, { ffn: Record<string, tf.Tensor>; attn: Record<string, tf.Tensor> }>();
  for (const [key, t] of Object.entries(stats)) {
    const m = /^layers\.(\d+)\.(ffn|attn)\.(\w+)$/.exec(key);
    if (!m) continue;
    const l = Number(m[1]);
    if (!byLayer.has(l)) byLayer.set(l, { ffn: {}, attn: {} });
    byLayer.get(l)![m[2] as 'ffn' | 'attn'][m[3]] = t;
  }
  const out: LayerRoutingStats[] = [];
  for (const l of [...byLayer.keys()].sort((a, b) => a - b)) {
    const { ffn, attn } = byLayer.get(l)!;
    const s: LayerRoutingStats = { layer: l, tokens: 0 };
    let ffnTop: number[] | undefined;
    if (ffn.tokenFraction) {
      const tokenFraction = await numbers(ffn.tokenFraction);
      const entropy = Math.max(0, (await numbers(ffn.entropy))[0]); // ≥ 0; also turns −0 into 0
      ffnTop = await numbers(ffn.topExpert);
      s.tokens = ffnTop.length;
      s.ffn = { tokenFraction, meanGate: await numbers(ffn.meanGate), entropy, entropyRatio: entropyRatio(entropy, tokenFraction.length) };
    }
    if (attn.meanWeight) {
      const meanWeight = await numbers(attn.meanWeight);
      const entropy = Math.max(0, (await numbers(attn.entropy))[0]);
      const attnTop = await numbers(attn.topExpert);
      s.tokens = attnTop.length;
      s.attn = { meanWeight, entropy, entropyRatio: entropyRatio(entropy, meanWeight.length) };
      if (ffnTop && s.ffn && s.ffn.tokenFraction.length === meanWeight.length) {
        if (ffnTop.length !== attnTop.length) {
          throw new BamError(`layer ${l}: FFN and attention stats cover ${ffnTop.length} and ${attnTop.length} tokens`, 'E_MIXTURE');
        }
        let same = 0;
        for (let t = 0; t < attnTop.length; t++) if (attnTop[t] === ffnTop[t]) same++;
        s.agreement = attnTop.length ? same / attnTop.length : 0;
      }
    }
    out.push(s);
  }
  return out;
}

/**
 * Routing statistics of one layer from its FFN and/or attention routing decisions (borrowed).
 * Reads the data back (async); throws a `BamError` if the two cover different token counts.
 */
export async function routingStats(layer: { ffn?: Routing; attn?: Routing }): Promise<LayerRoutingStats> {
  const { ffn, attn } = layer;
  if (ffn && attn && ffn.probs.shape[0] !== attn.probs.shape[0]) {
    throw new BamError(
      `FFN and attention routings cover ${ffn.probs.shape[0]} and ${attn.probs.shape[0]} tokens`,
      'E_MIXTURE',
      'pass the two routings of the same layer and batch',
    );
  }
  const tensors: Record<string, tf.Tensor> = {};
  if (ffn) for (const [k, v] of Object.entries(routingStatTensors(ffn, 'ffn'))) tensors[`layers.0.ffn.${k}`] = v;
  if (attn) for (const [k, v] of Object.entries(routingStatTensors(attn, 'attn'))) tensors[`layers.0.attn.${k}`] = v;
  try {
    const [s] = await readRoutingStats(tensors);
    return s ?? { layer: 0, tokens: 0 };
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
