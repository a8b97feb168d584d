/**
 * Canonical hashing: config hashes and content hashes that mean the same thing in every package,
 * so a content-addressed artifact keeps its address whichever package computes it.
 */
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, so equal values always give equal text.
 * Used for config hashes: two configs that mean the same thing hash the same.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** sha256 of the canonical JSON of `value`, hex; `length` truncates (default 16 hex chars). */
export function configHash(value: unknown, length = 16): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}

/** sha256 of raw bytes, hex. */
export function bytesHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units: a cheap, stable seed derivation. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
