/**
 * Law-domain text: the full texts of the SPDX licence list (npm `spdx-license-list`, CC0).
 *
 * The list is full of near-duplicates (GPL-2.0-only / GPL-2.0-or-later / GPL-2.0-with-…-exception,
 * CPL-1.0 / EPL-1.0, OpenSSL / SSLeay-standalone, …), so documents are split by **licence family**,
 * the connected components of two relations:
 *   1. the same name key (`licenseNameKey`: the id's first component, lower-cased — `GPL-2.0+`,
 *      `GPL-3.0-only` and `GPL-2.0-with-bison-exception` are all `gpl`; `CC-BY-SA-4.0` is `cc`);
 *   2. near-duplicate text: Jaccard similarity of word 5-gram sets >= 0.7 (`nearDuplicateGroups`;
 *      MinHash LSH finds the candidate pairs, the exact similarity decides; deterministic).
 * Every document of a family carries the family as its `group`, so no family crosses splits.
 */
import { createRequire } from 'node:module';
import { nearDuplicateGroups } from '../near-duplicates.ts';
import { tidyWhitespace, wellFormed } from '../source-files.ts';
import type { Doc } from '../types.ts';

const require = createRequire(import.meta.url);

/** Two licences whose word 5-gram Jaccard similarity reaches this are one family. */
export const LAW_NEAR_DUPLICATE_JACCARD = 0.7;

/** Name part of a licence family: the SPDX id's first component, lower-cased (`GPL-2.0-or-later` → `gpl`). */
export function licenseNameKey(spdxId: string): string {
  const first = spdxId.split(/[-.+]/)[0].toLowerCase();
  return first || spdxId.toLowerCase();
}

/**
 * Licence family of each SPDX id in `items` (id → family key). The key is the name key of the
 * family's alphabetically first member when `items` is sorted by id. Deterministic.
 */
export function licenseFamilies(items: ReadonlyArray<{ id: string; text: string }>): Map<string, string> {
  const rep = nearDuplicateGroups(items, { threshold: LAW_NEAR_DUPLICATE_JACCARD, nameKey: licenseNameKey });
  const out = new Map<string, string>();
  for (const it of items) out.set(it.id, licenseNameKey(rep.get(it.id)!));
  return out;
}

/** SPDX licences as documents `spdx/<SPDX-id>`, sorted by id, each with its family as `group`. */
export function loadLawCorpus(): Doc[] {
  const full = require('spdx-license-list/full') as Record<string, { name: string; licenseText: string }>;
  const items = Object.keys(full)
    .sort()
    .map((id) => ({ id, text: tidyWhitespace(wellFormed(full[id].licenseText ?? '')) }))
    .filter((it) => it.text.length > 0);
  const family = licenseFamilies(items);
  return items.map((it) => ({ id: `spdx/${it.id}`, text: it.text, group: `license-family/${family.get(it.id)}` }));
}
