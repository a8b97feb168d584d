/**
 * The real `LanguageModel` (@bam/eval's interface) over a @bam/core model: strings in, plain
 * numbers out, the semantics of lm-evaluation-harness's `HFLM` (`loglikelihood`,
 * `loglikelihood_rolling`, `generate_until`). Tensors stay inside @bam/core's `scoreTokens` and
 * `generate`; nothing returned holds one.
 *
 * Conditioning: every request is scored after the document-start token (`documentStartToken`,
 * overridable with `prefixToken`), as lm-eval does for models that add a BOS token. So
 * loglikelihood(c, x) = rolling(c + x) − rolling(c) whenever the tokenization splits cleanly and
 * both fit in one window.
 */
import {
  BamError,
  activeBackend,
  disposeModel,
  generate as generateTokens,
  kvCacheBytesPerToken,
  scoreTokens,
  type BamModel,
  type Tokenizer,
} from '@bam/core';
import { configHash as hashConfig } from '@bam/utils';
import type {
  GenerateRequest,
  LanguageModel,
  LoglikelihoodRequest,
  LoglikelihoodResult,
  ModelInfo,
  RollingRequest,
  RollingResult,
  RoutingStatsRequest,
  RoutingStatsResult,
} from '@bam/eval';
import { documentStartToken, encodePair, rollingWindows } from './requests.ts';
import { hasRouters, routeTokens } from './routing-stats.ts';

/** Options of `coreLanguageModel`. */
export interface CoreLanguageModelOptions {
  /** The model; borrowed unless `ownsModel` (then `dispose()` disposes it). */
  model: BamModel;
  /** The tokenizer the model was trained with. */
  tokenizer: Tokenizer;
  /** Name for result rows. */
  name: string;
  /** Sequences per forward when scoring, prompts per batch when generating (default 8). */
  batchSize?: number;
  /** Most tokens the model reads at once (default and maximum: the config's maxSeqLen). */
  maxLength?: number;
  /** New tokens scored per rolling window after the first (1..maxLength; default maxLength = disjoint windows). */
  rollingStride?: number;
  /** Backend name for result rows (default: the active tfjs backend). */
  backend?: string;
  /** Hash for result rows (default: `configHash(model.config)`). */
  configHash?: string;
  /** The id every text is conditioned on first (default: `documentStartToken(tokenizer)`). */
  prefixToken?: number;
  /** Whether `dispose()` also disposes the model (default false: the caller keeps it). */
  ownsModel?: boolean;
  /** Extra fields for `info` (e.g. the checkpoint's content hash). */
  info?: Record<string, unknown>;
}

function positiveInt(value: number, what: string, hint: string): number {
  if (!Number.isInteger(value) || value < 1) throw new BamError(`${what} must be a positive integer, got ${value}`, 'E_LM_OPTIONS', hint);
  return value;
}

/**
 * A `LanguageModel` over `opts.model`:
 * - `loglikelihood`: [prefix] + context + continuation (split as lm-eval's `_encode_pair`),
 *   truncated from the left to maxLength + 1 tokens; sums the continuation tokens' log-probs;
 *   `isGreedy` when every continuation token is the argmax. A continuation longer than maxLength
 *   tokens cannot be scored and throws.
 * - `loglikelihoodRolling`: the text in `rollingWindows(tokens, prefix, maxLength, rollingStride)`,
 *   every token scored once; `tokens` = the text's token count.
 * - `generate`: greedy with the KV cache after [prefix] + context (cut from the left to leave
 *   room), at most min(maxTokens, maxLength) new tokens, stopped as soon as the decoded text holds
 *   an `until` string; the text returned ends before the first `until` string.
 * - `routingStats` (mixture models only; absent on a dense model): [prefix] + the text's tokens
 *   routed in disjoint chunks of maxLength, each as its own example (`routeTokens`); `tokens` counts
 *   every routed position, the prefix included.
 * All requests of a call are batched together (length-sorted), results in request order.
 */
