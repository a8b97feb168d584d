/**
 * `license-id` (law): from the opening of a licence text, choose the licence's name among four
 * (acc, acc_norm).
 *
 * Source: the law domain's held-out split, `@bam/core` `loadDomain('law', split)` (default
 * `test`): SPDX licence texts (`spdx-license-list`), split by licence family (same name key or
 * word 5-gram Jaccard ≥ 0.7), so no licence of a test family — nor a near-copy of its text — is
 * in training. Names are the SPDX list's full names (`BSL-1.0` → `Boost Software License 1.0`).
 * One document per licence (49 in the test split), in hash order of (`seed`, id), at most
 * `limit`.
 *
 * Prompt: the first `excerptChars` (default 400) characters of the text (cut at a word
 * boundary), then `\n\nQuestion: Which licence is this?\nAnswer:`; choices ` <name>`. The opening often names the
 * licence, so the task rewards reading the context as much as knowing licences (the test
 * families were never trained on). Distractors: names of three licences of *other* families in
 * the same split (never a sibling like GPL-2.0-only vs -or-later, whose texts are near-identical),
 * drawn with a PRNG seeded by (`seed`, id).
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import { defineMultipleChoiceTask } from '@bam/eval';
import { DataError, loadDomain } from '@bam/core';
import { excerpt, hashOrder, memoByOptions, pickDistinct, placeGold, rngFor, sampleOptions, type MultipleChoiceDoc } from './common.ts';

const require = createRequire(import.meta.url);

/** Options of `license-id`. */
export const LicenseIdOptionsSchema = z
  .object({
    ...sampleOptions(100),
    /** Characters of the licence's opening shown (cut at a word boundary). */
    excerptChars: z.number().int().min(50).default(400),
  })
  .strict();

/** Parsed options of `license-id`. */
export type LicenseIdOptions = z.infer<typeof LicenseIdOptionsSchema>;

/** A `license-id` document: a multiple-choice doc plus the SPDX id and licence family. */
export interface LicenseIdDoc extends MultipleChoiceDoc {
  spdxId: string;
  family: string;
}

/** SPDX id → full licence name, from `spdx-license-list`. */
export function spdxNames(): Map<string, string> {
  const list = require('spdx-license-list') as Record<string, { name: string }>;
  return new Map(Object.entries(list).map(([id, v]) => [id, v.name]));
}

/** The documents of `license-id`: deterministic for the options. */
export function licenseIdDocs(opts: LicenseIdOptions): LicenseIdDoc[] {
  const names = spdxNames();
  const licences = loadDomain('law', opts.split).map((d) => {
    const spdxId = d.id.replace(/^spdx\//, '');
    const name = names.get(spdxId);
    if (!name) throw new DataError(`license-id: no SPDX name for '${spdxId}'`, 'reinstall spdx-license-list (npm install)');
    return { id: d.id, spdxId, name, family: d.group ?? d.id, text: d.text };
  });
  const docs: LicenseIdDoc[] = [];
  for (const lic of hashOrder(licences, (l) => l.id, 'license-id-v1', opts.seed).slice(0, opts.limit)) {
    const rand = rngFor('license-id-v1', opts.seed, lic.id);
    const distractors = pickDistinct(licences, 3, rand, (o) => o.family !== lic.family && o.name !== lic.name, (o) => o.name).map((o) => ` ${o.name}`);
    if (distractors.length < 3) {
      throw new DataError(`license-id: the ${opts.split} split has too few licence families for 4 choices`, "use split: 'test'");
    }
    const { choices, gold } = placeGold(` ${lic.name}`, distractors, rand, `license-id ${lic.id}`);
    docs.push({
      id: lic.id,
      spdxId: lic.spdxId,
      family: lic.family,
      context: `${excerpt(lic.text, opts.excerptChars)}\n\nQuestion: Which licence is this?\nAnswer:`,
      choices,
      gold,
    });
  }
  return docs;
}

/** `license-id`: choose a held-out licence's name from the opening of its text. */
export const licenseId = defineMultipleChoiceTask<LicenseIdOptions, LicenseIdDoc>({
  id: 'license-id',
  version: 1,
  description: 'Law: from the opening of a held-out SPDX licence text, choose its name among 4 (other families as distractors). acc, acc_norm.',
  options: LicenseIdOptionsSchema,
  documents: memoByOptions(licenseIdDocs),
});
