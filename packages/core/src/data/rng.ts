/**
 * Small deterministic random numbers for data: string → uniform hashing, and PRNGs (@bam/utils'
 * mulberry32) seeded by it. Nothing here touches Math.random, so every draw is reproducible from its seed.
 */
import { createHash } from 'node:crypto';
import { mulberry32, type Rng } from '@bam/utils';

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
