/**
 * Small deterministic random numbers for data: a seeded PRNG and string → uniform hashing.
 * Nothing here touches Math.random, so every draw is reproducible from its seed.
 */
import { createHash } from 'node:crypto';

/** A seeded stream of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32 (Tommy Ettinger): a 32-bit-state PRNG, ample for sampling data. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finaliser: a fast, well-mixed integer hash. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** First 32 bits of sha256(`parts` joined by NUL), as an unsigned integer. */
export function hash32(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

/** A uniform number in [0, 1) determined by `parts` (sha256-based, so well spread). */
export function hashUniform(...parts: Array<string | number>): number {
  return hash32(...parts) / 4294967296;
}

/** A PRNG seeded by `parts` (e.g. `rngFor('batch', seed, step)`). */
export function rngFor(...parts: Array<string | number>): Rng {
  return mulberry32(hash32(...parts));
}

/** An integer in [lo, hi] (inclusive) drawn from `rng`. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}
