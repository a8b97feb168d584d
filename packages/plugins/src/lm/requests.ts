/**
 * How the language model turns lm-evaluation-harness requests into token sequences: the
 * context/continuation split of `loglikelihood` and the rolling windows of
 * `loglikelihood_rolling`. Pure functions on token ids, so the schemes are tested on their own.
 *
 * References: lm-evaluation-harness `api/model.py` (`TemplateLM._encode_pair`) and `utils.py`
 * (`get_rolling_token_windows`, `make_disjoint_window`).
 */
import { BamError, DOC_SEPARATOR, type Tokenizer } from '@bam/core';

/**
 * The id every scored text is conditioned on first: bam's tokenizers have no end-of-text token
 * (GPT-2's `<|endoftext|>` lies outside any truncated vocabulary), and training streams join
 * documents with `DOC_SEPARATOR` ("\n\n"). So the token that precedes the first token of every
 * training document — the LAST token of `encode("\n\n")` — plays end-of-text/BOS: 628 ("\n\n")
 * for truncated GPT-2 (any vocabulary ≥ 629), 10 ("\n") for bytes. An imported model's tokenizer
 * names its own (`tokenizer.documentStart`: the BOS or end-of-text token it was trained with).
 */
export function documentStartToken(tokenizer: Tokenizer): number {
  if (tokenizer.documentStart !== undefined) return tokenizer.documentStart;
  const sep = tokenizer.encode(DOC_SEPARATOR);
  if (sep.length === 0) throw new BamError(`tokenizer '${tokenizer.id}' encodes the document separator to no tokens`, 'E_TOKENIZER', 'pass prefixToken explicitly');
  return sep[sep.length - 1];
}

/**
 * Splits a loglikelihood request into context and continuation ids as lm-eval's `_encode_pair`:
 * trailing whitespace of the context moves to the start of the continuation; the continuation's
 * ids are those of encode(context + continuation) after the first |encode(context)| ids (so a
 * merge across the boundary is attributed to the continuation).
 */
export function encodePair(tokenizer: Tokenizer, context: string, continuation: string): { context: number[]; continuation: number[] } {
  const trimmed = context.replace(/\s+$/u, '');
  const moved = context.slice(trimmed.length);
  const ctx = tokenizer.encode(trimmed);
  const whole = tokenizer.encode(trimmed + moved + continuation);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** One rolling window: a sequence for `scoreTokens` and how many of its last tokens to count. */
export interface RollingWindow {
  /** The model reads tokens[0..n−2] and predicts tokens[1..n−1]; n ≤ maxLength + 1. */
  tokens: number[];
  /** Only the last `scored` predictions count (each text token is counted in exactly one window). */
  scored: number;
}

/**
 * Rolling windows over `tokens` (lm-eval's `get_rolling_token_windows` with
 * `context_len = maxLength − stride + 1`, then `make_disjoint_window`), for a model reading at
 * most L = maxLength tokens, with stride s (1 ≤ s ≤ L):
 *
 * - window 0 reads [prefixToken, t₀ … t_{m−2}] and scores all m = min(L, n) tokens t₀ … t_{m−1};
 *   t₀ is conditioned on the prefix token alone;
 * - each next window scores the next k = min(s, tokens left) tokens t_{e−k} … t_{e−1}, reading
 *   the L tokens t_{e−L−1} … t_{e−2} (exactly L inputs), so every token it scores sees at least
 *   L − k + 1 ≥ L − s + 1 tokens of context (as much as the window allows).
 *
 * s = L (the default, and lm-eval's) gives disjoint windows where a window's first scored token
 * sees one token of context; smaller s gives overlapping windows with more context and more
 * compute. Every token is scored exactly once, so the windows' sums add up to the text's total.
 */
export function rollingWindows(tokens: readonly number[], prefixToken: number, maxLength: number, stride: number): RollingWindow[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new BamError(`maxLength must be a positive integer, got ${maxLength}`, 'E_LM_OPTIONS', 'use the model\'s maxSeqLen or less');
  }
  if (!Number.isInteger(stride) || stride < 1 || stride > maxLength) {
    throw new BamError(`rollingStride must be an integer in [1, maxLength = ${maxLength}], got ${stride}`, 'E_LM_OPTIONS', 'use maxLength (disjoint windows, as lm-eval) or less for overlapping windows');
  }
  const n = tokens.length;
  if (n === 0) return [];
  const first = Math.min(maxLength, n);
  const windows: RollingWindow[] = [{ tokens: [prefixToken, ...tokens.slice(0, first)], scored: first }];
  let predicted = first;
  while (predicted < n) {
    const len = Math.min(n - predicted, stride);
    const end = predicted + len;
    windows.push({ tokens: tokens.slice(end - maxLength - 1, end), scored: len });
    predicted = end;
  }
  return windows;
}
