/**
 * File tokenizers (an imported model's tokenizer.json or llama2.c tokenizer.bin), built here
 * without Python: encoding by hand-computed merges, round trips, the document-start token, and a
 * checkpoint that carries, checks and keeps the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { readCheckpoint, saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { parseModelConfig } from '../../src/model/config.ts';
import { createModel, disposeModel } from '../../src/model/model.ts';
import { createTokenizer, tokenizerSpecForCheckpoint, tokenizerSpecFromId } from '../../src/tokenizer/index.ts';

const work = mkdtempSync(join(tmpdir(), 'bam-file-tok-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** GPT-2's byte-level alphabet: byte b as a printable character. */
function byteChar(b: number): string {
  const printable = (x: number) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (printable(b)) return String.fromCharCode(b);
  let n = 0;
  for (let x = 0; x < b; x++) if (!printable(x)) n++;
  return String.fromCharCode(256 + n);
}

/** A byte-level BPE tokenizer.json: ids 0..255 the bytes, then th, the, Ġthe, then Llama's BOS template. */
function bpeJson(): string {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[byteChar(b)] = b;
  const merges = [['t', 'h'], ['th', 'e'], ['Ġ', 'the']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  return JSON.stringify({
    version: '1.0',
    added_tokens: [{ id: 259, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<s>': { id: '<s>', ids: [259], tokens: ['<s>'] } } },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: merges.map((m) => m.join(' ')) },
  });
}

/** A llama2.c tokenizer.bin: <unk>, <s>, </s>, 256 byte tokens, then pieces with scores. */
function llama2cBin(pieces: Array<[string, number]>): Buffer {
  const all: Array<[string, number]> = [['<unk>', 0], ['<s>', 0], ['</s>', 0], ...Array.from({ length: 256 }, (_, b): [string, number] => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]), ...pieces];
  const parts = [Buffer.from(new Int32Array([16]).buffer)];
  for (const [piece, score] of all) {
    const raw = Buffer.from(piece, 'utf8');
    const head = Buffer.alloc(8);
    head.writeFloatLE(score, 0);
    head.writeInt32LE(raw.length, 4);
    parts.push(head, raw);
  }
  return Buffer.concat(parts);
}

describe('Hugging Face tokenizer.json', () => {
  const path = join(work, 'tokenizer.json');
  beforeAll(() => writeFileSync(path, bpeJson()));

  it('applies the BPE merges, adds no special tokens, round-trips text and names <s> as the document start', () => {
    const tok = createTokenizer({ kind: 'hf', path });
    expect(tok.id).toMatch(/^hf-[0-9a-f]{16}$/);
    expect(tok.vocabSize).toBe(260);
    expect(tok.encode('the the')).toEqual([257, 258]); // "the", "Ġthe"
    expect(tok.encode('thx')).toEqual([256, 120]); // "th", "x"
    expect(tok.decode(tok.encode('the thin, théâtre'))).toBe('the thin, théâtre');
    expect(tok.documentStart).toBe(259);
    expect(() => tok.decode([260])).toThrow(/token id 260 at position 0 is outside the vocabulary/);
  });

  it('is one instance per file content, and its id alone does not rebuild it', () => {
    const copy = join(work, 'copy.json');
    writeFileSync(copy, bpeJson());
    expect(createTokenizer({ kind: 'hf', path: copy })).toBe(createTokenizer({ kind: 'hf', path }));
    expect(() => tokenizerSpecFromId(createTokenizer({ kind: 'hf', path }).id)).toThrow(/defined by a file, which the id alone cannot rebuild/);
  });

  it('a file that is not a tokenizer is a clear error naming it', () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{"model": ');
    expect(() => createTokenizer({ kind: 'hf', path: bad })).toThrow(/bad\.json is not valid JSON/);
    expect(() => createTokenizer({ kind: 'hf', path: join(work, 'none.json') })).toThrow(/tokenizer file .*none\.json not found/);
  });
});

describe('llama2.c tokenizer.bin', () => {
  it('merges the best-scoring pair first, falls back to bytes, and drops the dummy-prefix space on decode', () => {
    const path = join(work, 'tokenizer.bin');
    // ids 259..: " ", "a", "b", "ab" (-1), " a" (-2), " ab" (-3)
    writeFileSync(path, llama2cBin([[' ', -9], ['a', -9], ['b', -9], ['ab', -1], [' a', -2], [' ab', -3]]));
    const tok = createTokenizer({ kind: 'llama2c', path });
    expect(tok.vocabSize).toBe(265);
    // " ab": ab (-1) first, then " " + "ab" = " ab" (-3); " a" (-2) never forms.
    expect(tok.encode('ab')).toEqual([264]);
    expect(tok.encode('ba')).toEqual([259, 261, 260]); // no "ba" piece; " b" is not one either
    expect(tok.encode('ñ')).toEqual([259, 3 + 0xc3, 3 + 0xb1]); // byte fallback
    expect(tok.decode(tok.encode('ab ñ ba'))).toBe('ab ñ ba');
    expect(tok.documentStart).toBe(1);
  });

  it('a truncated file is a clear error', () => {
    const path = join(work, 'cut.bin');
    writeFileSync(path, llama2cBin([]).subarray(0, 100));
    expect(() => createTokenizer({ kind: 'llama2c', path })).toThrow(/cut\.bin is not a llama2\.c tokenizer\.bin: token \d+ /);
  });
});

describe('a checkpoint with a file tokenizer', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
  });

  it('carries the file with its sha256, rebuilds the tokenizer from it, and refuses a replaced file', async () => {
    const path = join(work, 'ck-tokenizer.json');
    writeFileSync(path, bpeJson());
    const tok = createTokenizer({ kind: 'hf', path });
    const model = createModel(parseModelConfig({ vocabSize: 260, dModel: 8, nHeads: 2, nLayers: 1, dFF: 8, maxSeqLen: 8 }), 1);
    const dir = join(work, 'ckpt');
    await saveCheckpoint(dir, { model, tokenizer: tok });
    disposeModel(model);
    const raw = readCheckpoint(dir);
    expect(raw.manifest.tokenizer).toEqual({ id: tok.id, vocabSize: 260 });
    expect(Object.keys(raw.manifest.files).sort()).toEqual(['model.safetensors', 'tokenizer.json']);
    expect(createTokenizer(tokenizerSpecForCheckpoint(dir, tok.id)).encode('the the')).toEqual([257, 258]);
    writeFileSync(join(dir, 'tokenizer.json'), bpeJson().replace('"Ġ the"', '"t he"'));
    expect(() => readCheckpoint(dir)).toThrow(/tokenizer\.json: (wrong length|hash mismatch)/);
  });

  it('refuses to save an hf tokenizer id whose file this process never read', async () => {
    const model = createModel(parseModelConfig({ vocabSize: 16, dModel: 8, nHeads: 2, nLayers: 1, dFF: 8, maxSeqLen: 8 }), 1);
    await expect(saveCheckpoint(join(work, 'never'), { model, tokenizer: { id: 'hf-0123456789abcdef', vocabSize: 16 } })).rejects.toThrow(/tokenizer 'hf-0123456789abcdef' is defined by its file, but the file was neither given nor read/);
    disposeModel(model);
  });
});
