/**
 * A reference variant: the language model that gives every byte probability 1/256. Its
 * bits per byte is exactly 8 on any text, and its multiple-choice answers only reflect answer
 * lengths, so it is the floor every trained variant must beat. Used by the smoke sweep config.
 */
import { defineVariant, utf8Bytes, type LanguageModel } from '@bam/eval';

const BYTE_LOGPROB = -8 * Math.LN2; // log(1/256)

export default defineVariant({
  id: 'uniform-bytes',
  description: 'Every byte has probability 1/256 (bits per byte = 8): a floor to compare against.',
  create(): LanguageModel {
    return {
      info: { name: 'uniform-bytes', backend: 'none' },
      async loglikelihood(requests) {
        return requests.map((r) => {
          const n = utf8Bytes(r.continuation);
          return { logprob: n * BYTE_LOGPROB, tokens: n, isGreedy: false };
        });
      },
      async loglikelihoodRolling(requests) {
        return requests.map((r) => {
          const n = utf8Bytes(r.text);
          return { logprob: n * BYTE_LOGPROB, tokens: n };
        });
      },
      async generate(requests) {
        return requests.map(() => '');
      },
      dispose() {},
    };
  },
});
