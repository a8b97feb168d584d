/**
 * A fake LanguageModel for tests and plugin contract suites: its log-probabilities are a
 * documented, deterministic function of the text, so tests can compute expected metric values
 * by hand. It is not a language model of anything.
 */
import type { GenerateRequest, LanguageModel, LoglikelihoodRequest, RollingRequest } from './api/model.ts';

/** Options of fakeLanguageModel. */
export interface FakeModelOptions {
  name?: string;
  backend?: string;
  /** Subtracted from every character's log-probability (so two fakes can differ). */
  bias?: number;
}

/**
 * The fake's log-probability of one character: −(1 + (code point mod 10)) / 10 − bias.
 * E.g. 'a' (97) → −0.8, ' ' (32) → −0.3, '0' (48) → −0.9, 'x' (120) → −0.1.
 */
export function fakeCharLogprob(ch: string, bias = 0): number {
  return -(1 + ((ch.codePointAt(0) ?? 0) % 10)) / 10 - bias;
}

/** The fake's log-probability of a text: the sum over its code points (one token per code point). */
export function fakeTextLogprob(text: string, bias = 0): number {
  let s = 0;
  for (const ch of text) s += fakeCharLogprob(ch, bias);
  return s;
}

/**
 * A deterministic LanguageModel: one token per code point; loglikelihood(context, continuation)
 * = fakeTextLogprob(continuation) (the context is ignored), isGreedy when every character has
 * the top score (code point mod 10 = 0 and bias 0); rolling = fakeTextLogprob(text);
 * generate returns the context's last maxTokens characters reversed, cut at the first `until`.
 */
export function fakeLanguageModel(opts: FakeModelOptions = {}): LanguageModel {
  const bias = opts.bias ?? 0;
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new Error('fake model used after dispose()');
  };
  return {
    info: { name: opts.name ?? 'fake', backend: opts.backend ?? 'fake' },
    async loglikelihood(reqs: LoglikelihoodRequest[]) {
      alive();
      return reqs.map((r) => {
        const chars = [...r.continuation];
        return {
          logprob: fakeTextLogprob(r.continuation, bias),
          tokens: chars.length,
          isGreedy: bias === 0 && chars.every((c) => (c.codePointAt(0) ?? 0) % 10 === 0),
        };
      });
    },
    async loglikelihoodRolling(reqs: RollingRequest[]) {
      alive();
      return reqs.map((r) => ({ logprob: fakeTextLogprob(r.text, bias), tokens: [...r.text].length }));
    },
    async generate(reqs: GenerateRequest[]) {
      alive();
      return reqs.map((r) => {
        let out = [...r.context].slice(-r.maxTokens).reverse().join('');
        for (const u of r.until ?? []) {
          const at = out.indexOf(u);
          if (at >= 0) out = out.slice(0, at);
        }
        return out;
      });
    },
    dispose() {
      disposed = true;
    },
  };
}
