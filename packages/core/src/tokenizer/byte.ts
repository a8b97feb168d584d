/**
 * Byte-level tokenizer: one token per UTF-8 byte (vocabulary 256). The fallback when a
 * vocabulary-free baseline is wanted; round-trips any well-formed string exactly.
 */
import { DataError } from '../errors.ts';
import type { Tokenizer } from './types.ts';

/** Builds the byte tokenizer (`id` = `byte-256`). */
export function createByteTokenizer(): Tokenizer {
  const decoder = new TextDecoder('utf-8');
  return {
    id: 'byte-256',
    vocabSize: 256,
    encode(text: string): number[] {
      return Array.from(Buffer.from(text, 'utf8'));
    },
    decode(ids: ArrayLike<number>): string {
      const buf = new Uint8Array(ids.length);
      for (let i = 0; i < ids.length; i++) {
        const v = ids[i];
        if (!(v >= 0 && v < 256 && Number.isInteger(v))) {
          throw new DataError(`token id ${v} at position ${i} is outside the byte-256 vocabulary`);
        }
        buf[i] = v;
      }
      return decoder.decode(buf);
    },
  };
}
