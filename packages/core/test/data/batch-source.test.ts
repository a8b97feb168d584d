import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBatchSource, DOC_SEPARATOR, loadDomain, tokensOf, TRAINING_DOMAINS } from '../../src/data/index.ts';
import { ConfigError, DataError } from '../../src/errors.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';

const bytes = createTokenizer({ kind: 'byte' });
const gpt2 = createTokenizer({ kind: 'tiktoken-gpt2', vocabSize: 4096 });
// A private token cache (set before any stream is built), so this file sees a cold disk cache
// and leaves the shared one alone.
const cacheDir = mkdtempSync(join(tmpdir(), 'bam-tokens-'));
process.env.BAM_CACHE_DIR = cacheDir;
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('tokensOf', () => {
  it('is the split documents joined by a blank line, tokenized, and decodes back exactly', () => {
    const docs = loadDomain('law', 'validation');
    const tokens = tokensOf('law', 'validation', gpt2);
    expect(tokens).toBeInstanceOf(Uint16Array);
    expect(gpt2.decode(tokens)).toBe(docs.map((d) => d.text).join(DOC_SEPARATOR));
    const byteTokens = tokensOf('law', 'validation', bytes);
    expect(byteTokens.length).toBe(Buffer.byteLength(docs.map((d) => d.text).join(DOC_SEPARATOR)));
    expect(tokens.length).toBeLessThan(byteTokens.length / 2);
  });

  it('caches the stream in memory and on disk under the tokenizer id', () => {
    const tokens = tokensOf('ood', 'test', gpt2);
    expect(tokensOf('ood', 'test', gpt2)).toBe(tokens);
    const dir = join(cacheDir, 'tokens', 'gpt2-trunc-4096');
    const files = readdirSync(dir).filter((f) => f.startsWith('ood-test-'));
    expect(files).toHaveLength(1);
    const onDisk = new Uint16Array(new Uint8Array(readFileSync(join(dir, files[0]))).buffer);
    expect(onDisk).toEqual(tokens);
  });
});

