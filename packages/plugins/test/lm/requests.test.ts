import { describe, expect, it } from 'vitest';
import { createTokenizer } from '@bam/core';
import { documentStartToken, encodePair, rollingWindows } from '../../src/index.ts';

describe('rollingWindows', () => {
  it('reproduces lm-eval’s get_rolling_token_windows + make_disjoint_window for tokens 1..10, prefix 0, max length 4', () => {
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // lm-eval (context_len = 1): ([0,1,2,3] → [1,2,3,4]), ([4,5,6,7] → [5,6,7,8]), ([6,7,8,9] → [9,10]).
    expect(rollingWindows(tokens, 0, 4, 4)).toEqual([
      { tokens: [0, 1, 2, 3, 4], scored: 4 },
      { tokens: [4, 5, 6, 7, 8], scored: 4 },
      { tokens: [6, 7, 8, 9, 10], scored: 2 },
    ]);
  });

  it('overlaps windows with a smaller stride, scoring every token exactly once with L − stride + 1 tokens of context or more', () => {
    const tokens = Array.from({ length: 23 }, (_, i) => 100 + i);
    const L = 8;
    const stride = 3;
    const windows = rollingWindows(tokens, 0, L, stride);
    expect(windows.map((w) => w.scored)).toEqual([8, 3, 3, 3, 3, 3]);
    const scoredTokens = windows.flatMap((w) => w.tokens.slice(w.tokens.length - w.scored));
    expect(scoredTokens).toEqual(tokens);
    for (const w of windows.slice(1)) {
      expect(w.tokens).toHaveLength(L + 1);
      // The first scored token's context: everything in the window before it.
      expect(w.tokens.length - w.scored).toBeGreaterThanOrEqual(L - stride + 1);
    }
    expect(windows[1].tokens).toEqual(tokens.slice(2, 11));
  });

  it('gives one window for a text shorter than the length, none for an empty one, and rejects a bad stride', () => {
    expect(rollingWindows([5, 6, 7], 9, 8, 8)).toEqual([{ tokens: [9, 5, 6, 7], scored: 3 }]);
    expect(rollingWindows([], 9, 8, 8)).toEqual([]);
    expect(() => rollingWindows([1], 0, 8, 9)).toThrow(/rollingStride must be an integer in \[1, maxLength = 8\], got 9/);
    expect(() => rollingWindows([1], 0, 8, 0)).toThrow(/rollingStride/);
  });
});

describe('encodePair and documentStartToken', () => {
  it('moves the context’s trailing whitespace to the continuation and takes the continuation from the joint encoding, as lm-eval', () => {
    const gpt2 = createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 4096 });
    const { context, continuation } = encodePair(gpt2, 'The answer is ', 'yes');
    expect(gpt2.decode(context)).toBe('The answer is');
    expect(gpt2.decode(continuation)).toBe(' yes');
    expect(continuation).toEqual(gpt2.encode(' yes'));
    const bytes = createTokenizer({ kind: 'byte' });
    expect(encodePair(bytes, 'ab\n', 'c')).toEqual({ context: [97, 98], continuation: [10, 99] });
  });

  it('conditions on the last token of the document separator: 628 ("\\n\\n") for truncated GPT-2, 10 ("\\n") for bytes', () => {
    expect(documentStartToken(createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 4096 }))).toBe(628);
    expect(documentStartToken(createTokenizer({ kind: 'byte' }))).toBe(10);
  });
});
