/**
 * The one thing @bam/eval knows about a model: plain strings in, plain numbers out, like
 * lm-evaluation-harness's `api/model.py` (`loglikelihood`, `loglikelihood_rolling`,
 * `generate_until`). No tensor crosses this interface, so the harness is tested with a fake
 * model and real models live in @bam/plugins.
 */

/** Score `continuation` given `context` (lm-eval `loglikelihood`). */
export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

/** The answer to a LoglikelihoodRequest. */
export interface LoglikelihoodResult {
  /** Σ log p(token | prefix) over the continuation's tokens, natural log (≤ 0). */
  logprob: number;
  /** True when greedy decoding from the context would produce exactly the continuation. */
  isGreedy: boolean;
  /** Number of continuation tokens scored. */
  tokens: number;
}

/** Score all of `text` with no context, in windows if it is longer than the model's context (lm-eval `loglikelihood_rolling`). */
export interface RollingRequest {
  text: string;
}

/** The answer to a RollingRequest. */
export interface RollingResult {
  /** Σ log p over every token of the text (the first conditioned on the end-of-text token), natural log. */
  logprob: number;
  /** Number of tokens scored: the text's token count. */
  tokens: number;
}

/** Generate greedily after `context` (lm-eval `generate_until`). */
export interface GenerateRequest {
  context: string;
  /** Stop after this many new tokens. */
  maxTokens: number;
  /** Stop at the first of these strings; the returned text excludes it. */
  until?: string[];
}

/** What a model says about itself; `backend` and `configHash` go into every result row. */
export interface ModelInfo {
  name: string;
  /** The compute backend the model runs on (`tensorflow`, `wasm`, `cpu`, ...). */
  backend?: string;
  /** Hash of the model's config/checkpoint, to tell apart models that share a name. */
  configHash?: string;
  /**
   * The JSONL training logs behind the model (stage label → path), e.g. `{ seed: '…/train.jsonl' }`;
   * the sweep indexes them in the results folder's training_logs.json for the report's loss curves.
   */
  trainingLogs?: Record<string, string>;
  [key: string]: unknown;
}

/** Route `text` through the model and report what its routers decided (no lm-eval counterpart). */
export interface RoutingStatsRequest {
  text: string;
}

/** One layer's FFN router over a text's tokens, as plain numbers (E = the FFN experts). */
export interface FfnRoutingReport {
  /** Per expert: fraction of the tokens whose most probable (top-1) FFN expert it is; sums to 1. */
  topShare: number[];
  /** Per expert: fraction of the tokens it processed (sums to k for top-k; varies under expert-choice). */
  load: number[];
  /** Per expert: mean combine weight over the tokens it processed (0 where it processed none). */
  meanGate: number[];
  /** Mean over tokens of the router entropy −Σ_e p_e·ln p_e (nats). */
  entropy: number;
  /** `entropy / ln E` in [0, 1]: 1 = a uniform router, 0 = a hard one. */
  entropyRatio: number;
  /** The top-1 FFN expert of every token, in token order. */
  topExpert: number[];
}

/** One layer's attention router over a text's tokens, as plain numbers (E = the attention experts). */
export interface AttentionRoutingReport {
  /** Per expert: mean routing weight g_e(h) over the tokens; sums to 1. */
  meanWeight: number[];
  /** Mean over tokens of the router entropy (nats). */
  entropy: number;
  /** `entropy / ln E` in [0, 1]. */
  entropyRatio: number;
  /** The most probable attention expert of every token, in token order. */
  topExpert: number[];
}

/** What the routers of one layer decided for one text; a part the model does not route is absent. */
export interface LayerRoutingReport {
  /** 0-based layer index. */
  layer: number;
  ffn?: FfnRoutingReport;
  attn?: AttentionRoutingReport;
  /** Fraction of tokens whose top attention expert is also their top FFN expert (when both routers exist with the same E). */
  agreement?: number;
}

/** The answer to a RoutingStatsRequest: the routing of every token position the model read. */
export interface RoutingStatsResult {
  /** Token positions routed (the text's tokens and whatever the model reads before them, e.g. a document-start token). */
  tokens: number;
  /** One entry per layer, in layer order. */
  layers: LayerRoutingReport[];
}

/**
 * A language model as the harness sees it. Each method answers a batch of requests, in order,
 * one result per request. The caller owns the model and calls `dispose()` once when done.
 */
export interface LanguageModel {
  readonly info: ModelInfo;
  loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]>;
  loglikelihoodRolling(requests: RollingRequest[]): Promise<RollingResult[]>;
  generate(requests: GenerateRequest[]): Promise<string[]>;
  /**
   * Optional: the routing statistics of each text (mixture models). A model without routers (a
   * dense model) leaves it out, and a task that asks for `routing_stats` fails on it, saying so.
   */
  routingStats?(requests: RoutingStatsRequest[]): Promise<RoutingStatsResult[]>;
  dispose(): void | Promise<void>;
}
