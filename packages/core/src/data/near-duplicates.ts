/**
 * Near-duplicate grouping for split assignment: documents that share a name key, or whose word
 * 5-gram sets have a Jaccard similarity >= a threshold, end up in one group
 * (connected components), so a split by group never puts near-copies on both sides.
 *
 * The decision is on the exact Jaccard similarity; MinHash (Broder 1997) with 64 fixed hash
 * functions only finds the candidates: LSH banding (32 bands of 2 rows: a pair at Jaccard 0.7 is
 * a candidate with probability 1 - (1 - 0.7²)³² > 0.999999999), then pairs whose signature
 * estimate is within 0.2 (four standard errors) of the threshold get the exact computation.
 * Everything is seeded by constants, so the groups are deterministic.
 */

import { fmix32 } from '@bam/utils';

const MINHASH_K = 64;
const BAND_ROWS = 2;
const SHINGLE_WORDS = 5;
/** Candidates whose MinHash estimate is this far below the threshold still get the exact check. */
const ESTIMATE_SLACK = 0.2;

/**
 * Hashes of the distinct word 5-grams of `text` (lower-cased alphanumeric words). `wordIds`
 * interns words across calls so equal 5-grams hash equally in every document.
 */
export function shingleHashes(text: string, wordIds: Map<string, number>): Set<number> {
  const words = text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const ids = words.map((w) => {
    let v = wordIds.get(w);
    if (v === undefined) {
      v = wordIds.size + 1;
      wordIds.set(w, v);
    }
    return v;
  });
  const out = new Set<number>();
  for (let i = 0; i + SHINGLE_WORDS <= ids.length; i++) {
    let h = 0;
    for (let j = 0; j < SHINGLE_WORDS; j++) h = fmix32(((h ^ ids[i + j]) + j) | 0);
    out.add(h);
  }
  return out;
}

/** Exact Jaccard similarity of two sets (1 when both are empty). */
export function jaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

const SEEDS = new Uint32Array(MINHASH_K).map((_, k) => fmix32(Math.imul(k + 1, 0x9e3779b1)));

function minhash(shingles: Set<number>): Uint32Array {
  const sig = new Uint32Array(MINHASH_K).fill(0xffffffff);
  for (const s of shingles) {
    for (let k = 0; k < MINHASH_K; k++) {
      const v = fmix32(s ^ SEEDS[k]);
      if (v < sig[k]) sig[k] = v;
    }
  }
  return sig;
}

/**
 * Groups `items` into near-duplicate families. Returns, per item id, the id of its family's
 * representative (the first item of the family in input order) — feed the items in a stable
 * order. `nameKey` (optional) also joins items whose keys are equal.
 */
export function nearDuplicateGroups(
  items: ReadonlyArray<{ id: string; text: string }>,
  opts: { threshold: number; nameKey?: (id: string) => string },
): Map<string, string> {
  const n = items.length;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  if (opts.nameKey) {
    const byName = new Map<string, number>();
    items.forEach((it, i) => {
      const k = opts.nameKey!(it.id);
      const first = byName.get(k);
      if (first === undefined) byName.set(k, i);
      else union(i, first);
    });
  }
  const wordIds = new Map<string, number>();
  const sets = items.map((it) => shingleHashes(it.text, wordIds));
  const sigs = sets.map((sh) => (sh.size > 0 ? minhash(sh) : undefined));
  const need = Math.ceil((opts.threshold - ESTIMATE_SLACK) * MINHASH_K);
  const checked = new Set<number>();
  for (let band = 0; band < MINHASH_K / BAND_ROWS; band++) {
    const buckets = new Map<string, number[]>();
    sigs.forEach((sig, i) => {
      if (!sig) return;
      let key = '';
      for (let r = 0; r < BAND_ROWS; r++) key += `${sig[band * BAND_ROWS + r]},`;
      const b = buckets.get(key);
      if (b) b.push(i);
      else buckets.set(key, [i]);
    });
    for (const bucket of buckets.values()) {
      for (let x = 0; x < bucket.length; x++) {
        for (let y = x + 1; y < bucket.length; y++) {
          const i = bucket[x];
          const j = bucket[y];
          const pairKey = i * n + j;
          if (checked.has(pairKey)) continue;
          checked.add(pairKey);
          if (find(i) === find(j)) continue;
          const a = sigs[i]!;
          const b = sigs[j]!;
          let eq = 0;
          for (let k = 0; k < MINHASH_K; k++) if (a[k] === b[k]) eq++;
          if (eq >= need && jaccard(sets[i], sets[j]) >= opts.threshold) union(i, j);
        }
      }
    }
  }
  const out = new Map<string, string>();
  items.forEach((it, i) => out.set(it.id, items[find(i)].id));
  return out;
}
