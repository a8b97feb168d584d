/**
 * The tokenizer of llama2.c checkpoints (`tokenizer.bin`, Karpathy's llama2.c): a SentencePiece
 * BPE vocabulary exported as an int32 max token length, then per token a float32 score, an int32
 * byte length and the piece's bytes. No npm library reads this format (the SentencePiece readers
 * read the `.model` protobuf it was exported from), so this is run.c's own encoder: a dummy-prefix
 * space, one token per UTF-8 character (bytes + 3 for characters outside the vocabulary, the byte
 * fallback tokens <0x00>..<0xFF>), then repeatedly merge the adjacent pair whose concatenation is
 * in the vocabulary with the highest score. Decoding concatenates the pieces' bytes (byte tokens
 * as their byte) and drops the dummy-prefix space, so `decode(encode(s)) === s`.
 */
import { DataError } from '../errors.ts';
import { TOKENIZER_FILES, rememberTokenizerFile } from './files.ts';
import type { Tokenizer } from './types.ts';

/** Where byte fallback ids start: <unk>, <s>, </s> come first in SentencePiece's Llama vocabulary. */
const BYTE_OFFSET = 3;
/** <s>, the BOS run.c puts before every prompt. */
const BOS = 1;

/** The pieces and scores of a tokenizer.bin; throws a DataError naming `source` when malformed. */
export function parseLlama2cTokenizer(bytes: Uint8Array, source: string): { pieces: Uint8Array[]; scores: Float32Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string) => new DataError(`${source} is not a llama2.c tokenizer.bin: ${what}`, 'give the tokenizer.bin written by llama2.c (tokenizer.py export)');
  if (bytes.length < 4) throw bad('shorter than its 4-byte header');
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let at = 4;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw bad(`token ${pieces.length} is cut off at byte ${at}`);
    scores.push(view.getFloat32(at, true));
    const len = view.getInt32(at + 4, true);
    at += 8;
    if (len < 0 || at + len > bytes.length) throw bad(`token ${pieces.length} has length ${len}, past the end of the file`);
    pieces.push(bytes.slice(at, at + len));
    at += len;
  }
  if (pieces.length <= BYTE_OFFSET + 255) throw bad(`${pieces.length} tokens, fewer than the ${BYTE_OFFSET + 256} of the special and byte tokens`);
  return { pieces, scores: Float32Array.from(scores) };
}

/** Builds the tokenizer of a tokenizer.bin (bytes; `source` names the file in errors). */
export function createLlama2cTokenizer(bytes: Uint8Array, source: string): Tokenizer {
  const { pieces, scores } = parseLlama2cTokenizer(bytes, source);
  const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
  const idOf = new Map<string, number>();
  pieces.forEach((p, i) => {
    const key = latin1(p);
    if (!idOf.has(key)) idOf.set(key, i);
  });
  const byteOf = pieces.map((p) => {
    const m = /^<0x([0-9A-F]{2})>$/.exec(latin1(p));
    return m ? Number.parseInt(m[1], 16) : -1;
  });
  const vocabSize = pieces.length;
  const id = rememberTokenizerFile('llama2c', bytes);
  return {
    id,
    vocabSize,
    documentStart: BOS,
    file: { name: TOKENIZER_FILES.llama2c, bytes },
    encode(text: string): number[] {
      if (text.length === 0) return [];
      // Work on latin1 strings of the UTF-8 bytes: one char per byte, so pieces compare as bytes.
      const utf8 = latin1(Buffer.from(` ${text}`, 'utf8'));
      const ids: number[] = [];
      for (let i = 0; i < utf8.length; ) {
        const lead = utf8.charCodeAt(i);
        const n = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        const ch = utf8.slice(i, i + n);
        const known = idOf.get(ch);
        if (known !== undefined) ids.push(known);
        else for (let j = 0; j < ch.length; j++) ids.push(ch.charCodeAt(j) + BYTE_OFFSET);
        i += n;
      }
      const text8 = ids.map((t) => latin1(pieces[t]));
      for (;;) {
        let best = -Infinity;
        let bestAt = -1;
        let bestId = -1;
        for (let i = 0; i + 1 < ids.length; i++) {
          const merged = idOf.get(text8[i] + text8[i + 1]);
          if (merged !== undefined && scores[merged] > best) {
            best = scores[merged];
            bestAt = i;
            bestId = merged;
          }
        }
        if (bestAt < 0) return ids;
        ids.splice(bestAt, 2, bestId);
        text8.splice(bestAt, 2, latin1(pieces[bestId]));
      }
    },
    decode(list: ArrayLike<number>): string {
      const out: number[] = [];
      for (let i = 0; i < list.length; i++) {
        const t = list[i];
        if (!(Number.isInteger(t) && t >= 0 && t < vocabSize)) throw new DataError(`token id ${t} at position ${i} is outside the vocabulary of tokenizer ${id} [0, ${vocabSize})`);
        if (byteOf[t] >= 0) out.push(byteOf[t]);
        else out.push(...pieces[t]);
      }
      const text = Buffer.from(out).toString('utf8');
      return text.startsWith(' ') ? text.slice(1) : text;
    },
  };
}