describe('createBatchSource', () => {
  const source = createBatchSource({ tokenizer: gpt2, mix: '40% law + 30% code + 30% math', split: 'validation', batchSize: 4, seqLen: 8, seed: 1 });

  it('returns equal arrays for the same step, every time', () => {
    const a = source.batch(7);
    const b = source.batch(7);
    expect(a.inputs).toEqual(b.inputs);
    expect(a.targets).toEqual(b.targets);
    expect(a.domains).toEqual(b.domains);
    // A second source with the same options is the same function of the step.
    const again = createBatchSource({ tokenizer: gpt2, mix: { math: 0.3, law: 0.4, code: 0.3 }, split: 'validation', batchSize: 4, seqLen: 8, seed: 1 });
    expect(again.batch(7).inputs).toEqual(a.inputs);
  });

  it('returns different batches for different steps and different seeds', () => {
    expect(source.batch(7).inputs).not.toEqual(source.batch(8).inputs);
    const other = createBatchSource({ tokenizer: gpt2, mix: '40% law + 30% code + 30% math', split: 'validation', batchSize: 4, seqLen: 8, seed: 2 });
    expect(other.batch(7).inputs).not.toEqual(source.batch(7).inputs);
  });

  it('has the [B, T] int32 layout with targets equal to the inputs shifted by one', () => {
    const b = source.batch(3);
    expect(b.batchSize).toBe(4);
    expect(b.seqLen).toBe(8);
    expect(b.inputs).toBeInstanceOf(Int32Array);
    expect(b.inputs.length).toBe(32);
    expect(b.targets.length).toBe(32);
    for (let r = 0; r < 4; r++) {
      for (let t = 0; t < 7; t++) expect(b.targets[r * 8 + t]).toBe(b.inputs[r * 8 + t + 1]);
    }
    expect(Math.max(...b.inputs, ...b.targets)).toBeLessThan(4096);
  });

  it('takes each row from a window of its domain stream', () => {
    const src = createBatchSource({ tokenizer: bytes, mix: '50% law + 50% code', split: 'test', batchSize: 8, seqLen: 32, seed: 5 });
    const haystack = {
      law: Buffer.from(Uint8Array.from(tokensOf('law', 'test', bytes))),
      code: Buffer.from(Uint8Array.from(tokensOf('code', 'test', bytes))),
    };
    const b = src.batch(11);
    for (let r = 0; r < 8; r++) {
      const domain = b.domains[r] as 'law' | 'code';
      const row = Buffer.from(Uint8Array.from(b.inputs.subarray(r * 32, r * 32 + 32)));
      const at = haystack[domain].indexOf(row);
      expect(at, `row ${r} not found in ${domain}`).toBeGreaterThanOrEqual(0);
      expect(b.targets[r * 32 + 31]).toBe(haystack[domain][at + 32]);
    }
  });

  it('draws domains with the mixture weights (8000 rows within 0.03 of 0.4 / 0.3 / 0.3)', () => {
    const counts: Record<string, number> = { law: 0, code: 0, math: 0 };
    let rows = 0;
    for (let step = 0; step < 2000; step++) {
      for (const d of source.batch(step).domains) {
        counts[d]++;
        rows++;
      }
    }
    expect(rows).toBe(8000);
    expect(Math.abs(counts.law / rows - 0.4)).toBeLessThan(0.03);
    expect(Math.abs(counts.code / rows - 0.3)).toBeLessThan(0.03);
    expect(Math.abs(counts.math / rows - 0.3)).toBeLessThan(0.03);
  });

  it('never draws ood in a training mix, and refuses a mix that names it', () => {
    const equal = createBatchSource({ tokenizer: bytes, mix: '25% general + 25% law + 25% code + 25% math', split: 'validation', batchSize: 8, seqLen: 16, seed: 3 });
    const seen = new Set<string>();
    for (let s = 0; s < 100; s++) for (const d of equal.batch(s).domains) seen.add(d);
    expect([...seen].sort()).toEqual([...TRAINING_DOMAINS].sort());
    expect(() => createBatchSource({ tokenizer: bytes, mix: '50% general + 50% ood', split: 'train', batchSize: 2, seqLen: 4, seed: 0 })).toThrow(/'ood' is held out/);
    const evalOnly = createBatchSource({ tokenizer: bytes, mix: { ood: 1 }, allowOod: true, split: 'test', batchSize: 2, seqLen: 4, seed: 0 });
    expect(evalOnly.batch(0).domains).toEqual(['ood', 'ood']);
  });

  it('rejects bad sizes, steps and windows longer than a split', () => {
    expect(() => createBatchSource({ tokenizer: bytes, mix: 'law', split: 'test', batchSize: 0, seqLen: 1.5, seed: 0 })).toThrow(ConfigError);
    expect(() => source.batch(-1)).toThrow(DataError);
    expect(() => source.batch(2.5)).toThrow(/integer >= 0/);
    const tooLong = tokensOf('ood', 'validation', gpt2).length;
    expect(() => createBatchSource({ tokenizer: gpt2, mix: { ood: 1 }, allowOod: true, split: 'validation', batchSize: 1, seqLen: tooLong, seed: 0 })).toThrow(/fewer than seqLen \+ 1/);
  });
});

describe('createBatchSource with given streams', () => {
  it("draws a given domain's rows from its stream (windows of it) and the others from the corpora", () => {
    const stream = Uint16Array.from({ length: 100 }, (_, i) => i);
    const src = createBatchSource({ tokenizer: bytes, mix: { law: 0.5, code: 0.5 }, split: 'train', batchSize: 8, seqLen: 8, seed: 3, streams: { law: stream } });
    let lawRows = 0;
    for (let step = 0; step < 4; step++) {
      const b = src.batch(step);
      b.domains.forEach((d, r) => {
        if (d !== 'law') return;
        lawRows++;
        const row = [...b.inputs.slice(r * 8, r * 8 + 8)];
        // A window of 0..99: consecutive ids, the targets shifted by one.
        expect(row).toEqual(row.map((_, i) => row[0] + i));
        expect([...b.targets.slice(r * 8, r * 8 + 8)]).toEqual(row.map((x) => x + 1));
      });
    }
    expect(lawRows).toBeGreaterThan(0);
    expect(() => createBatchSource({ tokenizer: bytes, mix: { law: 1 }, split: 'train', batchSize: 1, seqLen: 8, seed: 0, streams: { law: stream.slice(0, 5) } })).toThrow(/the given law text has 5 tokens, fewer than seqLen \+ 1 = 9/);
  });
});
