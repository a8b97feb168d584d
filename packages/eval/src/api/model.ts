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
  [key: string]: unknown;
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
  dispose(): void | Promise<void>;
}
