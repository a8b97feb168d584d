/**
 * GPT-2 byte-level BPE (Radford et al. 2019) with its merge table truncated to the first
 * `vocabSize` ranks, so a small model gets a small vocabulary with no tokenizer training.
 *
 * Why truncation is exact: GPT-2's ranks 0..255 are the 256 single bytes, and a BPE merge only
 * ever produces a token that is in the table. Keeping ranks < vocabSize therefore keeps every
 * byte encodable, and every merge the truncated encoder makes yields an id < vocabSize; decoding
 * concatenates the tokens' bytes, so `decode(encode(s)) === s` for any well-formed string.
 *
 * The encoder is the algorithm of js-tiktoken's `Tiktoken` (same pre-tokenisation regex, same
 * lowest-rank-pair merge order), re-implemented on latin1 strings with a per-piece cache: the
 * corpora repeat words constantly, which makes it several times faster on whole domains.
 * `referenceTiktoken` builds the js-tiktoken encoder on the same truncated ranks; the tests check
 * that the two give identical ids.
 *
 * Special tokens: none. GPT-2's `<|endoftext|>` has rank 50256, outside any truncated vocabulary,
 * so it is dropped rather than given an id that would collide with a BPE rank; the text
 * `<|endoftext|>` is encoded as ordinary bytes.
 */
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { DataError, InvariantError } from '../errors.ts';
import type { Tokenizer } from './types.ts';

/** Upper bound on cached pieces; the cache is cleared (not evicted) when full, which keeps output identical. */
const PIECE_CACHE_LIMIT = 200_000;

let allTokensB64: string[] | undefined;

/** GPT-2's base64 token strings in rank order (rank = index), validated once per process. */
function gpt2TokensByRank(): string[] {
  if (allTokensB64) return allTokensB64;
  const lines = gpt2Ranks.bpe_ranks.split('\n').filter(Boolean);
  const out: string[] = [];
  for (const line of lines) {
    const [, offsetStr, ...tokens] = line.split(' ');
    const offset = Number.parseInt(offsetStr, 10);
    if (offset !== out.length) throw new InvariantError(`gpt2 rank file is not contiguous at rank ${out.length}`);
    out.push(...tokens);
  }
  const firstBytes = new Set<number>();
  for (let r = 0; r < 256; r++) {
    const b = Buffer.from(out[r], 'base64');
    if (b.length !== 1) throw new InvariantError(`gpt2 rank ${r} is not a single byte`);
    firstBytes.add(b[0]);
  }
  if (firstBytes.size !== 256) throw new InvariantError('gpt2 ranks 0..255 are not the 256 distinct bytes');
  allTokensB64 = out;
  return out;
}

/** The GPT-2 pre-tokenisation pattern (same as js-tiktoken's `pat_str`). */
export const GPT2_PATTERN: string = gpt2Ranks.pat_str;

/**
 * A js-tiktoken `Tiktoken` on the GPT-2 ranks truncated to `vocabSize`, with no special tokens.
 * It is the reference the fast encoder is tested against; the caller owns it.
 */
export function referenceTiktoken(vocabSize: number): Tiktoken {
  const tokens = gpt2TokensByRank().slice(0, vocabSize);
  return new Tiktoken({ pat_str: gpt2Ranks.pat_str, special_tokens: {}, bpe_ranks: `! 0 ${tokens.join(' ')}` });
}

/**
 * Builds the truncated GPT-2 tokenizer (`id` = `gpt2-trunc-<vocabSize>`).
 * `vocabSize` must be in [256, 50256]. Encoding is deterministic and cached per piece.
 */
export function createGpt2Tokenizer(vocabSize: number): Tokenizer {
  const all = gpt2TokensByRank();
  if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > all.length) {
    throw new DataError(
      `gpt2 tokenizer vocabSize must be an integer in [256, ${all.length}], got ${vocabSize}`,
      'use e.g. {kind: "tiktoken-gpt2", vocabSize: 4096}',
    );
  }
  // Bytes of each token as a latin1 string (one char per byte): cheap to slice and hash.
  const rankOf = new Map<string, number>();
  const bytesOf: Uint8Array[] = new Array(vocabSize);
  for (let r = 0; r < vocabSize; r++) {
    const bytes = Buffer.from(all[r], 'base64');
    rankOf.set(bytes.toString('latin1'), r);
    bytesOf[r] = new Uint8Array(bytes);
  }
  const pieceCache = new Map<string, number[]>();
  const decoder = new TextDecoder('utf-8');

  function encodePiece(piece: string): number[] {
    const s = Buffer.from(piece, 'utf8').toString('latin1');
    const whole = rankOf.get(s);
    if (whole !== undefined) return [whole];
    // js-tiktoken's bytePairMerge: repeatedly merge the adjacent pair whose concatenation has the
    // lowest rank (first such pair on ties) until no adjacent pair is in the table.
    const starts: number[] = [];
    for (let i = 0; i <= s.length; i++) starts.push(i);
    while (starts.length > 2) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < starts.length - 2; i++) {
        const r = rankOf.get(s.slice(starts[i], starts[i + 2]));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      starts.splice(best + 1, 1);
    }
    const ids: number[] = new Array(starts.length - 1);
    for (let i = 0; i < starts.length - 1; i++) {
      const r = rankOf.get(s.slice(starts[i], starts[i + 1]));
      if (r === undefined) throw new InvariantError(`gpt2 BPE produced a part outside the table in ${JSON.stringify(piece)}`);
      ids[i] = r;
    }
    return ids;
  }

  return {
    id: `gpt2-trunc-${vocabSize}`,
    vocabSize,
    encode(text: string): number[] {
      const out: number[] = [];
      const re = new RegExp(gpt2Ranks.pat_str, 'gu');
      for (const m of text.matchAll(re)) {
        const piece = m[0];
        let ids = pieceCache.get(piece);
        if (!ids) {
          ids = encodePiece(piece);
          if (pieceCache.size >= PIECE_CACHE_LIMIT) pieceCache.clear();
          pieceCache.set(piece, ids);
        }
        for (const id of ids) out.push(id);
      }
      return out;
    },
    decode(ids: ArrayLike<number>): string {
      let n = 0;
      for (let i = 0; i < ids.length; i++) {
        const b = bytesOf[ids[i]];
        if (!b) throw new DataError(`token id ${ids[i]} at position ${i} is outside the gpt2-trunc-${vocabSize} vocabulary`);
        n += b.length;
      }
      const buf = new Uint8Array(n);
      let o = 0;
      for (let i = 0; i < ids.length; i++) {
        const b = bytesOf[ids[i]];
        buf.set(b, o);
        o += b.length;
      }
      return decoder.decode(buf);
    },
  };
}
