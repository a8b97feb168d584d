import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { loadDomain } from '../../src/data/index.ts';
import { DOMAINS } from '../../src/data/types.ts';
import { ConfigError, DataError } from '../../src/errors.ts';
import {
  createTokenizer,
  referenceTiktoken,
  tokenizerIdOf,
  tokenizerSpecFromId,
  tokenizerSpecFromName,
} from '../../src/tokenizer/index.ts';

const gpt2 = createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 4096 });
const bytes = createTokenizer({ kind: 'byte' });

/** The first `n` characters of each domain's validation split, joined per domain. */
function samples(n: number): Array<[string, string]> {
  return DOMAINS.map((d) => {
    let text = '';
    for (const doc of loadDomain(d, 'validation')) {
      if (text.length >= n) break;
      text += `${doc.text}\n\n`;
    }
    return [d, text.slice(0, n)];
  });
}

describe('tokenizer ids and specs', () => {
  it('names the truncated GPT-2 tokenizer gpt2-trunc-4096 with 4096 ids and the byte tokenizer byte-256 with 256', () => {
    expect(gpt2.id).toBe('gpt2-trunc-4096');
    expect(gpt2.vocabSize).toBe(4096);
    expect(bytes.id).toBe('byte-256');
    expect(bytes.vocabSize).toBe(256);
    expect(createTokenizer()).toBe(gpt2);
  });

  it('rebuilds the same tokenizer from the id a checkpoint stores', () => {
    for (const t of [gpt2, bytes, createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 512 })]) {
      const spec = tokenizerSpecFromId(t.id);
      expect(tokenizerIdOf(spec)).toBe(t.id);
      expect(createTokenizer(spec)).toBe(t);
    }
    expect(tokenizerSpecFromId('gpt2-trunc-1024')).toEqual({ kind: 'tiktoken-gpt2', vocabSize: 1024 });
  });

  it('parses command-line names byte, gpt2 and gpt2-<n>', () => {
    expect(tokenizerSpecFromName('byte')).toEqual({ kind: 'byte' });
    expect(tokenizerSpecFromName('gpt2')).toEqual({ kind: 'tiktoken-gpt2', vocabSize: 4096 });
    expect(tokenizerSpecFromName('gpt2-2048')).toEqual({ kind: 'tiktoken-gpt2', vocabSize: 2048 });
    expect(tokenizerSpecFromName('gpt2-trunc-300')).toEqual({ kind: 'tiktoken-gpt2', vocabSize: 300 });
  });

  it('rejects unknown ids, names and vocabulary sizes below 256 with a ConfigError', () => {
    expect(() => tokenizerSpecFromId('sentencepiece-32000')).toThrow(ConfigError);
    expect(() => tokenizerSpecFromName('gpt3')).toThrow(/unknown tokenizer 'gpt3'/);
    expect(() => createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 100 })).toThrow(ConfigError);
    expect(() => createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 60000 })).toThrow(/vocabSize/);
    expect(() => createTokenizer({ kind: 'byte', vocabSize: 256 } as never)).toThrow(ConfigError);
  });
});

describe('truncated GPT-2 BPE', () => {
  it('gives exactly the ids of js-tiktoken built on the same truncated ranks, on every domain', () => {
    const ref = referenceTiktoken(4096);
    for (const [domain, text] of samples(40_000)) {
      const ours = gpt2.encode(text);
      const theirs = ref.encode(text);
      expect(ours.length, domain).toBe(theirs.length);
      expect(ours, domain).toEqual(theirs);
    }
  });

  it('gives the real GPT-2 ids when nothing is truncated ("hello world" is 31373, 995)', () => {
    const full = createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 50256 });
    expect(full.encode('hello world')).toEqual([31373, 995]);
    const text = samples(5_000)
      .map(([, t]) => t)
      .join('\n');
    expect(full.encode(text)).toEqual(getEncoding('gpt2').encode(text));
  });

  it('keeps every id below the vocabulary size and needs more tokens than the full vocabulary', () => {
    const text = samples(20_000)[0][1];
    const ids = gpt2.encode(text);
    expect(Math.max(...ids)).toBeLessThan(4096);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
    const fullCount = createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 50256 }).encode(text).length;
    expect(ids.length).toBeGreaterThan(fullCount);
    // The 256 byte tokens alone give one id per UTF-8 byte.
    expect(createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 256 }).encode(text).length).toBe(Buffer.byteLength(text));
  });

  it('has no special tokens: <|endoftext|> is ordinary text, below 4096 and round-trips', () => {
    const text = 'end of doc<|endoftext|>next doc';
    const ids = gpt2.encode(text);
    expect(ids.every((i) => i < 4096)).toBe(true);
    expect(gpt2.decode(ids)).toBe(text);
    // The reference has no special tokens either, so allowing "all" special tokens changes nothing.
    expect(referenceTiktoken(4096).encode(text, 'all')).toEqual(ids);
  });

  it('round-trips unicode, emoji, control characters and whitespace runs exactly', () => {
    const text = 'naïve café — 東京 🚀🧪 \u0000\u0007\t\n\n   x\r\n  ∑ᵢ xᵢ² ≥ 0 \uFFFD';
    for (const t of [gpt2, bytes]) expect(t.decode(t.encode(text))).toBe(text);
    expect(bytes.encode('é')).toEqual([0xc3, 0xa9]);
  });

  it('refuses to decode an id outside the vocabulary', () => {
    expect(() => gpt2.decode([1, 4096])).toThrow(DataError);
    expect(() => bytes.decode([256])).toThrow(/outside the byte-256 vocabulary/);
  });
});

describe('round trip on the corpora', () => {
  it('decodes every validation document of every domain back to its exact text', () => {
    let docs = 0;
    let totalBytes = 0;
    let totalTokens = 0;
    for (const domain of DOMAINS) {
      for (const doc of loadDomain(domain, 'validation')) {
        const ids = gpt2.encode(doc.text);
        expect(gpt2.decode(ids)).toBe(doc.text);
        docs++;
        totalBytes += Buffer.byteLength(doc.text);
        totalTokens += ids.length;
      }
    }
    expect(docs).toBeGreaterThan(300);
    // GPT-2 truncated to 4096 still compresses: well over 2 bytes a token on this mix.
    expect(totalBytes / totalTokens).toBeGreaterThan(2);
    expect(totalBytes / totalTokens).toBeLessThan(5);
  });

  it('byte tokenizer gives one token per UTF-8 byte and round-trips every domain', () => {
    for (const [domain, text] of samples(50_000)) {
      const ids = bytes.encode(text);
      expect(ids.length, domain).toBe(Buffer.byteLength(text));
      expect(bytes.decode(ids), domain).toBe(text);
    }
  });
});