export function coreLanguageModel(opts: CoreLanguageModelOptions): LanguageModel {
  const { model, tokenizer } = opts;
  const { config } = model;
  const maxLength = positiveInt(opts.maxLength ?? config.maxSeqLen, 'maxLength', `use at most the model's maxSeqLen (${config.maxSeqLen})`);
  if (maxLength > config.maxSeqLen) {
    throw new BamError(`maxLength ${maxLength} exceeds the model's maxSeqLen ${config.maxSeqLen}`, 'E_LM_OPTIONS', `use at most ${config.maxSeqLen}`);
  }
  const stride = positiveInt(opts.rollingStride ?? maxLength, 'rollingStride', `use 1..maxLength (${maxLength})`);
  if (stride > maxLength) {
    throw new BamError(`rollingStride ${stride} exceeds maxLength ${maxLength}`, 'E_LM_OPTIONS', `use 1..${maxLength}; ${maxLength} gives disjoint windows`);
  }
  const batchSize = positiveInt(opts.batchSize ?? 8, 'batchSize', 'use e.g. 8');
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new BamError(
      `tokenizer '${tokenizer.id}' has ${tokenizer.vocabSize} ids but the model only ${config.vocabSize}`,
      'E_LM_OPTIONS',
      'pass the tokenizer the model was trained with',
    );
  }
  const prefix = opts.prefixToken ?? documentStartToken(tokenizer);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix >= config.vocabSize) {
    throw new BamError(`prefixToken ${prefix} is not an id of the model's vocabulary [0, ${config.vocabSize})`, 'E_LM_OPTIONS', 'omit it to use the document separator token');
  }
  const info: ModelInfo = {
    ...opts.info,
    name: opts.name,
    backend: opts.backend ?? activeBackend(),
    configHash: opts.configHash ?? hashConfig(config),
    tokenizer: tokenizer.id,
    maxLength,
    rollingStride: stride,
    prefixToken: prefix,
    kvCacheBytesPerToken: kvCacheBytesPerToken(config),
  };
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new BamError(`language model '${opts.name}' was used after dispose()`, 'E_LM_DISPOSED', 'create a new one');
  };

  // Only a mixture answers routing requests; on a dense model the method is absent, so a routing
  // task fails with the harness's "needs routing statistics" message.
  const routing = hasRouters(config)
    ? {
        async routingStats(requests: RoutingStatsRequest[]): Promise<RoutingStatsResult[]> {
          alive();
          const out: RoutingStatsResult[] = [];
          for (const r of requests) out.push(await routeTokens(model, [prefix, ...tokenizer.encode(r.text)], maxLength));
          return out;
        },
      }
    : {};

  return {
    info,
    ...routing,

    async loglikelihood(requests: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
      alive();
      const seqs = requests.map((r, i) => {
        const { context, continuation } = encodePair(tokenizer, r.context, r.continuation);
        if (continuation.length > maxLength) {
          throw new BamError(
            `loglikelihood request ${i}: the continuation has ${continuation.length} tokens, more than maxLength ${maxLength}`,
            'E_SEQ_LEN',
            'shorten the continuation or use a model with a longer context',
          );
        }
        const whole = [prefix, ...context, ...continuation];
        return { tokens: whole.slice(Math.max(0, whole.length - (maxLength + 1))), n: continuation.length };
      });
      // Only the continuation's predictions go through the LM head.
      const scores = await scoreTokens(model, seqs.map((s) => s.tokens), { batchSize, scored: seqs.map((s) => s.n) });
      return seqs.map((s, i) => {
        const { logprobs, greedy } = scores[i]; // the continuation's s.n predictions
        return { logprob: logprobs.reduce((a, b) => a + b, 0), isGreedy: greedy.every(Boolean), tokens: s.n };
      });
    },

    async loglikelihoodRolling(requests: RollingRequest[]): Promise<RollingResult[]> {
      alive();
      const perRequest = requests.map((r) => {
        const ids = tokenizer.encode(r.text);
        return { count: ids.length, windows: rollingWindows(ids, prefix, maxLength, stride) };
      });
      const all = perRequest.flatMap((p) => p.windows);
      const scores = await scoreTokens(model, all.map((w) => w.tokens), { batchSize, scored: all.map((w) => w.scored), greedy: false }); // a perplexity needs no argmax
      let w = 0;
      return perRequest.map((p) => {
        let logprob = 0;
        for (let k = 0; k < p.windows.length; k++) for (const lp of scores[w++].logprobs) logprob += lp; // the window's scored predictions
        return { logprob, tokens: p.count };
      });
    },

    async generate(requests: GenerateRequest[]): Promise<string[]> {
      alive();
      const out: string[] = requests.map(() => '');
      // One core call per distinct budget; inside it equal-length prompts decode together.
      const byBudget = new Map<number, number[]>();
      requests.forEach((r, i) => {
        if (!Number.isInteger(r.maxTokens) || r.maxTokens < 0) {
          throw new BamError(`generate request ${i}: maxTokens must be a non-negative integer, got ${r.maxTokens}`, 'E_LM_REQUEST', 'pass e.g. maxTokens: 32');
        }
        const budget = Math.min(r.maxTokens, maxLength);
        if (budget > 0) byBudget.set(budget, [...(byBudget.get(budget) ?? []), i]);
      });
      const untilOf = (i: number): string[] => (requests[i].until ?? []).filter((u) => u.length > 0);
      const cut = (text: string, until: string[]): string => {
        let end = text.length;
        for (const u of until) {
          const at = text.indexOf(u);
          if (at >= 0 && at < end) end = at;
        }
        return text.slice(0, end);
      };
      for (const [budget, idx] of byBudget) {
        // The prompt keeps its last maxLength + 1 − budget tokens: the last new token is never fed.
        const keep = maxLength + 1 - budget;
        const prompts = idx.map((i) => {
          const ids = [prefix, ...tokenizer.encode(requests[i].context)];
          return ids.slice(Math.max(0, ids.length - keep));
        });
        const gens = await generateTokens(model, prompts, {
          maxNewTokens: budget,
          batchSize,
          stopWhen: (generated, j) => {
            const until = untilOf(idx[j]);
            if (until.length === 0) return false;
            const text = tokenizer.decode(generated);
            return until.some((u) => text.includes(u));
          },
        });
        gens.forEach((g, j) => {
          out[idx[j]] = cut(tokenizer.decode(g.tokens), untilOf(idx[j]));
        });
      }
      return out;
    },

    dispose(): void {
      if (disposed) return;
      disposed = true;
      if (opts.ownsModel) disposeModel(model);
    },
  };
}
